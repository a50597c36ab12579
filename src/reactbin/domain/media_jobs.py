"""Media indexing of stored images: probe what was never probed, make missing placeholders, previews and
perceptual hashes.

Runs as the `media` queue job (queued by an upload of an animation or video, and by `reactbin reindex --media`)
and inline from `reactbin fsck --repair`. Idempotent and safe with several workers: every write of a derived
object and its row happens under the image's content-hash lock, and objects are content-addressed, so two runs
for one image write the same bytes to the same key. A derivation that fails leaves its field null and never
touches the original. The queue job is tried again with back-off while storage fails (up to `JOB_MAX_ATTEMPTS`);
a file the media code refuses is final (fsck or reindex may try it again).
"""

from __future__ import annotations

import logging
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg
import msgspec

from reactbin import metrics, scratch
from reactbin.db import images as db
from reactbin.db import queue
from reactbin.db.duplicates import link_similar
from reactbin.domain.resources import Resources
from reactbin.errors import ObjectMissing, ReactbinError, StorageError
from reactbin.media.analyse import analyse_stored
from reactbin.media.formats import Limits
from reactbin.media.perceptual import safe_perceptual_hash
from reactbin.media.placeholder import placeholder_of
from reactbin.media.preview import make_preview
from reactbin.storage import download, keys

log = logging.getLogger(__name__)


class MediaOutcome(msgspec.Struct, kw_only=True):
    """What one run did; `failed` names the step that failed (`probe`, `placeholder`, `preview`, `hash`) with its
    code."""

    probed: bool = False
    placeholder: bool = False
    preview: bool = False
    hashed: bool = False
    failed: list[str] = msgspec.field(default_factory=list)


class RetryMedia(Exception):
    """Storage failed during the job; run it again after `delay` seconds."""

    def __init__(self, delay: float, reason: str) -> None:
        super().__init__(reason)
        self.delay = delay
        self.reason = reason


def media_payload(image_id: uuid.UUID, *, reprobe: bool = False) -> bytes:
    return image_id.bytes + (b"!" if reprobe else b"")


def parse_media_payload(payload: bytes) -> tuple[uuid.UUID, bool]:
    """Raises ValueError for a payload that names no image."""
    return uuid.UUID(bytes=payload[:16]), payload[16:] == b"!"


async def enqueue_media(conn: asyncpg.Connection, image_id: uuid.UUID, *, reprobe: bool = False) -> None:
    await queue.enqueue(conn, queue.MEDIA_ENTRYPOINT, media_payload(image_id, reprobe=reprobe))


async def queue_again(res: Resources, image_id: uuid.UUID, *, reprobe: bool) -> None:
    """A new media job for an image whose job a stop cut short (pgqueuer drops a cancelled job)."""
    async with res.tx() as conn:
        await enqueue_media(conn, image_id, reprobe=reprobe)


async def run_media_job(
    res: Resources, image_id: uuid.UUID, *, reprobe: bool, failed_attempts: int = 0
) -> MediaOutcome:
    """The `media` queue job: `index_media`, asking to be run again while storage fails.

    `failed_attempts` is how many earlier attempts asked to be retried (pgqueuer's count: a start lost with a dead
    worker does not raise it).

    Raises:
        RetryMedia: storage failed and attempts remain.
    """
    try:
        return await index_media(res, image_id, reprobe=reprobe)
    except ObjectMissing:
        return MediaOutcome(failed=["original content_not_found"])
    except StorageError as exc:
        attempt, limit = failed_attempts + 1, res.settings.job_max_attempts
        reason = f"storage failed ({type(exc.__cause__ or exc).__name__}) (attempt {attempt} of {limit})"
        if attempt >= limit:
            return MediaOutcome(failed=[reason])
        raise RetryMedia(res.settings.job_retry_delay * 2 ** (attempt - 1), reason) from exc


async def index_media(
    res: Resources, image_id: uuid.UUID, *, reprobe: bool = False, rebuild_preview: bool = False
) -> MediaOutcome:
    """Bring one image's media facts, placeholder, preview and perceptual hash up to date; a vanished image is a
    no-op.

    `reprobe` probes again and remakes the preview even when nothing is missing; `rebuild_preview` remakes the
    preview (fsck found its object gone).
    """
    outcome = MediaOutcome()
    async with res.db() as conn:
        row = await db.stored_image(conn, image_id)
    if row is None or not (reprobe or rebuild_preview or row.needs_media):
        return outcome
    wants_preview = row.kind != "still" and (reprobe or rebuild_preview or row.preview_key is None)
    if reprobe or not row.media_indexed or wants_preview:
        await _from_original(res, row, outcome, reprobe=reprobe, rebuild_preview=rebuild_preview)
    elif row.placeholder is None:
        await _placeholder(res, row, outcome)
    if reprobe or not row.phash_indexed:
        await _hash(res, row, outcome)
    return outcome


async def _from_original(
    res: Resources, row: db.StoredImage, outcome: MediaOutcome, *, reprobe: bool, rebuild_preview: bool
) -> None:
    """What needs the original's bytes: a probe, the placeholder it gives, a preview."""
    with tempfile.TemporaryDirectory(prefix="reactbin-media-", dir=scratch.process_dir()) as tmp:
        source = Path(tmp) / "original"
        await download(res.storage, row.storage_key, source)
        kind = row.kind
        placeholder = row.placeholder
        if reprobe or not row.media_indexed:
            kind, made = await _probe(res, row, source, outcome)
            placeholder = placeholder or made
        if placeholder is not None and row.placeholder is None:
            async with res.tx() as conn:
                await db.set_placeholder(conn, row.id, placeholder)
            outcome.placeholder = True
        elif placeholder is None:
            await _placeholder(res, row, outcome)
        if kind != "still" and (reprobe or rebuild_preview or row.preview_key is None):
            await _make_preview(res, row, source, outcome)


async def _placeholder(res: Resources, row: db.StoredImage, outcome: MediaOutcome) -> None:
    """A placeholder from the stored thumbnail (no need for the original)."""
    if row.thumbnail_key is None:
        return
    thumbnail = await res.storage.read_bytes(row.thumbnail_key)
    placeholder = await res.run_cpu(_placeholder_of_stored, thumbnail)
    if placeholder is None:
        outcome.failed.append("placeholder")
        return
    async with res.tx() as conn:
        await db.set_placeholder(conn, row.id, placeholder)
    outcome.placeholder = True


async def _hash(res: Resources, row: db.StoredImage, outcome: MediaOutcome) -> None:
    """The perceptual hash of the stored thumbnail (the input an upload hashes); without one, none is recorded and
    the image simply has no similar images (a corrupt frame is never an error)."""
    async with res.db() as conn:
        current = await db.stored_image(conn, row.id)  # the probe above may have made a new thumbnail
    if current is None:
        return
    phash = None
    if current.thumbnail_key is not None:
        try:
            thumbnail = await res.storage.read_bytes(current.thumbnail_key)
        except ReactbinError as exc:
            log.warning("no thumbnail to hash for image %s (%s)", row.id, exc.code)
        else:
            phash = await res.run_cpu(safe_perceptual_hash, thumbnail)
    if phash is None:
        outcome.failed.append("hash")
    async with res.tx() as conn:
        if await db.stored_image(conn, row.id) is None:
            return
        await link_similar(conn, row.id, phash)
    outcome.hashed = phash is not None


async def _probe(
    res: Resources, row: db.StoredImage, source: Path, outcome: MediaOutcome
) -> tuple[db.Kind, str | None]:
    settings = res.settings
    limits = Limits(settings.max_image_pixels, settings.max_video_seconds)
    try:
        analysis = await res.run_cpu(analyse_stored, source, limits)
    except ReactbinError as exc:
        # Stored before today's checks and refused by them: keep it as a still rather than retry forever.
        log.warning("image %s could not be probed (%s); kept as a still", row.id, exc.code)
        outcome.failed.append(f"probe {exc.code}")
        async with res.tx() as conn:
            await db.set_media_indexed(conn, row.id)
        return row.kind, None
    info = analysis.info
    facts = db.MediaFacts(
        kind=info.kind,
        width=info.width,
        height=info.height,
        duration_ms=info.duration_ms,
        frame_count=info.frame_count,
        has_audio=info.has_audio,
    )
    async with res.tx() as conn:
        await db.set_media(conn, row.id, facts)
    outcome.probed = True
    return info.kind, analysis.placeholder


async def _make_preview(res: Resources, row: db.StoredImage, source: Path, outcome: MediaOutcome) -> None:
    started = time.perf_counter()
    try:
        preview = await res.run_cpu(make_preview, source, row.mime_type)
    except ReactbinError as exc:
        metrics.PREVIEW_SECONDS.labels("failed").observe(time.perf_counter() - started)
        log.warning("no preview for image %s (%s)", row.id, exc.code)
        outcome.failed.append(f"preview {exc.code}")
        return
    metrics.PREVIEW_SECONDS.labels("made").observe(time.perf_counter() - started)
    key = keys.preview_key(row.hash)
    async with res.tx() as conn:
        # Under the hash lock: a delete of this content (or fsck) waits, so the object never outlives its row.
        await db.lock_hash(conn, row.hash)
        if await db.stored_image(conn, row.id) is None:
            return
        await res.storage.put_bytes(key, preview.data, "image/webp")
        if not await db.set_preview(conn, row.id, key=key, sha256=preview.sha256, size_bytes=len(preview.data)):
            # The row was deleted between the check and the write (a delete takes no hash lock for the row itself):
            # its objects are already being removed without this one, so remove it here.
            await res.storage.delete(key)
            return
    outcome.preview = True


def _placeholder_of_stored(thumbnail: bytes) -> str | None:
    try:
        return placeholder_of(thumbnail)
    except Exception:
        log.warning("could not make a placeholder from a stored thumbnail", exc_info=True)
        return None


async def queue_reindex(res: Resources, *, everything: bool) -> int:
    """Queue a media job for every image that lacks something (or for every image); return how many."""
    async with res.db() as conn:
        ids = await db.images_needing_media(conn, everything=everything)
    for start in range(0, len(ids), 500):
        async with res.tx() as conn:
            for image_id in ids[start : start + 500]:
                await enqueue_media(conn, image_id, reprobe=everything)
    return len(ids)
