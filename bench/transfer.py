"""The `import` and `share` sections: `reactbin import` of a folder of small JPEGs, and the chat unfurl page.

Both run on their own stack (database, SeaweedFS, `reactbin serve`), so the seeded library of the `http` section
never mixes with the imported one.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from bench.images import reaction_folder
from bench.measure import MIB, RssSampler, WrkResult, combine_wrk, median, run_wrk, wrk_available
from bench.report import Report
from bench.stack import BIN, BenchError, Stack
from reactbin.embedded import EmbeddedPostgres

_SUMMARY = re.compile(r"^imported (\d+), duplicates (\d+), rejected (\d+) of (\d+) file")


@dataclass(frozen=True)
class ImportRun:
    imported: int
    duplicates: int
    rejected: int
    seconds: float
    rss_baseline: int
    rss_peak: int
    server_cpu: float
    """CPU seconds the server process tree spent during the run (user + system)."""

    @property
    def files_per_second(self) -> float:
        return (self.imported + self.duplicates) / self.seconds


class TransferBench:
    """A stack with an empty library and a folder of distinct JPEGs made for it."""

    def __init__(self, postgres: EmbeddedPostgres, workdir: Path, count: int) -> None:
        self.stack = Stack(postgres, workdir, "transfer", "127.0.0.1")
        self.folder = workdir / "import-folder"
        self.count = count
        self.folder_bytes = 0
        self.started = False

    def start(self) -> None:
        if self.started:
            return
        made = time.monotonic()
        self.folder_bytes = reaction_folder(self.folder, self.count)
        self.made_in = time.monotonic() - made
        self.stack.start()
        self.started = True

    def stop(self) -> None:
        if self.started:
            self.stack.stop()

    def empty_library(self) -> None:
        async def truncate() -> None:
            conn = await asyncpg.connect(self.stack.database_url)
            try:
                await conn.execute("TRUNCATE images CASCADE")
            finally:
                await conn.close()

        asyncio.run(truncate())

    def run_import(self, jobs: int) -> ImportRun:
        server = self.stack.api()
        command = [str(BIN / "reactbin"), "import", str(self.folder), "--tags-from-folders", "--jobs", str(jobs)]
        command += ["--server", server.base_url]
        probe = RssSampler(server.processes)
        baseline = int(median([probe.rss() for _ in range(10)]))
        cpu_before = server.cpu_seconds()
        started = time.monotonic()
        with RssSampler(server.processes, interval=0.1) as sampler:
            done = subprocess.run(command, capture_output=True, text=True, timeout=1800, check=False)
        seconds = time.monotonic() - started
        server_cpu = server.cpu_seconds() - cpu_before
        first = done.stdout.splitlines()[0] if done.stdout else ""
        match = _SUMMARY.match(first)
        if match is None or done.returncode not in (0, 1):
            raise BenchError(f"reactbin import failed ({done.returncode}): {done.stderr.strip()[-1500:]}")
        imported, duplicates, rejected, total = (int(group) for group in match.groups())
        if rejected or total != self.count:
            raise BenchError(f"reactbin import rejected files: {done.stdout[-1500:]}")
        return ImportRun(imported, duplicates, rejected, seconds, baseline, sampler.peak(), server_cpu)


def run_import_section(report: Report, bench: TransferBench, jobs_list: tuple[int, ...]) -> None:
    section = "import"
    bench.start()
    report.note(
        f"Import folder: {bench.count:,} distinct JPEGs, 800x600 (gradient, shapes, light grain), "
        f"{bench.folder_bytes / bench.count / 1024:.0f} KiB "
        f"on average ({bench.folder_bytes / MIB:.0f} MiB), in 10 sub-folders; made in {bench.made_in:.0f} s. "
        "Server: one `reactbin serve` process (thumbnails are made in the upload request), SeaweedFS S3 and "
        "PostgreSQL on the same machine; `reactbin import` as a separate process, wall time including its start."
    )
    best: ImportRun | None = None
    runs: list[ImportRun] = []
    for jobs in jobs_list:
        bench.empty_library()
        result = bench.run_import(jobs)
        if result.imported != bench.count:
            raise BenchError(f"--jobs {jobs} imported {result.imported} of {bench.count}")
        report.add(
            section,
            f"reactbin import of {bench.count:,} new ~100 KiB JPEGs, --jobs {jobs}",
            f"{result.files_per_second:.1f} images/s ({result.seconds:.1f} s); server CPU "
            f"{1000 * result.server_cpu / result.imported:.1f} ms per image; server RSS "
            f"{result.rss_baseline / MIB:.0f} -> peak {result.rss_peak / MIB:.0f} MiB",
        )
        runs.append(result)
        if best is None or result.files_per_second > best.files_per_second:
            best = result
    assert best is not None
    report.add(
        section,
        "best import rate",
        f"{best.files_per_second:.1f} images/s",
        ">= 40 images/s",
        best.files_per_second >= 40,
    )
    per_image = min(1000 * run.server_cpu / run.imported for run in runs)
    report.add(
        section,
        "server CPU per new image (the server process's user + system time over the run / images)",
        f"{per_image:.1f} ms",
        "<= 25 ms",
        per_image <= 25,
    )
    jobs = max(jobs_list)
    again = bench.run_import(jobs)
    report.add(
        section,
        f"second run over the same folder (all known by hash, no bytes sent), --jobs {jobs}",
        f"{again.files_per_second:.0f} files/s ({again.seconds:.1f} s, {again.duplicates:,} duplicates); "
        f"server RSS peak {again.rss_peak / MIB:.0f} MiB",
        ">= 300 files/s",
        again.duplicates == bench.count and again.imported == 0 and again.files_per_second >= 300,
    )


def run_share_section(report: Report, bench: TransferBench, *, seconds: int, threads: int, connections: int) -> None:
    section = "share"
    if not wrk_available():
        raise BenchError("wrk is not installed (apt-get install -y wrk)")
    bench.start()
    server = bench.stack.api()
    status, body = server.request("GET", "/api/v1/images?limit=1")
    if status != 200 or b'"id"' not in body:  # run without the import section: import the folder first
        bench.run_import(4)
        status, body = server.request("GET", "/api/v1/images?limit=1")
    match = re.search(rb'"id":"([0-9a-f-]{36})"', body)
    if match is None:
        raise BenchError(f"no image to share: {body[:300]!r}")
    page = f"/i/{match[1].decode()}"
    status, html = server.request("GET", page)
    if status != 200 or b'property="og:image"' not in html:
        raise BenchError(f"GET {page} answered {status}: {html[:300]!r}")
    rounds = 2
    hello_results: list[WrkResult] = []
    share_results: list[WrkResult] = []
    # Alternating rounds, so drift from other work on the machine hits both loads alike.
    for _ in range(rounds):
        for results, path in ((hello_results, "/api/v1/health"), (share_results, page)):
            results.append(
                run_wrk(
                    server.base_url + path, seconds=max(1, seconds // rounds), threads=threads, connections=connections
                )
            )
    hello, share = combine_wrk(hello_results), combine_wrk(share_results)
    shape = f"wrk -t{threads} -c{connections}, {rounds}x{max(1, seconds // rounds)} s"

    def line(result: WrkResult) -> str:
        lat = result.latency_ms
        text = f"{result.requests_per_second:,.0f} req/s, p50 {lat['50']:.2f} ms, p99 {lat['99']:.2f} ms"
        return text + (f"; {result.errors}" if result.errors else "")

    report.add(section, f"hello-world baseline: GET /api/v1/health ({shape})", line(hello))
    ratio = share.requests_per_second / hello.requests_per_second
    report.add(
        section,
        f"share page: GET /i/{{id}} (HTML with Open Graph tags, card from memory; {shape})",
        line(share) + f" = {ratio:.0%} of hello-world",
        ">= 50% of hello-world",
        ratio >= 0.5 and not share.errors,
    )
