"""`python -m bench.lighthouse`: Lighthouse 12 (mobile) on the library and an image page of a seeded library.

The library is what issue 18's review used: 26 captioned memes (PNG and JPEG), GIF and WebP animations, a video
and photos, uploaded through the API to the real stack (PostgreSQL, SeaweedFS, `reactbin serve` with its worker, so
thumbnails and previews exist); captions are set through the API as OCR would have read them. Lighthouse comes
from npm (bench/lighthouse/package.json, `npm ci` there) and drives Debian's Chromium. Each page is measured
`--runs` times; the table shows the median run by performance score. Run it alone on the machine:
`flock /work/bench.lock .venv/bin/python -m bench.lighthouse --update-docs`.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.fixtures import memes

from bench.machine import describe_machine
from bench.report import Report, update_docs
from bench.stack import BenchError, Stack
from reactbin.embedded import EmbeddedPostgres

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "benchmarks.md"
HERE = Path(__file__).resolve().with_name("lighthouse")
LIGHTHOUSE = HERE / "node_modules" / "lighthouse" / "cli" / "index.js"
MEDIA = ROOT / "tests" / "fixtures" / "media"
IMAGES = ROOT / "tests" / "fixtures" / "images"
CHROMIUM = "/usr/bin/chromium"
CHROME_FLAGS = "--headless=new --no-sandbox --disable-gpu --no-first-run --disable-background-networking"
CATEGORIES = ("performance", "accessibility", "best-practices", "seo")
SECTION = "lighthouse"
TARGETS = {"performance": 0.98, "accessibility": 1.0, "best-practices": 1.0, "seo": 1.0}
LCP_TARGET_MS = 2000
CLS_TARGET = 0.02


def ensure_lighthouse() -> None:
    if not LIGHTHOUSE.is_file():
        npm = shutil.which("npm")
        if npm is None:
            raise BenchError("npm is needed to install Lighthouse (bench/lighthouse/package.json)")
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=HERE, check=True, timeout=600)


def seed(stack: Stack, workdir: Path) -> dict[str, str]:
    """Upload the review's library; returns the ids of the pages to measure."""
    ids: dict[str, str] = {}
    files: list[tuple[Path, str, str, str | None]] = []
    for meme in memes.memes(26):
        jpeg = meme.index % 3 == 1
        slug = "-".join("".join(ch for ch in meme.caption if ch.isalnum() or ch == " ").split())
        path = workdir / f"{slug}.{'jpg' if jpeg else 'png'}"
        path.write_bytes(memes.jpeg_bytes(meme) if jpeg else memes.png_bytes(meme))
        tags = ",".join(meme.caption.split()[:2]).replace("'", "")
        files.append((path, "image/jpeg" if jpeg else "image/png", tags, " ".join(meme.lines).upper()))
    for name, mime, tags in (
        ("animated.gif", "image/gif", "dance,party"),
        ("animated.webp", "image/webp", "loop"),
        ("vp9-sound.webm", "video/webm", "clip,sound"),
    ):
        files.append((MEDIA / name, mime, tags, None))
    for name, mime, tags in (("photo.jpg", "image/jpeg", "photo"), ("rotated.jpg", "image/jpeg", "photo")):
        files.append((IMAGES / name, mime, tags, None))
    for path, mime, tags, caption in files:
        response = stack.upload(path, mime, tags)
        if response.get("status") not in (200, 201):
            raise BenchError(f"upload of {path.name} answered {response.get('status')}: {response.get('body')}")
        image_id = response["body"]["id"]
        if caption:
            _set_caption(stack, image_id, caption)
        ids.setdefault("detail", image_id)  # the first meme, "why not both"
    # Thumbnails are made on upload; previews by the worker, which may still be busy with the last ones.
    time.sleep(5)
    return ids


def _set_caption(stack: Stack, image_id: str, caption: str) -> None:
    server = stack.api()
    conn = http.client.HTTPConnection(server.host, server.port, timeout=30)
    try:
        body = json.dumps({"text": caption})
        conn.request("PATCH", f"/api/v1/images/{image_id}", body=body, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        if response.status != 200:
            raise BenchError(f"setting a caption answered {response.status}: {response.read()[:200]!r}")
    finally:
        conn.close()


def _lighthouse_version() -> str:
    package = json.loads((LIGHTHOUSE.parents[1] / "package.json").read_text())
    return str(package["version"])


def run_lighthouse(url: str, out: Path) -> dict[str, Any]:
    command = [
        "node",
        str(LIGHTHOUSE),
        url,
        f"--chrome-flags={CHROME_FLAGS}",
        f"--only-categories={','.join(CATEGORIES)}",
        "--output=json",
        f"--output-path={out}",
        "--quiet",
    ]
    env = {**os.environ, "CHROME_PATH": CHROMIUM}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)
    if done.returncode != 0 or not out.is_file():
        raise BenchError(f"lighthouse failed on {url}: {done.stderr.strip()[-800:]}")
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def summarise(result: dict[str, Any]) -> dict[str, Any]:
    audits = result["audits"]
    scores = {name: result["categories"][name]["score"] for name in CATEGORIES}
    failing = [
        f"{audit['id']} ({audit['score']})"
        for audit in audits.values()
        if audit.get("score") is not None
        and audit["score"] < 1
        and audit.get("scoreDisplayMode") in ("binary", "metricSavings", "numeric")
        and any(
            ref["id"] == audit["id"]
            for name in CATEGORIES
            for ref in result["categories"][name]["auditRefs"]
            if ref.get("weight", 0) > 0 or name != "performance"
        )
    ]
    return {
        "scores": scores,
        "lcp_ms": audits["largest-contentful-paint"]["numericValue"],
        "fcp_ms": audits["first-contentful-paint"]["numericValue"],
        "tbt_ms": audits["total-blocking-time"]["numericValue"],
        "cls": audits["cumulative-layout-shift"]["numericValue"],
        "speed_index_ms": audits["speed-index"]["numericValue"],
        "lcp_lazy": audits.get("lcp-lazy-loaded", {}).get("score"),
        "benchmark_index": result.get("environment", {}).get("benchmarkIndex"),
        "failing": failing,
        "bytes": audits["total-byte-weight"]["numericValue"],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.lighthouse", description=__doc__)
    parser.add_argument("--runs", type=int, default=3, help="Lighthouse runs per page (median by performance)")
    parser.add_argument("--update-docs", action="store_true", help=f"write the results into {DOCS}")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (JSON reports)")
    args = parser.parse_args(argv)
    ensure_lighthouse()
    started = time.monotonic()
    machine = describe_machine()
    report = Report()
    workdir = Path(tempfile.mkdtemp(prefix="reactbin-lighthouse-"))
    postgres = EmbeddedPostgres(workdir / "postgres", durable=False)
    postgres.start()
    stack = Stack(postgres, workdir, "lighthouse", "127.0.0.1")
    try:
        stack.start()
        ids = seed(stack, workdir)
        base = stack.api().base_url
        pages = {"library": f"{base}/", "detail": f"{base}/images/{ids['detail']}"}
        for page, url in pages.items():
            runs = [summarise(run_lighthouse(url, workdir / f"{page}-{n}.json")) for n in range(args.runs)]
            runs.sort(key=lambda run: run["scores"]["performance"])
            median = runs[len(runs) // 2]
            scores = median["scores"]
            perf_all = ", ".join(f"{run['scores']['performance'] * 100:.0f}" for run in runs)
            lcps = statistics.median(run["lcp_ms"] for run in runs)
            report.add(
                SECTION,
                f"{page} page: performance / accessibility / best practices / SEO (runs: {perf_all})",
                " / ".join(f"{scores[name] * 100:.0f}" for name in CATEGORIES)
                + (f"; below 1: {', '.join(median['failing'])}" if median["failing"] else ""),
                "98 / 100 / 100 / 100",
                all(scores[name] >= TARGETS[name] for name in CATEGORIES),
            )
            report.add(
                SECTION,
                f"{page} page: LCP, CLS",
                f"LCP {median['lcp_ms'] / 1000:.2f} s (median of runs {lcps / 1000:.2f} s), CLS {median['cls']:.3f}; "
                f"FCP {median['fcp_ms'] / 1000:.2f} s, TBT {median['tbt_ms']:.0f} ms, speed index "
                f"{median['speed_index_ms'] / 1000:.2f} s, {median['bytes'] / 1024:.0f} KiB transferred; "
                f"LCP image not lazy: {median['lcp_lazy'] in (1, None)}; benchmarkIndex {median['benchmark_index']}",
                "LCP <= 2.0 s, CLS <= 0.02",
                median["lcp_ms"] <= LCP_TARGET_MS and median["cls"] <= CLS_TARGET,
            )
    finally:
        stack.stop()
        postgres.stop()
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    report.note(
        "Each run: `CHROME_PATH=/usr/bin/chromium node bench/lighthouse/node_modules/lighthouse/cli/index.js URL "
        f"--chrome-flags='{CHROME_FLAGS}' --only-categories={','.join(CATEGORIES)} --output=json` (Lighthouse "
        f"{_lighthouse_version()}, its default mobile emulation: Moto G Power, simulated slow 4G, 4x CPU slowdown)."
    )
    report.note(
        "Library: 26 memes (PNG and JPEG, captions set as OCR reads them), a GIF, an animated WebP, a WebM with sound "
        "and two photos; the detail page is the first meme's."
    )
    seconds = time.monotonic() - started
    print()
    print(report.table())
    for note in report.notes:
        print(f"- {note}")
    if args.update_docs:
        command = "flock /work/bench.lock python -m bench.lighthouse " + shlex.join(
            argv if argv is not None else sys.argv[1:]
        )
        update_docs(DOCS, report.markdown(machine, command.strip(), seconds), name=SECTION)
        print(f"wrote {DOCS}")


if __name__ == "__main__":
    main()
