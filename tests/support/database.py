"""Emptying tables that running servers may be reading at the same moment."""

from __future__ import annotations

import asyncio

import asyncpg


async def truncate(conn: asyncpg.Connection, *tables: str) -> None:
    """`TRUNCATE tables CASCADE`, tried again when PostgreSQL breaks a deadlock by failing it.

    A live server keeps querying while a test empties its tables: a query that holds one table and waits for
    another crosses TRUNCATE, which takes every table in turn, and PostgreSQL aborts one of the two after
    `deadlock_timeout`. The server's query is retried by its caller; this is the test's retry.
    """
    statement = f"TRUNCATE {', '.join(tables)} CASCADE"
    for attempt in range(5):
        try:
            await conn.execute(statement)
            return
        except asyncpg.DeadlockDetectedError:
            if attempt == 4:
                raise
            await asyncio.sleep(0.05 * (attempt + 1))
