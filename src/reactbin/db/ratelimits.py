"""Shared fixed-window counters for rate limiting."""

from __future__ import annotations

import asyncpg


async def count_hit(conn: asyncpg.Connection, key: str, window_start: int) -> int:
    """Count one request in the window, atomically across replicas; return the window's count."""
    count: int = await conn.fetchval(
        """
        INSERT INTO rate_limit_windows (key, window_start, count) VALUES ($1, $2, 1)
        ON CONFLICT (key, window_start) DO UPDATE SET count = rate_limit_windows.count + 1
        RETURNING count
        """,
        key,
        window_start,
    )
    return count


async def prune(conn: asyncpg.Connection, before: int) -> None:
    await conn.execute("DELETE FROM rate_limit_windows WHERE window_start < $1", before)


async def current_count(conn: asyncpg.Connection, key: str, window_start: int) -> int:
    """The window's count so far, without counting a request."""
    count: int | None = await conn.fetchval(
        "SELECT count FROM rate_limit_windows WHERE key = $1 AND window_start = $2", key, window_start
    )
    return count or 0
