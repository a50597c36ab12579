"""Fixed-window rate limits: per process by default, or shared through PostgreSQL by every replica."""

from __future__ import annotations

import logging
import random
import time
from typing import Protocol

import asyncpg
import msgspec

from reactbin.db import ratelimits as db
from reactbin.db.pool import acquire
from reactbin.errors import DatabaseUnavailable
from reactbin.settings import RateLimit

log = logging.getLogger(__name__)


class Verdict(msgspec.Struct, frozen=True):
    allowed: bool
    limit: int
    remaining: int
    reset_in: int
    window: int


class RateLimiter(Protocol):
    async def hit(self, key: str) -> Verdict:
        """Count a request for `key` and say whether it may go ahead."""
        ...


def _verdict(rule: RateLimit, count: int, window_start: int, now: float) -> Verdict:
    return Verdict(
        allowed=count <= rule.requests,
        limit=rule.requests,
        remaining=max(0, rule.requests - count),
        reset_in=max(1, int(window_start + rule.seconds - now)),
        window=rule.seconds,
    )


class MemoryRateLimiter:
    """Counts in this process only: with several replicas each one allows the full rate."""

    def __init__(self, rule: RateLimit) -> None:
        self._rule = rule
        self._windows: dict[str, tuple[int, int]] = {}

    async def hit(self, key: str) -> Verdict:
        now = time.time()
        window_start = int(now // self._rule.seconds * self._rule.seconds)
        start, count = self._windows.get(key, (window_start, 0))
        count = count + 1 if start == window_start else 1
        self._windows[key] = (window_start, count)
        if len(self._windows) > 100_000:
            self._windows = {k: v for k, v in self._windows.items() if v[0] == window_start}
        return _verdict(self._rule, count, window_start, now)


class PostgresRateLimiter:
    """Counts in PostgreSQL with one atomic upsert, so the limit holds across every replica."""

    def __init__(self, rule: RateLimit, pool: asyncpg.Pool) -> None:
        self._rule = rule
        self._pool = pool

    async def hit(self, key: str) -> Verdict:
        now = time.time()
        window_start = int(now // self._rule.seconds * self._rule.seconds)
        try:
            async with acquire(self._pool, 2.0) as conn:
                count = await db.count_hit(conn, key, window_start)
                if random.random() < 0.01:
                    await db.prune(conn, window_start - self._rule.seconds)
        except DatabaseUnavailable:
            # Fail open: the request will meet the outage itself and get a clean 503 there.
            log.warning("rate limit store unavailable; request allowed")
            return _verdict(self._rule, 0, window_start, now)
        return _verdict(self._rule, count, window_start, now)
