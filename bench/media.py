"""`python -m bench.media`: media work on one core, and the proxy's ranges for a seeking browser.

- preview of a 200-frame 480x270 GIF and of a 10 s 720p H.264 clip: time on one core (the measuring process is
  pinned to CPU 0) and peak RSS growth over the process's RSS before the call (sampled every 2 ms);
- poster of a 60 s 1080p H.264 clip (what an upload does in the request: probe + first decodable frame + WebP);
- proxy: a 20 MB MP4 on embedded SeaweedFS behind the real app; 10 random open-ended `Range: bytes=N-` requests
  as a browser's seeks send them, each read to its end; the bytes read from storage are counted at the store.

`--update-docs` writes the table into docs/benchmarks.md between the media markers.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import av
import psutil
from PIL import Image, ImageDraw

from bench.machine import describe_machine
from bench.report import Report, _escape

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "benchmarks.md"
START = "<!-- bench:media:start -->"
END = "<!-- bench:media:end -->"
MIB = 1024 * 1024


def _frame(index: int, size: tuple[int, int], noise: bool = False) -> Image.Image:
    width, height = size
    if noise:
        return Image.frombytes("RGB", size, random.Random(index).randbytes(width * height * 3))
    image = Image.new("RGB", size, (20 + index % 200, 40, 90))
    draw = ImageDraw.Draw(image)
    x = (index * 7) % width
    draw.ellipse((x - height // 6, height // 3, x + height // 6, 2 * height // 3), fill=(240, 200, 40))
    draw.text((10, 10), f"frame {index}", fill=(255, 255, 255))
    return image


def make_gif(path: Path, frames: int = 200, size: tuple[int, int] = (480, 270)) -> None:
    images = [_frame(i, size) for i in range(frames)]
    images[0].save(path, save_all=True, append_images=images[1:], duration=40, loop=0)


def make_clip(
    path: Path, seconds: float, size: tuple[int, int], fps: int, *, noise: bool = False, crf: str = "28"
) -> None:
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=fps, options={"preset": "ultrafast", "crf": crf})
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        for i in range(round(seconds * fps)):
            for packet in stream.encode(av.VideoFrame.from_image(_frame(i, size, noise))):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


class PeakRss:
    """Samples this process's RSS every 2 ms while the block runs."""

    def __init__(self) -> None:
        self.process = psutil.Process()
        self.peak = 0
        self._stop = threading.Event()

    def __enter__(self) -> PeakRss:
        self.baseline = self.process.memory_info().rss
        self.peak = self.baseline
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.002)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.process.memory_info().rss)


def _measure_in_child(kind: str, path: str, mime: str, warm: str, results: Any) -> None:
    """One cold measurement in a fresh process pinned to CPU 0: RSS before the call (after imports and a warm-up
    on a tiny file, so libraries and codecs are loaded), the peak during it, wall and CPU time."""
    from reactbin.media.preview import make_preview
    from reactbin.media.video import video_with_poster

    os.sched_setaffinity(0, {0})

    def run(source: str) -> Any:
        if kind == "preview":
            return make_preview(Path(source), mime)
        return video_with_poster(Path(source), mime, 64_000_000, 60)

    run(warm)
    with PeakRss() as rss:
        wall, cpu = time.perf_counter(), time.process_time()
        made = run(path)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    summary = ""
    if kind == "preview":
        summary = f"{made.frame_count} frames {made.width}x{made.height}, {len(made.data) / 1024:.0f} KiB"
    results.put((wall, cpu, rss.peak - rss.baseline, summary))


def cold_runs(kind: str, path: Path, mime: str, warm: Path, reps: int) -> tuple[float, float, float, int, str]:
    """(median wall s, median CPU s, best wall s, highest RSS growth, summary) over `reps` fresh processes."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    runs = []
    for _ in range(reps):
        child = context.Process(target=_measure_in_child, args=(kind, str(path), mime, str(warm), results))
        child.start()
        runs.append(results.get(timeout=600))
        child.join()
    walls = [r[0] for r in runs]
    return (
        statistics.median(walls),
        statistics.median(r[1] for r in runs),
        min(walls),
        max(r[2] for r in runs),
        runs[0][3],
    )


def bench_local(report: Report, work: Path, reps: int) -> None:
    gif = work / "200-frames.gif"
    clip720 = work / "10s-720p.mp4"
    clip1080 = work / "60s-1080p.mp4"
    tiny_gif, tiny_clip = work / "tiny.gif", work / "tiny.mp4"
    print("making the sources (GIF, 10 s 720p, 60 s 1080p) ...", flush=True)
    make_gif(gif)
    make_gif(tiny_gif, frames=3, size=(48, 27))
    make_clip(clip720, 10, (1280, 720), 30)
    make_clip(clip1080, 60, (1920, 1080), 10)
    make_clip(tiny_clip, 0.5, (64, 36), 10)
    sources = (
        ("200-frame 480x270 GIF", gif, "image/gif", tiny_gif),
        ("10 s 720p H.264", clip720, "video/mp4", tiny_clip),
    )
    for name, path, mime, warm in sources:
        wall, cpu, _, growth, summary = cold_runs("preview", path, mime, warm, reps)
        report.add(
            "media",
            f"preview of a {name} ({path.stat().st_size / MIB:.1f} MiB), one core",
            f"{wall * 1000:.0f} ms wall, {cpu * 1000:.0f} ms CPU; {summary}",
        )
        report.add(
            "media",
            f"peak RSS growth, preview of a {name} (fresh process)",
            f"{growth / MIB:.1f} MiB",
            "< 64 MiB",
            growth < 64 * MIB,
        )
    from reactbin.media.placeholder import placeholder_of
    from reactbin.media.video import encode_thumbnail

    thumbnail = encode_thumbnail(_frame(3, (400, 225))).data
    placeholder_of(thumbnail)
    times = []
    for _ in range(20):
        began = time.process_time()
        placeholder_of(thumbnail)
        times.append(time.process_time() - began)
    report.add(
        "media",
        "ThumbHash placeholder of a 400x225 WebP thumbnail (in the upload request)",
        f"{statistics.median(times) * 1000:.1f} ms CPU median of 20",
    )
    wall, cpu, fastest, growth, _ = cold_runs("poster", clip1080, "video/mp4", tiny_clip, reps)
    report.add(
        "media",
        f"poster of a 60 s 1080p H.264 clip ({clip1080.stat().st_size / MIB:.1f} MiB): probe + first frame + WebP",
        f"{wall * 1000:.0f} ms median ({fastest * 1000:.0f} ms best), {cpu * 1000:.0f} ms CPU, "
        f"+{growth / MIB:.1f} MiB RSS, one core, fresh process",
        "< 500 ms",
        wall < 0.5,
    )


async def bench_proxy(report: Report, work: Path) -> None:
    import contextlib

    from litestar.testing import AsyncTestClient
    from tests.support.seaweedfs import EmbeddedSeaweedFS

    from reactbin.app import create_app
    from reactbin.embedded import EmbeddedPostgres
    from reactbin.settings import S3Settings, Settings
    from reactbin.storage import ObjectReader

    clip = work / "20mb.mp4"
    print("making a 20 MB MP4 ...", flush=True)
    make_clip(clip, 7, (640, 360), 10, noise=True, crf="8")
    data = clip.read_bytes()
    key_id, secret = "bench-access", "bench-secret-0123456789"
    postgres = EmbeddedPostgres(work / "pg", durable=False)
    weed = EmbeddedSeaweedFS(work / "s3", key_id, secret)
    postgres.start()
    weed.start()
    try:
        import boto3

        boto3.client(
            "s3", endpoint_url=weed.endpoint_url, aws_access_key_id=key_id, aws_secret_access_key=secret,
            region_name="us-east-1",
        ).create_bucket(Bucket="bench")  # fmt: skip
        settings = Settings(
            database_url=postgres.create_database("bench_media"),
            storage_backend="s3",
            s3=S3Settings(
                bucket="bench", endpoint_url=weed.endpoint_url, access_key_id=key_id, secret_access_key=secret
            ),
            run_worker=False,
        )
        import asyncpg

        from reactbin.db.migrations import migrate

        conn = await asyncpg.connect(settings.database_url)
        await migrate(conn)
        await conn.close()
        read = {"bytes": 0, "opens": []}
        async with AsyncTestClient(create_app(settings), timeout=60) as client:
            storage = client.app.state.resources.storage
            original_open = storage.open

            async def counting_open(key: str, byte_range: tuple[int, int] | None = None) -> ObjectReader:
                reader = await original_open(key, byte_range)
                read["opens"].append(byte_range)
                chunks = reader.chunks

                async def counted() -> AsyncIterator[bytes]:
                    async for chunk in chunks():
                        read["bytes"] += len(chunk)
                        yield chunk

                reader.chunks = counted  # type: ignore[method-assign]
                return reader

            storage.open = counting_open
            response = await client.post("/api/v1/images", files={"file": ("clip.mp4", data, "video/mp4")})
            assert response.status_code == 201, response.text
            url = response.json()["file_url"]
            rng = random.Random(20)
            served = 0
            times = []
            for _ in range(10):
                start = rng.randrange(len(data))
                began = time.perf_counter()
                part = await client.get(url, headers={"range": f"bytes={start}-"})
                times.append(time.perf_counter() - began)
                assert part.status_code == 206
                assert part.content == data[start:], "wrong bytes"
                served += len(part.content)
            offsets_right = all(r is not None and r[1] == len(data) - 1 for r in read["opens"])
        report.add(
            "media",
            f"proxy: {len(data) / MIB:.1f} MiB MP4, 10 random `Range: bytes=N-` requests (S3 store)",
            f"each 206 from its offset in a ranged GET: storage bytes read {read['bytes'] / MIB:.1f} MiB "
            f"= bytes served {served / MIB:.1f} MiB (a read from the start each time would be "
            f"{10 * len(data) / MIB:.0f} MiB); median {statistics.median(times) * 1000:.0f} ms per request",
            "read = served",
            read["bytes"] == served and offsets_right,
        )
    finally:
        with contextlib.suppress(Exception):
            weed.stop()
        with contextlib.suppress(Exception):
            postgres.stop()


def markdown(report: Report, machine: dict[str, str], seconds: float) -> str:
    out = [f"Command: `python -m bench.media` (finished in {seconds:.0f} s)", "", "| | |", "|---|---|"]
    out += [f"| {key} | {_escape(value)} |" for key, value in machine.items() if key != "wrk"]
    out += ["", "| measurement | result | target | verdict |", "|---|---|---|---|"]
    for row in report.rows:
        out.append(f"| {_escape(row.measurement)} | {_escape(row.result)} | {row.target} | {row.verdict} |")
    out += [f"- {_escape(note)}" for note in report.notes]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.media", description=__doc__)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--update-docs", action="store_true")
    args = parser.parse_args(argv)
    machine = describe_machine()
    report = Report()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="reactbin-bench-media-") as tmp:
        work = Path(tmp)
        bench_local(report, work, args.reps)
        asyncio.run(bench_proxy(report, work))
    print(report.table())
    if args.update_docs:
        block = markdown(report, machine, time.monotonic() - started)
        text = DOCS.read_text()
        generated = f"{START}\n{block}{END}"
        if START in text:
            head, _, rest = text.partition(START)
            text = head + generated + rest.partition(END)[2]
        else:
            text = text.rstrip("\n") + "\n\n## Media (`python -m bench.media`)\n\n" + generated + "\n"
        DOCS.write_text(text)
        print(f"updated {DOCS}")
    sys.exit(0 if all(row.verdict != "FAIL" for row in report.rows) else 1)


if __name__ == "__main__":
    main()
