"""`reactbin fsck`: find rows whose objects are missing, objects no row references, images without thumbnails.

Animations and videos without their preview, and images without a placeholder or never probed for their media
kind, are reported too; `--repair` makes them (the same work as the `media` queue job).

Job objects (`jobs/`) count as orphans when their job no longer exists.

Safe while the service runs: every decision about one content hash is re-checked under the same advisory lock
that uploads and deletes take, so an upload in flight (objects written, row not yet committed) is never mistaken
for an orphan.
"""

from __future__ import annotations

import asyncio
import re
import tempfile
import uuid
from pathlib import Path

import asyncpg
import msgspec

from reactbin import scratch
from reactbin.db import images as db
from reactbin.db import jobs as jobs_db
from reactbin.domain.media_jobs import index_media
from reactbin.domain.resources import Resources
from reactbin.errors import ReactbinError
from reactbin.media.analyse import analyse_stored
from reactbin.media.formats import Limits
from reactbin.storage import download, keys

_HASH_IN_KEY = re.compile(r"^(?:images|thumbnails/v\d+|previews/v\d+)/([0-9a-f]{64})\.[a-z0-9]+$")
_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
# Job thumbnails, job sources, and the sources of jobs submitted before sources moved under private/.
_JOB_IN_KEY = re.compile(
    rf"^(?:jobs/(?:sources/)?({_UUID})|{re.escape(keys.JOB_SOURCE_PREFIX)}({_UUID})-[0-9a-f]{{32}})\.[a-z]+$"
)
_JOB_PREFIXES = ("jobs/", keys.JOB_SOURCE_PREFIX)
_CONCURRENCY = 16


class Report(msgspec.Struct, kw_only=True):
    images_checked: int = 0
    objects_checked: int = 0
    missing_originals: list[str] = msgspec.field(default_factory=list)
    missing_thumbnails: list[str] = msgspec.field(default_factory=list)
    missing_media: list[str] = msgspec.field(default_factory=list)
    """Images lacking a preview (animations, videos), a placeholder, or never probed for their kind."""
    orphan_objects: list[str] = msgspec.field(default_factory=list)
    thumbnails_regenerated: list[str] = msgspec.field(default_factory=list)
    orphans_removed: list[str] = msgspec.field(default_factory=list)
    media_repaired: list[str] = msgspec.field(default_factory=list)
    repair_failures: list[str] = msgspec.field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (self.missing_originals or self.missing_thumbnails or self.orphan_objects or self.missing_media)


async def check(res: Resources, *, repair: bool) -> Report:
    """Compare the database with the store; with `repair`, regenerate thumbnails and remove orphans."""
    report = Report()
    async with res.db() as conn:
        rows = await db.stored_images(conn)
    report.images_checked = len(rows)
    limit = asyncio.Semaphore(_CONCURRENCY)

    async def inspect(row: db.StoredImage) -> None:
        async with limit:
            if not await res.storage.exists(row.storage_key):
                report.missing_originals.append(f"{row.id} {row.storage_key}")
                return
            if row.thumbnail_key is None or not await res.storage.exists(row.thumbnail_key):
                report.missing_thumbnails.append(str(row.id))
                if repair:
                    await _regenerate_thumbnail(res, row, report)
            preview_gone = row.preview_key is not None and not await res.storage.exists(row.preview_key)
            if row.needs_media or preview_gone:
                report.missing_media.append(str(row.id))
                if repair:
                    await _repair_media(res, row, report, rebuild_preview=preview_gone)

    await asyncio.gather(*(inspect(row) for row in rows))

    referenced = {row.storage_key for row in rows}
    referenced |= {row.thumbnail_key for row in rows if row.thumbnail_key}
    referenced |= {row.preview_key for row in rows if row.preview_key}
    for prefix in ("images/", "thumbnails/", "previews/", *_JOB_PREFIXES):
        async for key in res.storage.list_keys(prefix):
            report.objects_checked += 1
            if prefix in _JOB_PREFIXES:
                orphan = await _is_job_orphan(res, key, delete=repair)
            else:
                orphan = key not in referenced and await _is_orphan(res, key, delete=repair)
            if orphan:
                report.orphan_objects.append(key)
                if repair:
                    report.orphans_removed.append(key)
    for field in ("missing_originals", "missing_thumbnails", "missing_media", "orphan_objects"):
        getattr(report, field).sort()
    return report


async def _is_orphan(res: Resources, key: str, *, delete: bool) -> bool:
    match = _HASH_IN_KEY.match(key)
    async with res.tx() as conn:
        if match is not None:
            await db.lock_hash(conn, match[1])
            # Under the lock no upload of this content is half-way; a row now means the object is in use.
            if await db.hash_in_use(conn, match[1]) and await _referenced(conn, key):
                return False
        if delete:
            await res.storage.delete(key)
    return True


async def _is_job_orphan(res: Resources, key: str, *, delete: bool) -> bool:
    """A job's source or thumbnail whose job no longer exists (expired jobs take their objects with them)."""
    match = _JOB_IN_KEY.match(key)
    async with res.tx() as conn:
        if match is not None:
            job_id = uuid.UUID(match[1] or match[2])
            # Under the lock a submission is either committed (its row exists) or gone with its source.
            await jobs_db.lock_job(conn, job_id)
            if await jobs_db.job_exists(conn, job_id):
                return False
        if delete:
            await res.storage.delete(key)
    return True


async def _referenced(conn: asyncpg.Connection, key: str) -> bool:
    used: bool = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM images WHERE storage_key = $1 OR thumbnail_key = $1 OR preview_key = $1)", key
    )
    return used


async def _repair_media(res: Resources, row: db.StoredImage, report: Report, *, rebuild_preview: bool) -> None:
    try:
        outcome = await index_media(res, row.id, rebuild_preview=rebuild_preview)
    except (ReactbinError, OSError) as exc:
        code = exc.code if isinstance(exc, ReactbinError) else "io_error"
        report.repair_failures.append(f"{row.id} media {code}")
        return
    if outcome.failed:
        report.repair_failures.append(f"{row.id} media {', '.join(outcome.failed)}")
    else:
        report.media_repaired.append(str(row.id))


async def _regenerate_thumbnail(res: Resources, row: db.StoredImage, report: Report) -> None:
    with tempfile.TemporaryDirectory(prefix="reactbin-fsck-", dir=scratch.process_dir()) as tmp:
        source = Path(tmp) / "original"
        try:
            await download(res.storage, row.storage_key, source)
            settings = res.settings
            analysis = await res.run_cpu(
                analyse_stored, source, Limits(settings.max_image_pixels, settings.max_video_seconds)
            )
            key = keys.thumbnail_key(row.hash)
            thumbnail = analysis.thumbnail
            async with res.tx() as conn:
                await db.lock_hash(conn, row.hash)
                await res.storage.put_bytes(key, thumbnail.data, thumbnail.mime_type)
                await db.set_thumbnail(conn, row.id, key=key, sha256=thumbnail.sha256, size_bytes=len(thumbnail.data))
        except (ReactbinError, OSError) as exc:
            code = exc.code if isinstance(exc, ReactbinError) else "io_error"
            report.repair_failures.append(f"{row.id} {code}")
            return
    report.thumbnails_regenerated.append(str(row.id))
