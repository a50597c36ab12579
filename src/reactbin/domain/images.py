"""Image use cases: ingest an upload, browse, retag, delete, suggest tags."""

from __future__ import annotations

import datetime as dt
import logging
import uuid

import asyncpg
import msgspec

from reactbin.db import images as db
from reactbin.db import queue
from reactbin.db.duplicates import link_similar
from reactbin.db.search import resolve_terms, similar_tags
from reactbin.db.tagrules import canonical_tags
from reactbin.domain import captions
from reactbin.domain.cursors import decode_cursor, page_of
from reactbin.domain.resources import Resources, cleanup_on_error
from reactbin.domain.search import search_images
from reactbin.domain.tags import MAX_TAG_LENGTH, MAX_TAGS, normalise_tags
from reactbin.errors import ImageNotFound, InvalidCreatedAt, StorageError, TooManyTags
from reactbin.media.analyse import analyse_media
from reactbin.media.probe import SNIFF_BYTES, sniff_media_type
from reactbin.media.strip import strip_video_location
from reactbin.metadata import file_digest, strip_upload
from reactbin.storage import keys
from reactbin.uploads import ReceivedFile

log = logging.getLogger(__name__)


class IngestResult(msgspec.Struct, frozen=True):
    image: db.ImageRow
    duplicate: bool


class ImagePage(msgspec.Struct, frozen=True):
    items: list[db.ImageRow]
    next_cursor: str | None


def parse_created_at(raw: str | None) -> dt.datetime | None:
    """An upload's own `created_at` (restoring an export), or None for now.

    Raises:
        InvalidCreatedAt: not an ISO 8601 time with a time zone, or in the future.
    """
    if raw is None or not raw.strip():
        return None
    try:
        value = dt.datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidCreatedAt() from None
    if value.tzinfo is None or value > dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5):
        raise InvalidCreatedAt()
    return value


async def ingest_upload(
    res: Resources, upload: ReceivedFile, tags: list[str], *, created_at: dt.datetime | None = None
) -> IngestResult:
    """Store a received upload once per content hash; a repeat merges its tags into the existing image.

    `created_at` (restoring an export) dates a new image; a repeat keeps the date it has.

    The objects are written before the row and deleted again unless the row commits, all under a
    per-hash advisory lock, so concurrent uploads of the same bytes make exactly one image.
    """
    # Location and serial numbers never reach storage; the hash is of the bytes actually stored. The upload's own
    # hash is kept beside it when they differ, so a client holding the original file finds the image by hash.
    sent_sha256 = upload.sha256
    mime_type = await res.run_cpu(_sniff, upload)
    if mime_type in _STRIPPABLE:
        sha256, size = await res.run_cpu(strip_upload, upload.path, upload.sha256, upload.size)
        upload = msgspec.structs.replace(upload, sha256=sha256, size=size)
    elif mime_type == "video/mp4" and await res.run_cpu(strip_video_location, upload.path):
        sha256, size = await res.run_cpu(file_digest, upload.path)
        upload = msgspec.structs.replace(upload, sha256=sha256, size=size)
    also_known_as = sent_sha256 if sent_sha256 != upload.sha256 else None
    existing = await _merge_duplicate(res, upload.sha256, tags, also_known_as)
    if existing is not None:
        return IngestResult(existing, duplicate=True)

    settings = res.settings
    analysis = await res.run_cpu(analyse_media, upload.path, settings.max_image_pixels, settings.max_video_seconds)
    info = analysis.info
    image_id = uuid.uuid4()
    original_key = keys.original_key(upload.sha256, info.mime_type)
    thumbnail = analysis.thumbnail
    thumbnail_key = keys.thumbnail_key(upload.sha256)
    written: list[str] = []
    async with res.tx() as conn, cleanup_on_error(res.storage, written):
        await db.lock_hash(conn, upload.sha256)
        raced = await db.get_image_by_hash(conn, upload.sha256)
        if raced is not None:
            if also_known_as is not None:
                await db.remember_upload_hash(conn, also_known_as, raced.id)
            return IngestResult(await _add_tags(conn, raced, tags), duplicate=True)
        written.append(original_key)
        await res.storage.put_file(original_key, upload.path, info.mime_type)
        written.append(thumbnail_key)
        await res.storage.put_bytes(thumbnail_key, thumbnail.data, thumbnail.mime_type)
        await db.insert_image(
            conn,
            db.NewImage(
                id=image_id,
                hash=upload.sha256,
                filename=upload.filename,
                mime_type=info.mime_type,
                size_bytes=upload.size,
                width=info.width,
                height=info.height,
                storage_key=original_key,
                thumbnail_key=thumbnail_key,
                thumbnail_hash=thumbnail.sha256,
                thumbnail_size_bytes=len(thumbnail.data),
                kind=info.kind,
                duration_ms=info.duration_ms,
                frame_count=info.frame_count,
                has_audio=info.has_audio,
                placeholder=analysis.placeholder,
                created_at=created_at,
            ),
        )
        await db.add_tags(conn, image_id, await canonical_tags(conn, tags))
        if also_known_as is not None:
            await db.remember_upload_hash(conn, also_known_as, image_id)
        if info.kind != "still" or analysis.placeholder is None:
            # The preview is made by a worker; the job commits (or rolls back) with the row.
            await queue.enqueue(conn, queue.MEDIA_ENTRYPOINT, image_id.bytes)  # see domain.media
        await captions.queue_new_image(conn, image_id)
        # Last before the commit: it takes the one lock that orders neighbour lookups (db/duplicates.py).
        await link_similar(conn, image_id, analysis.phash)
        image = await db.get_image(conn, image_id)
        assert image is not None
    return IngestResult(image, duplicate=False)


_STRIPPABLE = frozenset({"image/jpeg", "image/png", "image/webp"})


def _sniff(upload: ReceivedFile) -> str:
    with upload.path.open("rb") as handle:
        return sniff_media_type(handle.read(SNIFF_BYTES))


async def _merge_duplicate(
    res: Resources, sha256: str, tags: list[str], also_known_as: str | None
) -> db.ImageRow | None:
    try:
        async with res.tx() as conn:
            existing = await db.get_image_by_hash(conn, sha256)
            if existing is None:
                return None
            await db.lock_hash(conn, sha256)
            if also_known_as is not None:
                await db.remember_upload_hash(conn, also_known_as, existing.id)
            return await _add_tags(conn, existing, tags)
    except ImageNotFound:  # deleted while we looked: ingest it as new
        return None


async def _add_tags(conn: asyncpg.Connection, image: db.ImageRow, tags: list[str]) -> db.ImageRow:
    tags = await canonical_tags(conn, tags)
    new = [tag for tag in tags if tag not in image.tags]
    if not new:
        return image
    if len(image.tags) + len(new) > MAX_TAGS:
        raise TooManyTags()
    await db.add_tags(conn, image.id, new)
    merged = await db.get_image(conn, image.id)
    if merged is None:  # deleted between the two reads; the upload's bytes are gone with it
        raise ImageNotFound()
    return merged


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
    """Newest first, filtered by every tag given (through aliases and implications, as `tag:` in a search), one
    keyset page at a time.

    A tag that stands for itself alone (no alias, nothing implies it) walks its own index in display order; one that
    stands for several tags (`animal` implied by `cat`) is answered by the search, whose cursors are its own.
    """
    wanted = normalise_tags(list(tags))
    if wanted:
        async with res.db() as conn:
            closures = (await resolve_terms(conn, [], wanted, [])).closures
        if any(len(closure) != 1 for closure in closures):
            found = await search_images(res, q="", tags=wanted, limit=limit, cursor=cursor)
            return ImagePage(items=found.items, next_cursor=found.next_cursor)
        wanted = list(dict.fromkeys(closure[0] for closure in closures))
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
    async with res.tx() as conn:
        wanted = await canonical_tags(conn, wanted)
        if not await db.replace_tags(conn, image_id, wanted):
            raise ImageNotFound()
        image = await db.get_image(conn, image_id)
    assert image is not None
    return image


async def delete_image(res: Resources, image_id: uuid.UUID) -> None:
    """Delete the row, then its objects unless another row took the same content in the meantime."""
    async with res.tx() as conn:
        deleted = await db.delete_image(conn, image_id)
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
    async with res.tx() as conn:
        return await similar_tags(conn, cleaned, max_distance=distance, limit=limit)
