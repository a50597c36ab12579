"""Image use cases: browse, look up by hash, retag, count uses, delete, suggest tags (uploads: `ingest`)."""

from __future__ import annotations

import datetime as dt
import logging
import uuid

import msgspec

from reactbin.db import images as db
from reactbin.db.pool import retry_conflicts
from reactbin.db.search import similar_tags
from reactbin.db.tagrules import canonical_tags
from reactbin.domain.cursors import decode_cursor, page_of
from reactbin.domain.resources import Resources
from reactbin.domain.tags import MAX_TAG_LENGTH, normalise_tags
from reactbin.errors import ImageNotFound, StorageError

log = logging.getLogger(__name__)


class ImagePage(msgspec.Struct, frozen=True):
    items: list[db.ImageRow]
    next_cursor: str | None


async def find_by_hash(res: Resources, sha256: str) -> db.ImageRow:
    """The image stored with this content hash, or made from an upload with this hash.

    Raises:
        ImageNotFound: no such image.
    """
    async with res.db() as conn:
        image = await db.find_image_by_any_hash(conn, sha256)
    if image is None:
        raise ImageNotFound()
    return image


async def list_images(res: Resources, *, tags: list[str], limit: int, cursor: str | None) -> ImagePage:
    """Newest first, filtered by every tag given, one keyset page at a time."""
    wanted = normalise_tags(list(tags))
    after = decode_cursor(cursor) if cursor else None
    async with res.db() as conn:
        rows = await db.list_images(conn, tags=wanted, limit=limit + 1, after=after)
    items, next_cursor = page_of(rows, limit)
    return ImagePage(items=items, next_cursor=next_cursor)


class ImageUse(msgspec.Struct, frozen=True):
    use_count: int
    last_used_at: dt.datetime


async def record_use(res: Resources, image_id: uuid.UUID) -> ImageUse:
    """Count one use (copy, download, open) of the image; atomic, so concurrent uses across replicas all count."""
    async with res.db() as conn:
        counted = await db.record_use(conn, image_id)
    if counted is None:
        raise ImageNotFound()
    return ImageUse(*counted)


async def get_image(res: Resources, image_id: uuid.UUID) -> db.ImageRow:
    async with res.db() as conn:
        image = await db.get_image(conn, image_id)
    if image is None:
        raise ImageNotFound()
    return image


async def replace_tags(res: Resources, image_id: uuid.UUID, tags: list[object]) -> db.ImageRow:
    wanted = normalise_tags(tags)

    async def replace() -> db.ImageRow:
        async with res.tx() as conn:
            canonical = await canonical_tags(conn, wanted)
            if not await db.replace_tags(conn, image_id, canonical):
                raise ImageNotFound()
            image = await db.get_image(conn, image_id)
        assert image is not None
        return image

    return await retry_conflicts(replace)


async def delete_image(res: Resources, image_id: uuid.UUID) -> None:
    """Delete the row, then its objects unless another row took the same content in the meantime."""

    async def delete() -> db.DeletedImage | None:
        async with res.tx() as conn:
            return await db.delete_image(conn, image_id)

    deleted = await retry_conflicts(delete)
    if deleted is None:
        raise ImageNotFound()
    try:
        async with res.tx() as conn:
            await db.lock_hash(conn, deleted.hash)
            if await db.hash_in_use(conn, deleted.hash):
                return
            for key in deleted.keys:
                await res.storage.delete(key)
    except StorageError:
        # The image is gone for every client; `reactbin fsck` finds and removes what is left.
        log.warning("could not delete the objects of image %s; they remain as orphans", image_id)


async def suggest_tags(res: Resources, *, prefix: str, limit: int, typed: str | None = None) -> list[db.TagCount]:
    """Tags for autocomplete: starting with `prefix`, most used first; or, given `typed`, also close misspellings
    (`kat` -> `cat`) and aliases, each with the tag it means."""
    cleaned = "-".join((typed if typed is not None else prefix).strip().lower().split())
    if len(cleaned) > MAX_TAG_LENGTH or not all(ch.isalnum() or ch in "-_:." for ch in cleaned):
        return []  # no tag can start like that (and PostgreSQL text cannot hold NUL)
    async with res.db() as conn:
        if typed is None or not cleaned:
            return await db.tag_counts(conn, prefix=cleaned, limit=limit)
        # One edit for short words (kat -> cat), two from four letters on (smgu -> smug swaps two).
        distance = 0 if len(cleaned) < 3 else 1 if len(cleaned) < 4 else 2
        return await similar_tags(conn, cleaned, max_distance=distance, limit=limit)
