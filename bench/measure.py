"""Measuring helpers: percentiles, a process-tree RSS sampler and a `wrk` runner."""

from __future__ import annotations

import contextlib
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from bench.stack import BenchError

MIB = 1024 * 1024


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty sequence."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


class RssSampler:
    """Samples the summed RSS of a process and all its descendants every `interval` seconds in a thread."""

    def __init__(self, processes: Callable[[], list[psutil.Process]], interval: float = 0.02) -> None:
        self._processes = processes
        self.interval = interval
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def rss(self) -> int:
        total = 0
        for proc in self._processes():
            with contextlib.suppress(psutil.Error):
                total += proc.memory_info().rss
        return total

    def _run(self) -> None:
        deadline = time.monotonic() + 600  # bounded even if stop() is never called
        while not self._stop.is_set() and time.monotonic() < deadline:
            self.samples.append((time.monotonic(), self.rss()))
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def peak(self) -> int:
        return max(rss for _, rss in self.samples)


@dataclass
class MemoryResult:
    baseline: int
    peak: int
    after: int
    samples: int
    seconds: float

    @property
    def growth(self) -> int:
        return self.peak - self.baseline


def measure_memory(processes: Callable[[], list[psutil.Process]], action: Callable[[], object]) -> MemoryResult:
    """RSS of the process tree while `action` runs: baseline = median of 0.5 s before, peak, value 0.5 s after."""
    probe = RssSampler(processes)
    before = []
    for _ in range(25):
        before.append(probe.rss())
        time.sleep(0.02)
    baseline = int(median(before))
    started = time.monotonic()
    with RssSampler(processes) as sampler:
        action()
        seconds = time.monotonic() - started
        time.sleep(0.5)
    after = sampler.samples[-1][1] if sampler.samples else baseline
    return MemoryResult(
        baseline=baseline,
        peak=max(sampler.peak(), baseline),
        after=after,
        samples=len(sampler.samples),
        seconds=seconds,
    )


@dataclass
class WrkResult:
    url: str
    requests_per_second: float
    latency_ms: dict[str, float]
    requests: int
    errors: str = ""
    command: list[str] = field(default_factory=list)


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if match is None:
        raise BenchError(f"cannot read wrk latency {text!r}")
    return float(match[1]) * _UNITS[match[2]]


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def ensure_wrk() -> None:
    """Install Debian's wrk when it is missing, the way `make test` installs Chromium (needs root and apt-get)."""
    if wrk_available():
        return
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        raise BenchError("wrk is not installed and cannot be installed here: run `apt-get install -y wrk` as root")
    print("installing Debian's wrk for the http section", file=sys.stderr)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "wrk"]):
        if subprocess.run(command, env=env, stdout=subprocess.DEVNULL, check=False).returncode != 0:
            raise BenchError(f"`{' '.join(command)}` failed: install wrk by hand")
    if not wrk_available():
        raise BenchError("apt-get installed no wrk")


def run_wrk(
    url: str,
    *,
    seconds: int,
    threads: int,
    connections: int,
    headers: Sequence[str] = (),
    cpus: str | None = None,
    script: Path | None = None,
    script_args: Sequence[str] = (),
) -> WrkResult:
    """Run wrk with --latency and parse requests/s and the latency percentiles it prints.

    `script` is a wrk Lua script (e.g. one that sends pre-signed requests) and `script_args` its arguments.
    """
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "5s"]
    for header in headers:
        command += ["-H", header]
    if script is not None:
        command += ["-s", str(script)]
    command.append(url)
    if script_args:
        command += ["--", *script_args]
    if cpus is not None:
        command = ["taskset", "-c", cpus, *command]
    result = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 30, check=False)
    out = result.stdout
    if result.returncode != 0:
        raise BenchError(f"wrk failed: {result.stderr.strip() or out.strip()}")
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    if rps is None or total is None:
        raise BenchError(f"cannot read wrk output:\n{out}")
    latency = {q: _ms(v) for q, v in re.findall(r"^\s+(50|75|90|99)%\s+(\S+)", out, re.MULTILINE)}
    problems = [line.strip() for line in out.splitlines() if "Non-2xx" in line or "Socket errors" in line]
    return WrkResult(
        url=url,
        requests_per_second=float(rps[1]),
        latency_ms=latency,
        requests=int(total[1]),
        errors="; ".join(problems),
        command=command,
    )


def combine_wrk(results: Sequence[WrkResult]) -> WrkResult:
    """Several rounds of the same load as one: mean requests/s, median p50..p90, worst p99."""
    first = results[0]
    latency = {q: median([r.latency_ms[q] for r in results]) for q in ("50", "75", "90")}
    latency["99"] = max(r.latency_ms["99"] for r in results)
    return WrkResult(
        url=first.url,
        requests_per_second=sum(r.requests_per_second for r in results) / len(results),
        latency_ms=latency,
        requests=sum(r.requests for r in results),
        errors="; ".join(r.errors for r in results if r.errors),
        command=first.command,
    )
