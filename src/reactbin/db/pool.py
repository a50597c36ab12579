"""The connection pool and the one translation of "the database is not there" into a domain error."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar, cast

import asyncpg

from reactbin.errors import DatabaseUnavailable
from reactbin.settings import Settings

# Raised when the server is down, restarting, unreachable or hung past a timeout.
UNAVAILABLE = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.CannotConnectNowError,
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.InterfaceError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.TooManyConnectionsError,
    asyncpg.QueryCanceledError,
)
# Raised when PostgreSQL aborted a transaction that raced another one; running it again is the cure.
CONFLICTS = (asyncpg.DeadlockDetectedError, asyncpg.SerializationError)
CONFLICT_ATTEMPTS = 6

T = TypeVar("T")


async def create_pool(settings: Settings) -> asyncpg.Pool:
    """Open a pool; no connection is made until first use, so the service starts while the database is down."""
    assert settings.database_url is not None
    pool = await asyncpg.create_pool(
        settings.database_url,
        min_size=0,
        max_size=settings.db_pool_max,
        timeout=settings.db_connect_timeout,
        command_timeout=settings.db_command_timeout,
        max_inactive_connection_lifetime=60,
        # The default reset runs a second query on every release (unlock all, UNLISTEN, RESET ALL); this app
        # keeps no session state on pooled connections (advisory locks are transaction-scoped, LISTEN has its own
        # connection), and asyncpg still rolls back an open transaction itself.
        reset=_keep_session,
        # PostgreSQL compiles a query with LLVM once its estimated cost passes jit_above_cost: tens to hundreds of
        # milliseconds for searches and hash lookups that run in a few (measured at 1M images, docs/benchmarks.md).
        # Every query here is short; none gains from JIT.
        server_settings={"jit": "off"},
    )
    assert pool is not None
    return pool


async def _keep_session(conn: asyncpg.Connection) -> None:
    return None


@contextlib.asynccontextmanager
async def acquire(pool: asyncpg.Pool, wait: float) -> AsyncIterator[asyncpg.Connection]:
    """A pooled connection; outages surface as `DatabaseUnavailable`."""
    try:
        async with pool.acquire(timeout=wait) as conn:
            # The pool hands out a proxy that behaves as the connection it wraps.
            yield cast(asyncpg.Connection, conn)
    except UNAVAILABLE as exc:
        raise DatabaseUnavailable() from exc


@contextlib.asynccontextmanager
async def transaction(pool: asyncpg.Pool, wait: float) -> AsyncIterator[asyncpg.Connection]:
    """A pooled connection inside a transaction that commits on success and rolls back on error."""
    async with acquire(pool, wait) as conn:
        try:
            async with conn.transaction():
                yield conn
        except UNAVAILABLE as exc:
            raise DatabaseUnavailable() from exc


async def retry_conflicts(run: Callable[[], Awaitable[T]], attempts: int = CONFLICT_ATTEMPTS) -> T:
    """Run a transaction, and run it again (with a short random back-off) when it lost a deadlock or a
    serialization race to a concurrent one.

    Shared rows (the tag counts, an image's tag list) are written in a fixed order within each statement, but a
    transaction of several statements (remove some tags, then add others) can still meet another in the opposite
    order. `run` must open its own transaction, so that each attempt starts from scratch.
    """
    for attempt in range(attempts):
        try:
            return await run()
        except CONFLICTS:
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(random.uniform(0.002, 0.01) * 2**attempt)
    raise AssertionError("unreachable")
