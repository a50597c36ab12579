"""The one bounded least-recently-used map every per-process cache here is built on."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class LruMap(Generic[K, V]):
    """A map that forgets its least recently used entries once their total weight passes `capacity`.

    Each entry weighs `weigh(value)` (1 by default: the capacity is then a count of entries).
    """

    def __init__(self, capacity: int, weigh: Callable[[V], int] | None = None) -> None:
        self.capacity = capacity
        self._weigh = weigh or (lambda _: 1)
        self._entries: OrderedDict[K, V] = OrderedDict()
        self._weight = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: K) -> V | None:
        value = self._entries.get(key)
        if value is not None:
            self._entries.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        weight = self._weigh(value)
        if weight > self.capacity:
            return
        old = self._entries.pop(key, None)
        if old is not None:
            self._weight -= self._weigh(old)
        self._entries[key] = value
        self._weight += weight
        while self._weight > self.capacity:
            _, evicted = self._entries.popitem(last=False)
            self._weight -= self._weigh(evicted)

    def pop(self, key: K) -> V | None:
        value = self._entries.pop(key, None)
        if value is not None:
            self._weight -= self._weigh(value)
        return value

    def clear(self) -> None:
        self._entries.clear()
        self._weight = 0
