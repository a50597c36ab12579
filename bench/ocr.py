"""`python -m bench.ocr`: caption text (OCR) throughput, memory and recall on synthetic memes.

- Throughput: one OCR process (`CaptionReader`, as a worker runs it) reads 500x400 captioned JPEGs one after
  another, with onnxruntime on 1 thread (images/s per core) and on 2.
- RSS: the OCR process's peak resident memory (the model plus one image).
- Recall: every meme of `tests/fixtures/memes.py` is uploaded untagged to the real stack (`reactbin serve` with
  its in-process worker, PostgreSQL, SeaweedFS); once its text is read, the share whose OCR text contains the
  caption in compact form, and, where the API has the `q=` search, the share found in the top 3 of
  `GET /api/v1/images?q=<caption typed with normal spaces>`.

Run it under the shared lock: `flock /tmp/reactbin-bench.lock .venv/bin/python -m bench.ocr --update-docs`.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Any

from tests.fixtures import memes

from bench.machine import describe_machine
from bench.report import Report, update_docs
from bench.stack import BenchError, Stack
from reactbin.embedded import EmbeddedPostgres
from reactbin.media.ocr import CaptionReader, compact

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "benchmarks.md"
MIB = 1024 * 1024
SECTION = "ocr"


def run_throughput(report: Report, workdir: Path, rounds: int) -> None:
    files = []
    for meme in memes.memes():
        path = workdir / f"{meme.index:03d}.jpg"
        path.write_bytes(memes.jpeg_bytes(meme))
        files.append(path)
    for threads in (1, 2):
        reader = CaptionReader(threads=threads, frames=3, max_pixels=64_000_000)
        try:
            reader.read(files[0], "image/jpeg", timeout=120)  # starts the process and loads the model
            started = time.perf_counter()
            cpu = 0.0
            for _ in range(rounds):
                for path in files:
                    cpu += reader.read(path, "image/jpeg", timeout=120).cpu_seconds
            seconds = time.perf_counter() - started
        finally:
            reader.close()
        count = rounds * len(files)
        rate = count / seconds
        if threads == 1:
            # CPU time per image is what one core costs per image whatever else runs on the machine; wall-clock
            # rate on a shared machine is lower by however much the others take.
            per_core = count / cpu
            report.add(
                SECTION,
                "throughput per core: 1 onnxruntime thread, CPU time per image",
                f"{per_core:.2f} images/s ({cpu / count * 1000:.0f} ms CPU per 500x400 image)",
                ">= 3 images/s per core",
                per_core >= 3,
            )
            report.add(SECTION, "throughput, 1 thread, wall clock", f"{rate:.2f} images/s")
        else:
            report.add(
                SECTION,
                "throughput, 2 threads (one worker process), wall clock",
                f"{rate:.2f} images/s ({cpu / count * 1000:.0f} ms CPU per image)",
            )
        report.add(SECTION, f"OCR process peak RSS ({threads} thread(s))", f"{reader.peak_rss_bytes / MIB:.0f} MiB")


def _get_json(stack: Stack, path: str) -> Any:
    status, body = stack.api().request("GET", path)
    if status != 200:
        raise BenchError(f"GET {path} answered {status}: {body[:200]!r}")
    return json.loads(body)


def run_recall(report: Report, postgres: EmbeddedPostgres, workdir: Path) -> None:
    stack = Stack(postgres, workdir, "ocr", "127.0.0.1")
    stack.extra_env = {"RUN_OCR": "true", "RUN_WORKER": "true", "OCR_THREADS": "1"}
    try:
        stack.start()
        chosen = memes.memes()
        uploaded: list[tuple[memes.Meme, str, float]] = []
        for meme in chosen:
            path = workdir / meme.filename
            path.write_bytes(memes.png_bytes(meme))
            response = stack.upload(path, "image/png", "")
            if response.get("status") != 201:
                raise BenchError(f"upload of {meme.filename} answered {response.get('status')}")
            uploaded.append((meme, response["body"]["id"], time.monotonic()))
        texts: dict[str, dict[str, Any]] = {}
        deadline = time.monotonic() + 600
        while len(texts) < len(uploaded) and time.monotonic() < deadline:
            for _, image_id, _ in uploaded:
                if image_id not in texts:
                    image = _get_json(stack, f"/api/v1/images/{image_id}")
                    if image["text_status"] != "pending":
                        texts[image_id] = image
            time.sleep(0.2)
        read = sum(
            1
            for meme, image_id, _ in uploaded
            if image_id in texts and compact(meme.caption) in compact(texts[image_id]["text"] or "")
        )
        failed = sum(1 for image in texts.values() if image["text_status"] == "failed")
        report.add(
            SECTION,
            f"caption read: OCR text contains the caption (compact form), {len(uploaded)} memes",
            f"{read}/{len(uploaded)} = {read / len(uploaded):.0%} ({failed} failed, "
            f"{len(uploaded) - len(texts)} unread)",
            ">= 90%",
            read / len(uploaded) >= 0.9,
        )
        misses = [
            f"{meme.caption!r} → {(texts.get(image_id) or {}).get('text')!r}"
            for meme, image_id, _ in uploaded
            if image_id not in texts or compact(meme.caption) not in compact(texts[image_id]["text"] or "")
        ]
        if misses:
            report.note("OCR misses: " + "; ".join(misses))
        schema = _get_json(stack, "/api/docs/openapi.json")
        params = schema["paths"]["/api/v1/images"]["get"].get("parameters", [])
        if not any(param.get("name") == "q" for param in params):
            report.add(SECTION, "search recall: top 3 of ?q=<caption>", "n/a: this build has no q= search yet")
            return
        found = 0
        latencies: list[float] = []
        for meme, image_id, _ in uploaded:
            query = urllib.parse.urlencode({"q": meme.caption, "limit": 3})
            started = time.perf_counter()
            items = _get_json(stack, f"/api/v1/images?{query}")["items"]
            latencies.append(time.perf_counter() - started)
            found += any(item["id"] == image_id for item in items[:3])
        report.add(
            SECTION,
            f"search recall: top 3 of ?q=<caption>, {len(uploaded)} memes",
            f"{found}/{len(uploaded)} = {found / len(uploaded):.0%} "
            f"(median {statistics.median(latencies) * 1000:.1f} ms per query)",
            ">= 90%",
            found / len(uploaded) >= 0.9,
        )
    finally:
        stack.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ocr", description=__doc__)
    parser.add_argument("--rounds", type=int, default=2, help="passes over the memes for throughput")
    parser.add_argument("--no-recall", action="store_true", help="skip the recall run on the real stack")
    parser.add_argument("--update-docs", action="store_true", help=f"write the results into {DOCS}")
    args = parser.parse_args(argv)
    machine = describe_machine()
    report = Report()
    load = os.getloadavg()[0]
    report.note(
        f"Load average {load:.1f} at the start on {os.cpu_count()} CPUs"
        + (": other work shared the machine, figures are lower than on an idle one" if load > 0.5 else "")
    )
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="reactbin-bench-ocr-") as tmp:
        workdir = Path(tmp)
        run_throughput(report, workdir, args.rounds)
        if not args.no_recall:
            postgres = EmbeddedPostgres(workdir / "postgres", durable=False)
            postgres.start()
            try:
                run_recall(report, postgres, workdir)
            finally:
                postgres.stop()
    seconds = time.monotonic() - started
    print()
    print(report.table())
    for note in report.notes:
        print(f"- {note}")
    if args.update_docs:
        command = "python -m bench.ocr " + shlex.join(argv if argv is not None else sys.argv[1:])
        update_docs(DOCS, report.markdown(machine, command.strip(), seconds), name="ocr")
        print(f"wrote {DOCS}")


if __name__ == "__main__":
    main()
