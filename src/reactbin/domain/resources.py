"""The long-lived resources a use case needs, opened once by the app's lifespan (or a worker process)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

import asyncpg

from reactbin import scratch
from reactbin.db.pool import acquire, create_pool, transaction
from reactbin.domain.serving.caches import SHARE_CARDS, ObjectCache, ShareCard
from reactbin.domain.serving.index import ContentIndex, listening
from reactbin.domain.serving.lru import LruMap
from reactbin.settings import Settings
from reactbin.storage import Storage, open_storage
from reactbin.urls import UrlResolver

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class Resources:
    settings: Settings
    pool: asyncpg.Pool
    storage: Storage
    urls: UrlResolver
    cache: ObjectCache
    cpu: ThreadPoolExecutor
    index: ContentIndex
    share_cards: LruMap[uuid.UUID, ShareCard]

    def db(self) -> contextlib.AbstractAsyncContextManager[asyncpg.Connection]:
        """A pooled connection (autocommit)."""
        return acquire(self.pool, self.settings.db_connect_timeout)

    def tx(self) -> contextlib.AbstractAsyncContextManager[asyncpg.Connection]:
        """A pooled connection inside a transaction."""
        return transaction(self.pool, self.settings.db_connect_timeout)

    async def run_cpu(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """Run CPU-bound work (decoding, resizing) on the worker threads, never on the event loop."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.cpu, lambda: fn(*args, **kwargs))


@contextlib.asynccontextmanager
async def open_resources(
    settings: Settings, *, cpu_threads: int | None = None, serving: bool = True
) -> AsyncIterator[Resources]:
    """Open the pool, the store and the CPU threads for the lifetime of the block, and close them after.

    `serving` processes also follow image invalidations, so they may answer revalidations from memory.
    """
    # Start-up is when a process removes what dead ones left in the temp directory (see `reactbin.scratch`).
    await asyncio.to_thread(scratch.sweep)
    cpu = ThreadPoolExecutor(max_workers=cpu_threads or max(2, os.cpu_count() or 2), thread_name_prefix="reactbin-cpu")
    try:
        pool = await create_pool(settings)
        try:
            index = ContentIndex()
            async with contextlib.AsyncExitStack() as stack:
                storage = await stack.enter_async_context(open_storage(settings))
                if serving and settings.database_url:
                    await stack.enter_async_context(
                        listening(index, settings.database_url, settings.db_connect_timeout)
                    )
                yield Resources(
                    settings=settings,
                    pool=pool,
                    storage=storage,
                    urls=UrlResolver(settings.public_base_url),
                    cache=ObjectCache(settings.cache_bytes),
                    cpu=cpu,
                    index=index,
                    share_cards=LruMap(SHARE_CARDS),
                )
        finally:
            await pool.close()
    finally:
        cpu.shutdown(wait=False, cancel_futures=True)


@contextlib.asynccontextmanager
async def cleanup_on_error(storage: Storage, keys: list[str]) -> AsyncIterator[None]:
    """Delete the objects in `keys` if the block fails, even when it is cancelled (a guard disarmed by success)."""
    try:
        yield
    except BaseException:
        for key in keys:
            with contextlib.suppress(Exception):
                await asyncio.shield(storage.delete(key))
        raise
