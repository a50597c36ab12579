"""The per-process map of share cards (see `sharing`): a bounded LRU by image id."""

from __future__ import annotations

import uuid
from collections import OrderedDict

import msgspec


class ShareCard(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    filename: str
    mime_type: str
    width: int
    height: int
    storage_key: str
    thumbnail_key: str | None
    text: str | None = None
    """The readable caption, for the page's description (a caption change drops the card on every replica)."""


class ShareCards:
    """A bounded least-recently-used map of cards by image id."""

    def __init__(self, capacity: int = 10_000) -> None:
        self._capacity = capacity
        self._cards: OrderedDict[uuid.UUID, ShareCard] = OrderedDict()

    def get(self, image_id: uuid.UUID) -> ShareCard | None:
        card = self._cards.get(image_id)
        if card is not None:
            self._cards.move_to_end(image_id)
        return card

    def put(self, card: ShareCard) -> None:
        self._cards[card.id] = card
        if len(self._cards) > self._capacity:
            self._cards.popitem(last=False)
