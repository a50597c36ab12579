"""Image use cases: browse, look up by hash, retag, count uses, delete, suggest tags (uploads: `ingest`)."""

from __future__ import annotations

import datetime as dt
import logging
import uuid

import msgspec

from reactbin.db import images as db
from reactbin.db.pool import retry_conflicts
from reactbin.db.search import resolve_terms, similar_tags
from reactbin.db.tagrules import canonical_tags
from reactbin.domain.cursors import decode_cursor, page_of
from reactbin.domain.resources import Resources
from reactbin.domain.search import search_images
from reactbin.domain.tags import MAX_TAG_LENGTH, normalise_tags
from reactbin.errors import Forbidden, ImageNotFound, StorageError

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


async def list_images(
    res: Resources, *, tags: list[str], limit: int, cursor: str | None, viewer: uuid.UUID | None = None
) -> ImagePage:
    """Newest first, filtered by every tag given (through aliases and implications, as `tag:` in a search), one
    keyset page at a time; rows say whether `viewer` marked them.

    A tag that stands for itself alone (no alias, nothing implies it) walks its own index in display order; one that
    stands for several tags (`animal` implied by `cat`) is answered by the search, whose cursors are its own.
    """
    wanted = normalise_tags(list(tags))
    if wanted:
        async with res.db() as conn:
            closures = (await resolve_terms(conn, [], wanted, [])).closures
        if any(len(closure) != 1 for closure in closures):
            found = await search_images(res, q="", tags=wanted, limit=limit, cursor=cursor, viewer=viewer)
            return ImagePage(items=found.items, next_cursor=found.next_cursor)
        wanted = list(dict.fromkeys(closure[0] for closure in closures))
    after = decode_cursor(cursor) if cursor else None
    async with res.db() as conn:
        rows = await db.list_images(conn, tags=wanted, limit=limit + 1, after=after, viewer=viewer)
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


async def delete_image(res: Resources, image_id: uuid.UUID, *, owner: uuid.UUID | None = None) -> None:
    """Delete the row, then its objects unless another row took the same content in the meantime.

    With `owner` (a member deleting), only an image that user uploaded may go.

    Raises:
        ImageNotFound: no such image.
        Forbidden: someone else uploaded it.
    """

    async def delete() -> db.DeletedImage | None:
        async with res.tx() as conn:
            if owner is not None:
                exists, uploaded_by = await db.uploader_of(conn, image_id)
                if exists and uploaded_by != owner:
                    raise Forbidden("Members may delete only their own uploads")
            return await db.delete_image(conn, image_id)

    deleted = await retry_conflicts(delete)
    if deleted is None:
        raise ImageNotFound()
    await remove_objects(res, image_id, deleted)


async def remove_objects(res: Resources, image_id: uuid.UUID, deleted: db.DeletedImage) -> None:
    """After a row's delete committed: remove its objects unless another row took the same content meanwhile."""
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
    if typed is None or not cleaned:
        async with res.db() as conn:
            return await db.tag_counts(conn, prefix=cleaned, limit=limit)
    # One edit for short words (kat -> cat), two from four letters on (smgu -> smug swaps two).
    distance = 0 if len(cleaned) < 3 else 1 if len(cleaned) < 4 else 2
    async with res.db() as conn:
        return await similar_tags(conn, cleaned, max_distance=distance, limit=limit)
