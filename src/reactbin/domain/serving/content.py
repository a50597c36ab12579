"""Serving stored bytes through the API: conditional requests, single ranges, small-object cache."""

from __future__ import annotations

import re
import uuid
from typing import Literal

import msgspec

from reactbin import metrics
from reactbin.db import images as db
from reactbin.domain.resources import Resources
from reactbin.errors import ImageNotFound, PreviewNotFound, RangeNotSatisfiable, ThumbnailNotFound
from reactbin.storage import ObjectReader

Variant = Literal["file", "thumbnail", "preview"]
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class Content(msgspec.Struct, kw_only=True):
    """A response to send: 200 whole, 206 part, or 304 with no body."""

    status: int
    etag: str
    mime_type: str
    size: int
    byte_range: tuple[int, int] | None = None
    body: bytes | ObjectReader | None = None

    @property
    def length(self) -> int:
        if self.byte_range is None:
            return self.size
        return self.byte_range[1] - self.byte_range[0] + 1


class StoredObject(msgspec.Struct, frozen=True):
    """An object the API serves: where it is and the headers that describe it."""

    key: str
    etag: str
    mime_type: str
    size: int


async def open_content(
    res: Resources,
    image_id: uuid.UUID,
    variant: Variant,
    *,
    if_none_match: str | None,
    range_header: str | None,
    if_range: str | None,
    with_body: bool,
) -> Content:
    """Decide what to send for an image's file or thumbnail, touching storage only when bytes must flow."""
    row = res.index.get(image_id)
    if row is None:
        generation = res.index.generation
        async with res.db() as conn:
            row = await db.get_content(conn, image_id)
        if row is not None:
            res.index.put(image_id, row, generation)
    return await open_stored(
        res,
        _target(row, variant),
        if_none_match=if_none_match,
        range_header=range_header,
        if_range=if_range,
        with_body=with_body,
    )


async def open_stored(
    res: Resources,
    target: StoredObject,
    *,
    if_none_match: str | None,
    range_header: str | None,
    if_range: str | None,
    with_body: bool,
) -> Content:
    """Decide what to send for a stored object whose row was found: 304, 206 or 200 (with the body if asked)."""
    if if_none_match is not None and etag_matches(if_none_match, target.etag):
        return Content(status=304, etag=target.etag, mime_type=target.mime_type, size=target.size)
    byte_range = None
    if range_header is not None and (if_range is None or if_range.strip() == target.etag):
        byte_range = parse_range(range_header, target.size)
    content = Content(
        status=200 if byte_range is None else 206,
        etag=target.etag,
        mime_type=target.mime_type,
        size=target.size,
        byte_range=byte_range,
    )
    if with_body:
        content.body = await _body(res, target, byte_range)
    return content


def _target(row: db.ContentRow | None, variant: Variant) -> StoredObject:
    if row is None:
        raise ImageNotFound()
    if variant == "file":
        return StoredObject(row.storage_key, f'"{row.hash}"', row.mime_type, row.size_bytes)
    if variant == "preview":
        if row.preview_key is None or row.preview_hash is None or row.preview_size_bytes is None:
            raise PreviewNotFound()
        return StoredObject(row.preview_key, f'"{row.preview_hash}"', "image/webp", row.preview_size_bytes)
    if row.thumbnail_key is None or row.thumbnail_hash is None or row.thumbnail_size_bytes is None:
        raise ThumbnailNotFound()
    return StoredObject(row.thumbnail_key, f'"{row.thumbnail_hash}"', "image/webp", row.thumbnail_size_bytes)


async def _body(res: Resources, target: StoredObject, byte_range: tuple[int, int] | None) -> bytes | ObjectReader:
    if res.cache.accepts(target.size):
        data = res.cache.get(target.key)
        metrics.CACHE_LOOKUPS.labels("miss" if data is None else "hit").inc()
        if data is None:
            data = await res.storage.read_bytes(target.key)
            res.cache.put(target.key, data)
        return data if byte_range is None else data[byte_range[0] : byte_range[1] + 1]
    return await res.storage.open(target.key, byte_range)


def etag_matches(header: str, etag: str) -> bool:
    """Weak comparison, as If-None-Match requires (RFC 9110 13.1.2)."""
    if header.strip() == "*":
        return True
    return any(candidate.strip().removeprefix("W/") == etag for candidate in header.split(","))


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """The inclusive byte range of a single-range `Range` header.

    Returns None when the header should be ignored (not bytes, several ranges, malformed); raises
    RangeNotSatisfiable when it is well-formed but outside the object.
    """
    match = _RANGE.match(header.strip())
    if match is None:
        return None
    first, last = match[1], match[2]
    if not first and not last:
        return None
    if not first:
        suffix = int(last)
        if suffix == 0:
            raise RangeNotSatisfiable(size)
        return max(0, size - suffix), size - 1
    start = int(first)
    end = size - 1 if not last else min(int(last), size - 1)
    if last and int(last) < start:
        return None
    if start >= size:
        raise RangeNotSatisfiable(size)
    return start, end
