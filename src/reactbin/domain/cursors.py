"""Opaque keyset cursors: base64url of the last row's sort key."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import uuid
from typing import Protocol, TypeVar

import msgspec

from reactbin.errors import InvalidCursor


class _Position(msgspec.Struct, array_like=True, frozen=True):
    created_at: dt.datetime
    id: uuid.UUID


class Keyed(Protocol):
    """A row in keyset order: newest first by (created_at, id)."""

    @property
    def created_at(self) -> dt.datetime: ...

    @property
    def id(self) -> uuid.UUID: ...


K = TypeVar("K", bound=Keyed)


def page_of(rows: list[K], limit: int) -> tuple[list[K], str | None]:
    """Cut rows fetched with `limit + 1` to a page, and the cursor of the next page if there is one."""
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, encode_cursor(rows[-1].created_at, rows[-1].id)


def encode_cursor(created_at: dt.datetime, row_id: uuid.UUID) -> str:
    raw = msgspec.json.encode(_Position(created_at, row_id))
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str) -> tuple[dt.datetime, uuid.UUID]:
    """Raises InvalidCursor for anything this service did not issue."""
    if len(cursor) > 200:
        raise InvalidCursor()
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        position = msgspec.json.decode(raw, type=_Position)
    except (binascii.Error, ValueError, msgspec.DecodeError):
        raise InvalidCursor() from None
    if position.created_at.tzinfo is None:
        raise InvalidCursor()
    return position.created_at, position.id
