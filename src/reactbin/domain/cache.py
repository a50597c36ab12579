"""A per-process cache of small immutable objects.

Keys are content-addressed, so a cached entry can never be stale; whether an image still exists is always
read from PostgreSQL before the cache is consulted, so a deleted image stops being served on every replica.
"""

from __future__ import annotations

from collections import OrderedDict

MAX_ENTRY_BYTES = 1024 * 1024


class ObjectCache:
    """Least-recently-used bytes, bounded by their total size."""

    def __init__(self, capacity_bytes: int) -> None:
        self._capacity = capacity_bytes
        self._entries: OrderedDict[str, bytes] = OrderedDict()
        self._size = 0

    def accepts(self, size: int) -> bool:
        return 0 < size <= min(MAX_ENTRY_BYTES, self._capacity)

    def get(self, key: str) -> bytes | None:
        data = self._entries.get(key)
        if data is not None:
            self._entries.move_to_end(key)
        return data

    def put(self, key: str, data: bytes) -> None:
        if not self.accepts(len(data)) or key in self._entries:
            return
        self._entries[key] = data
        self._size += len(data)
        while self._size > self._capacity:
            _, evicted = self._entries.popitem(last=False)
            self._size -= len(evicted)
