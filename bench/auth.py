"""The cost of accounts: `GET /images` signed in (cookie, API key) beside the same request on an open library, and
what one password sign-in costs (argon2id time and memory, and `POST /session` over HTTP).

The open library and the signed-in library are the same database at different moments: each round deletes every
user (the library is open again; every replica is told with the same NOTIFY the service sends), measures, then
creates a user, a session and a key (the library closes) and measures again. Rounds alternate, so drift on a shared
machine hits every load alike. The same rounds run once more with `AUTH_CACHE=false` (every credential looked up per
request) to show what the per-process cache buys.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import asyncpg
import httpx

from bench.measure import WrkResult, combine_wrk, ensure_wrk, run_wrk
from bench.report import Report
from bench.seed import seed_images
from bench.stack import BenchError
from reactbin.db.accounts import ACCOUNTS_CHANNEL
from reactbin.domain import accounts, passwords
from reactbin.domain.resources import open_resources
from reactbin.settings import Settings

if TYPE_CHECKING:
    from bench.cli import Loopback, Plan

PASSWORD = "bench-password-0123456789"
LIST_PATH = "/api/v1/images?limit=50"


@dataclass(frozen=True)
class Credentials:
    cookie: str
    key: str


async def _open_library(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("DELETE FROM users")
        await conn.execute("SELECT pg_notify($1, '*')", ACCOUNTS_CHANNEL)
    finally:
        await conn.close()


async def _close_library(dsn: str, workdir: Path) -> Credentials:
    """A fresh user with a new session and key (any earlier ones are deleted first)."""
    await _open_library(dsn)
    settings = Settings(database_url=dsn, storage_dir=workdir / "unused-objects")
    async with open_resources(settings, cpu_threads=1, serving=False) as res:
        user = await accounts.create_user(res, "bench", "member", PASSWORD)
        session = await accounts.start_session(res, user.id)
        key = await accounts.create_key(res, user.id, "bench", "full")
    return Credentials(cookie=session.session_id, key=key.key)


def _line(result: WrkResult) -> str:
    lat = result.latency_ms
    text = f"{result.requests_per_second:,.0f} req/s, p50 {lat['50']:.2f} ms, p99 {lat['99']:.2f} ms"
    return text + (f"; {result.errors}" if result.errors else "")


def run_auth(report: Report, loop: Loopback, plan: Plan) -> None:
    section = "auth"
    ensure_wrk()
    stack = loop.stack
    dsn = stack.database_url
    stored = asyncio.run(_count_images(dsn))
    if stored < 1000:
        seed_images(dsn, 5000)
    # Twice the rounds of half the length: the loads compared here differ by a few percent, less than the drift of a
    # shared machine over a minute, so they are interleaved as finely as wrk's warm-up allows.
    rounds, seconds = plan.wrk_rounds * 2, max(2, plan.wrk_seconds // 2)
    shape = f"wrk -t{plan.wrk_threads} -c{plan.wrk_connections}, {rounds}x{seconds} s per load"

    for cached in (True, False):
        stack.extra_env = {"AUTH_CACHE": "true" if cached else "false"}
        server = stack.start_server()
        runs: dict[str, list[WrkResult]] = {"open": [], "anonymous": [], "cookie": [], "key": []}
        for round_ in range(rounds):
            # Odd rounds measure the signed-in loads first, so neither side always runs right after a switch.
            if round_ % 2 == 0:
                asyncio.run(_open_library(dsn))
                runs["open"].append(_wrk(server.base_url, (), plan, seconds))
            credentials = asyncio.run(_close_library(dsn, loop.workdir))
            loads = {
                "cookie": (f"Cookie: reactbin_session={credentials.cookie}",),
                "key": (f"Authorization: Bearer {credentials.key}",),
                "anonymous": (),
            }
            for name, headers in loads.items():
                status, body = server.request("GET", LIST_PATH, headers=dict(h.split(": ", 1) for h in headers))
                if status != 200 or body.count(b'"file_url"') != 50:
                    raise BenchError(f"GET {LIST_PATH} as {name} answered {status}: {body[:300]!r}")
                runs[name].append(_wrk(server.base_url, headers, plan, seconds))
            if round_ % 2 == 1:
                asyncio.run(_open_library(dsn))
                runs["open"].append(_wrk(server.base_url, (), plan, seconds))
        results = {name: combine_wrk(found) for name, found in runs.items()}
        base = results["open"].requests_per_second
        mode = "cache on (default)" if cached else "AUTH_CACHE=false: every credential looked up per request"
        report.add(section, f"GET /images?limit=50, open library, {mode} ({shape})", _line(results["open"]))
        for name, label in (
            ("anonymous", "anonymous read of a library with users (PUBLIC_READ=true)"),
            ("cookie", "with a session cookie"),
            ("key", "with an API key"),
        ):
            share = results[name].requests_per_second / base
            report.add(
                section,
                f"GET /images?limit=50 {label}, {mode}",
                _line(results[name]) + f" = {share:.0%} of the open library",
                "within 10% of open" if cached and name != "anonymous" else "",
                (share >= 0.9 and not results[name].errors) if cached and name != "anonymous" else None,
            )
    stack.extra_env = {}
    server = stack.start_server()
    _sign_in_costs(report, section, server.base_url, dsn, loop.workdir)


def _wrk(base_url: str, headers: tuple[str, ...], plan: Plan, seconds: int) -> WrkResult:
    return run_wrk(
        base_url + LIST_PATH,
        seconds=seconds,
        threads=plan.wrk_threads,
        connections=plan.wrk_connections,
        headers=headers,
        cpus=plan.wrk_cpus,
    )


async def _count_images(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        count: int = await conn.fetchval("SELECT count(*) FROM images")
        return count
    finally:
        await conn.close()


# A fresh interpreter with argon2 alone, so nothing else moves its peak; the parameters are the service's. VmHWM, not
# ru_maxrss: Linux carries ru_maxrss over from the parent across exec (the benchmark process is large).
_MEMORY_PROBE = """
import json, sys
from argon2 import PasswordHasher, Type

def peak_kib():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))

hasher = PasswordHasher(time_cost=int(sys.argv[1]), memory_cost=int(sys.argv[2]), parallelism=int(sys.argv[3]),
                        type=Type.ID)
before = peak_kib()
hasher.hash("bench-password-0123456789")
print(json.dumps({"kib": peak_kib() - before}))
"""


def _sign_in_costs(report: Report, section: str, base_url: str, dsn: str, workdir: Path) -> None:
    params = f"argon2id m={passwords.MEMORY_KIB // 1024} MiB, t={passwords.TIME_COST}, p={passwords.PARALLELISM}"
    stored = passwords.hash_password(PASSWORD)
    times = []
    for _ in range(20):
        started = time.perf_counter()
        if not passwords.verify_password(stored, PASSWORD).matches:
            raise BenchError("argon2 did not verify its own hash")
        times.append(time.perf_counter() - started)
    report.add(
        section,
        f"one password check, {params} (in-process, 20 checks)",
        f"median {statistics.median(times) * 1000:.1f} ms, max {max(times) * 1000:.1f} ms",
    )
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            _MEMORY_PROBE,
            str(passwords.TIME_COST),
            str(passwords.MEMORY_KIB),
            str(passwords.PARALLELISM),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if probe.returncode != 0:
        raise BenchError(f"memory probe failed: {probe.stderr[-500:]}")
    measured = json.loads(probe.stdout)
    report.add(
        section,
        f"memory of one password hash, {params} (peak RSS growth of a fresh process)",
        f"+{measured['kib'] / 1024:.1f} MiB",
    )

    asyncio.run(_open_library(dsn))
    asyncio.run(_close_library(dsn, workdir))
    latencies = []
    with httpx.Client(base_url=base_url, timeout=30) as client:
        for _ in range(20):
            started = time.perf_counter()
            response = client.post("/api/v1/session", json={"username": "bench", "password": PASSWORD})
            latencies.append(time.perf_counter() - started)
            if response.status_code != 200:
                raise BenchError(f"sign-in answered {response.status_code}: {response.text[:200]}")
            client.cookies.clear()
    latencies.sort()
    report.add(
        section,
        "POST /api/v1/session over HTTP, one at a time (20 sign-ins)",
        f"median {statistics.median(latencies) * 1000:.1f} ms, p90 {latencies[17] * 1000:.1f} ms",
    )
