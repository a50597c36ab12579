"""Request and response bodies of the public API (separate from database rows on purpose)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

import msgspec

from reactbin.db.images import ImageRow, TagCount
from reactbin.urls import UrlResolver


class ErrorBody(msgspec.Struct, frozen=True):
    """Every error: a sentence for people and a stable code for programs."""

    detail: str
    code: str


class Image(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    hash: str
    filename: str
    mime_type: str
    size_bytes: int
    width: int
    height: int
    storage_key: str
    thumbnail_key: str | None
    file_url: str
    thumbnail_url: str | None
    created_at: dt.datetime
    tags: list[str]


class UploadedImage(Image, frozen=True, kw_only=True):
    duplicate: bool


class ImageList(msgspec.Struct, frozen=True):
    items: list[Image]
    next_cursor: str | None


class TagsUpdate(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    tags: Annotated[list[str], msgspec.Meta(max_length=500)]


class TagSuggestion(msgspec.Struct, frozen=True):
    name: str
    count: int


class TagSuggestions(msgspec.Struct, frozen=True):
    items: list[TagSuggestion]


class Health(msgspec.Struct, frozen=True):
    status: str


class Readiness(msgspec.Struct, frozen=True):
    status: str
    database: str
    storage: str


class NotReady(ErrorBody, frozen=True, kw_only=True):
    database: str
    storage: str


def image_out(row: ImageRow, urls: UrlResolver) -> Image:
    return Image(
        id=row.id,
        hash=row.hash,
        filename=row.filename,
        mime_type=row.mime_type,
        size_bytes=row.size_bytes,
        width=row.width,
        height=row.height,
        storage_key=row.storage_key,
        thumbnail_key=row.thumbnail_key,
        file_url=urls.file_url(row.id, row.storage_key),
        thumbnail_url=urls.thumbnail_url(row.id, row.thumbnail_key),
        created_at=row.created_at,
        tags=row.tags,
    )


def uploaded_out(row: ImageRow, urls: UrlResolver, *, duplicate: bool) -> UploadedImage:
    return UploadedImage(**msgspec.structs.asdict(image_out(row, urls)), duplicate=duplicate)


def tag_suggestions_out(counts: list[TagCount]) -> TagSuggestions:
    return TagSuggestions(items=[TagSuggestion(name=c.name, count=c.count) for c in counts])
