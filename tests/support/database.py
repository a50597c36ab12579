"""Emptying tables that running servers may be reading at the same moment."""

from __future__ import annotations

import asyncpg

from reactbin.db.pool import retry_conflicts


async def truncate(conn: asyncpg.Connection, *tables: str) -> None:
    """`TRUNCATE tables CASCADE`, tried again when PostgreSQL breaks a deadlock by failing it.

    A live server keeps querying while a test empties its tables: a query that holds one table and waits for
    another crosses TRUNCATE, which takes every table in turn, and PostgreSQL aborts one of the two after
    `deadlock_timeout`. The statement is its own transaction, so it can simply run again.
    """
    statement = f"TRUNCATE {', '.join(tables)} CASCADE"
    await retry_conflicts(lambda: conn.execute(statement))
