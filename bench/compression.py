"""The cost of compressing text responses: CPU per body at each level, and list requests/s with and without it."""

from __future__ import annotations

import statistics
import time
import zlib
from collections.abc import Callable
from typing import TYPE_CHECKING

import brotli

from bench.measure import WrkResult, combine_wrk, ensure_wrk, run_wrk
from bench.report import Report
from bench.seed import seed_images
from bench.stack import BenchError
from reactbin.routes.compression import BROTLI_QUALITY, GZIP_LEVEL, MIN_BYTES

if TYPE_CHECKING:
    from bench.cli import Loopback, Plan

SECTION = "compression"
LEVELS: list[tuple[str, Callable[[bytes], bytes]]] = [
    ("gzip 1", lambda data: zlib.compress(data, 1, wbits=31)),
    ("gzip 6", lambda data: zlib.compress(data, 6, wbits=31)),
    ("gzip 9", lambda data: zlib.compress(data, 9, wbits=31)),
    ("br 1", lambda data: bytes(brotli.compress(data, quality=1))),
    ("br 4", lambda data: bytes(brotli.compress(data, quality=4))),
    ("br 5", lambda data: bytes(brotli.compress(data, quality=5))),
    ("br 6", lambda data: bytes(brotli.compress(data, quality=6))),
    ("br 11", lambda data: bytes(brotli.compress(data, quality=11))),
]


def _cpu_per_call(function: Callable[[bytes], bytes], data: bytes, seconds: float = 0.5) -> float:
    """Median process CPU time of one call, over as many calls as fit in `seconds` (at least 5)."""
    times: list[float] = []
    deadline = time.monotonic() + seconds
    while len(times) < 5 or time.monotonic() < deadline:
        started = time.process_time_ns()
        function(data)
        times.append((time.process_time_ns() - started) / 1e9)
    return statistics.median(times)


def run_compression(report: Report, loop: Loopback, plan: Plan) -> None:
    """Level choice on the API's real JSON, then the list route under wrk without, with gzip and with brotli."""
    ensure_wrk()
    if loop.stack.server is None:
        loop.stack.start_server()
    server = loop.stack.api()
    seed_images(loop.stack.database_url, 1000)
    report.note(
        f"Compression: responses of at least {MIN_BYTES} B whose type is text or JSON; brotli quality "
        f"{BROTLI_QUALITY}, gzip level {GZIP_LEVEL}; the UI's JS, CSS and HTML are compressed at build time "
        "(brotli 11, gzip 9) and sent as they are."
    )
    bodies = {}
    for limit in (50, 200):
        path = f"/api/v1/images?limit={limit}"
        status, body = server.request("GET", path)
        if status != 200 or body.count(b'"file_url"') != limit:
            raise BenchError(f"GET {path} answered {status}: {body[:200]!r}")
        bodies[limit] = body
    for limit, body in bodies.items():
        cells = []
        for name, function in LEVELS:
            size = len(function(body))
            cells.append(f"{name}: {_cpu_per_call(function, body) * 1e6:,.0f} µs → {size / 1024:.1f} KiB")
        report.add(SECTION, f"GET /images?limit={limit}: {len(body) / 1024:.1f} KiB of JSON", "; ".join(cells))

    rounds = plan.wrk_rounds
    seconds = max(1, plan.wrk_seconds // rounds)
    shape = f"wrk -t{plan.wrk_threads} -c{plan.wrk_connections}, {rounds}x{seconds} s"
    path = "/api/v1/images?limit=50"
    loads = {"identity": (), "gzip": ("Accept-Encoding: gzip",), "br": ("Accept-Encoding: br",)}
    runs: dict[str, list[WrkResult]] = {name: [] for name in loads}
    for _ in range(rounds):
        for name, headers in loads.items():
            runs[name].append(
                run_wrk(
                    server.base_url + path,
                    seconds=seconds,
                    threads=plan.wrk_threads,
                    connections=plan.wrk_connections,
                    headers=headers,
                    cpus=plan.wrk_cpus,
                )
            )
    results = {name: combine_wrk(found) for name, found in runs.items()}
    plain = results["identity"].requests_per_second
    for name, result in results.items():
        _, wire = server.request("GET", path, headers={"Accept-Encoding": name})
        share = result.requests_per_second / plain
        lat = result.latency_ms
        errors = f"; {result.errors}" if result.errors else ""
        report.add(
            SECTION,
            f"GET {path}, Accept-Encoding: {name} ({shape})",
            f"{result.requests_per_second:,.0f} req/s ({share:.0%} of identity), p50 {lat['50']:.2f} ms, "
            f"p99 {lat['99']:.2f} ms; {len(wire) / 1024:.1f} KiB on the wire{errors}",
            ">= 85% of identity" if name != "identity" else "",
            share >= 0.85 and not result.errors if name != "identity" else None,
        )
