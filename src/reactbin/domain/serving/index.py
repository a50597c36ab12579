"""A per-process map of image id -> what the proxy needs (ETag, type, size, keys), kept right by LISTEN/NOTIFY.

A revalidation (If-None-Match -> 304) or a cached small file then needs no database round trip at all. Content
under an id never changes; an image is only deleted (or, by `reactbin fsck --repair`, given a new thumbnail), and
both send a notification in their transaction. Every process listens on one dedicated connection and evicts on
notify. While that connection is down the map is emptied and bypassed, so a missed notification can never leave
a deleted image being served.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator

import asyncpg

from reactbin.db.images import CHANGE_CHANNEL, ContentRow
from reactbin.domain.serving.lru import LruMap

log = logging.getLogger(__name__)
_RECONNECT_DELAY = 1.0
LISTENER_NAME = "reactbin-invalidations"


class ContentIndex:
    """Least-recently-used content rows, trusted only while invalidations can arrive."""

    def __init__(self, capacity: int = 100_000) -> None:
        self._rows: LruMap[uuid.UUID, ContentRow] = LruMap(capacity)
        self._live = False
        # Bumped by every invalidation: a row read before one arrived must not be stored after it.
        self.generation = 0

    @property
    def live(self) -> bool:
        return self._live

    def get(self, image_id: uuid.UUID) -> ContentRow | None:
        if not self._live:
            return None
        return self._rows.get(image_id)

    def put(self, image_id: uuid.UUID, row: ContentRow, generation: int) -> None:
        if self._live and generation == self.generation:
            self._rows.put(image_id, row)

    def evict(self, image_id: uuid.UUID) -> None:
        self.generation += 1
        self._rows.pop(image_id)

    def _set_live(self, live: bool) -> None:
        self.generation += 1
        self._rows.clear()
        self._live = live

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: object) -> None:
        try:
            self.evict(uuid.UUID(str(payload)))
        except ValueError:
            self._set_live(self._live)  # unknown payload: forget everything, to be safe

    def _on_lost(self, _conn: object) -> None:
        self._set_live(False)


@contextlib.asynccontextmanager
async def listening(index: ContentIndex, dsn: str, connect_timeout: float) -> AsyncIterator[None]:
    """Keep `index` subscribed to invalidations for the lifetime of the block, reconnecting after outages."""

    async def follow() -> None:
        while True:
            try:
                conn = await asyncpg.connect(
                    dsn, timeout=connect_timeout, server_settings={"application_name": LISTENER_NAME}
                )
            except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                await asyncio.sleep(_RECONNECT_DELAY)
                continue
            try:
                conn.add_termination_listener(index._on_lost)
                await conn.add_listener(CHANGE_CHANNEL, index._on_notify)
                index._set_live(True)
                while not conn.is_closed():
                    await asyncio.sleep(_RECONNECT_DELAY)
                    # A cheap probe also notices a server that vanished without closing the socket.
                    await asyncio.wait_for(conn.fetchval("SELECT 1"), timeout=connect_timeout)
            except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                pass
            finally:
                index._set_live(False)
                with contextlib.suppress(Exception):
                    await conn.close(timeout=1)
            await asyncio.sleep(_RECONNECT_DELAY)

    task = asyncio.create_task(follow(), name="reactbin-content-index")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
