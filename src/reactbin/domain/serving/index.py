"""A per-process map of image id -> what the proxy needs (ETag, type, size, keys), kept right by LISTEN/NOTIFY.

A revalidation (If-None-Match -> 304) or a cached small file then needs no database round trip at all. Content
under an id never changes; an image is only deleted (or, by `reactbin fsck --repair`, given a new thumbnail), and
both send a notification in their transaction. Every process listens on one dedicated connection and evicts on
notify. While that connection is down the map is emptied and bypassed, so a missed notification can never leave
a deleted image being served.
"""

from __future__ import annotations

import logging
import uuid
from contextlib import AbstractAsyncContextManager

from reactbin.db.images import CHANGE_CHANNEL, ContentRow
from reactbin.db.listener import subscribed
from reactbin.domain.serving.lru import LruMap

log = logging.getLogger(__name__)
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

    def set_live(self, live: bool) -> None:
        self.generation += 1
        self._rows.clear()
        self._live = live

    def on_notify(self, _conn: object, _pid: int, _channel: str, payload: object) -> None:
        try:
            self.evict(uuid.UUID(str(payload)))
        except ValueError:
            self.set_live(self._live)  # unknown payload: forget everything, to be safe


def listening(index: ContentIndex, dsn: str, connect_timeout: float) -> AbstractAsyncContextManager[None]:
    """Keep `index` subscribed to invalidations for the lifetime of the block, reconnecting after outages."""
    return subscribed(index, dsn, CHANGE_CHANNEL, name=LISTENER_NAME, connect_timeout=connect_timeout)
