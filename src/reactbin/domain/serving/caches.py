"""Per-process caches of what never changes: small stored objects by key, and share cards by image id.

Object keys are content-addressed, so a cached entry can never be stale, and a card holds only what no write
changes. Whether an image still exists is always read from PostgreSQL (or the content index, which LISTEN/NOTIFY
keeps right) before either cache is consulted, so a deleted image stops being served on every replica.
"""

from __future__ import annotations

import uuid

import msgspec

from reactbin.domain.serving.lru import LruMap

SHARE_CARDS = 10_000
"""Share cards kept per process."""

MAX_ENTRY_BYTES = 1024 * 1024


class ObjectCache:
    """Least-recently-used bytes, bounded by their total size."""

    def __init__(self, capacity_bytes: int) -> None:
        self._capacity = capacity_bytes
        self._entries: LruMap[str, bytes] = LruMap(capacity_bytes, weigh=len)

    def accepts(self, size: int) -> bool:
        return 0 < size <= min(MAX_ENTRY_BYTES, self._capacity)

    def get(self, key: str) -> bytes | None:
        return self._entries.get(key)

    def put(self, key: str, data: bytes) -> None:
        if self.accepts(len(data)):
            self._entries.put(key, data)


class ShareCard(msgspec.Struct, frozen=True, kw_only=True):
    """What a chat unfurl of an image shows (see `share_cards`)."""

    id: uuid.UUID
    filename: str
    mime_type: str
    width: int
    height: int
    storage_key: str
    thumbnail_key: str | None
    text: str | None = None
    """The readable caption, for the page's description (a caption change drops the card on every replica)."""
