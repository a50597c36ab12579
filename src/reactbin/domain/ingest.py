"""Ingest an upload: sniff it once, strip its location, store it once per content hash, index it.

The objects are written before the row and deleted again unless the row commits, all under a per-hash advisory
lock, so concurrent uploads of the same bytes make exactly one image and a failed upload leaves nothing behind.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from pathlib import Path

import asyncpg
import msgspec

from reactbin.db import images as db
from reactbin.db import queue
from reactbin.db.duplicates import link_similar
from reactbin.db.pool import retry_conflicts
from reactbin.db.tagrules import canonical_tags
from reactbin.domain import captions
from reactbin.domain.resources import Resources, cleanup_on_error
from reactbin.domain.tags import MAX_TAGS
from reactbin.domain.uploads import ReceivedFile
from reactbin.errors import ImageNotFound, InvalidCreatedAt, TooManyTags
from reactbin.media.analyse import MediaAnalysis, analyse_upload
from reactbin.media.formats import Format, Limits, sniff_file
from reactbin.media.location import strip_location
from reactbin.storage import keys

log = logging.getLogger(__name__)


class IngestResult(msgspec.Struct, frozen=True):
    image: db.ImageRow
    duplicate: bool


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
    res: Resources,
    upload: ReceivedFile,
    tags: list[str],
    *,
    uploaded_by: uuid.UUID | None = None,
    created_at: dt.datetime | None = None,
) -> IngestResult:
    """Store a received upload once per content hash; a repeat merges its tags into the existing image (and keeps
    its first uploader).

    `created_at` (restoring an export) dates a new image; a repeat keeps the date it has. A new image's perceptual
    hash and its pairs with the images it looks like are recorded in the same transaction (`link_similar`).

    Raises:
        EmptyFile, UnsupportedMediaType, InvalidImage, InvalidVideo, ImageTooLarge, VideoTooLong, MediaTimeout,
        TooManyTags, StorageError, DatabaseUnavailable.
    """
    # Location and serial numbers never reach storage; the hash is of the bytes actually stored. The upload's own
    # hash is kept beside it when they differ, so a client holding the original file finds the image by hash.
    sent_sha256 = upload.sha256
    fmt, stripped = await res.run_cpu(_sniff_and_strip, upload.path)
    if stripped is not None:
        upload = msgspec.structs.replace(upload, sha256=stripped[0], size=stripped[1])
    also_known_as = sent_sha256 if sent_sha256 != upload.sha256 else None
    existing = await _merge_duplicate(res, upload.sha256, tags, also_known_as)
    if existing is not None:
        return IngestResult(existing, duplicate=True)

    settings = res.settings
    limits = Limits(settings.max_image_pixels, settings.max_video_seconds)
    analysis = await res.run_cpu(analyse_upload, upload.path, fmt, limits)
    return await retry_conflicts(
        lambda: _store_new(res, upload, analysis, tags, also_known_as, uploaded_by, created_at)
    )


def _sniff_and_strip(path: Path) -> tuple[Format, tuple[str, int] | None]:
    fmt = sniff_file(path)
    return fmt, strip_location(path, fmt)


async def _store_new(
    res: Resources,
    upload: ReceivedFile,
    analysis: MediaAnalysis,
    tags: list[str],
    also_known_as: str | None,
    uploaded_by: uuid.UUID | None,
    created_at: dt.datetime | None,
) -> IngestResult:
    info = analysis.info
    thumbnail = analysis.thumbnail
    image_id = uuid.uuid4()
    original_key = keys.original_key(upload.sha256, info.mime_type)
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
                uploaded_by=uploaded_by,
                created_at=created_at,
            ),
        )
        await db.add_tags(conn, image_id, await canonical_tags(conn, tags))
        if also_known_as is not None:
            await db.remember_upload_hash(conn, also_known_as, image_id)
        if info.kind != "still" or analysis.placeholder is None:
            # The preview is made by a worker (domain.media_jobs); the job commits (or rolls back) with the row.
            await queue.enqueue(conn, queue.MEDIA_ENTRYPOINT, image_id.bytes)
        await captions.queue_new_image(conn, image_id)
        # Last before the commit: it takes the one lock that orders neighbour lookups (db/duplicates.py).
        await link_similar(conn, image_id, analysis.phash)
        image = await db.get_image(conn, image_id)
        assert image is not None
    return IngestResult(image, duplicate=False)


async def _merge_duplicate(
    res: Resources, sha256: str, tags: list[str], also_known_as: str | None
) -> db.ImageRow | None:
    async def merge() -> db.ImageRow | None:
        async with res.tx() as conn:
            existing = await db.get_image_by_hash(conn, sha256)
            if existing is None:
                return None
            await db.lock_hash(conn, sha256)
            if also_known_as is not None:
                await db.remember_upload_hash(conn, also_known_as, existing.id)
            return await _add_tags(conn, existing, tags)

    try:
        return await retry_conflicts(merge)
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
