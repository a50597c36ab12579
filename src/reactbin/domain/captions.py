"""Caption text use cases: queue OCR for an image, run an OCR job (in a worker), correct the text by hand,
and re-queue a library (`reactbin reindex --ocr`).

OCR never fails or deletes an image: an unreadable file ends in `text_status: failed` at once; a read that timed
out, an OCR process that died during the read and storage errors are tried again with back-off and end in
`failed` after `JOB_MAX_ATTEMPTS` such attempts. A start that never ended (its worker was stopped or killed:
pgqueuer hands the job to another worker once its heartbeat stops) is not the image's fault and never counts:
pgqueuer counts only the retries a job asked for. A hand-set text (`text_source='manual'`) is never
overwritten: every OCR write is conditional on the text still being OCR's to write.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg

from reactbin import metrics, scratch
from reactbin.db import captions as db
from reactbin.db import images as images_db
from reactbin.db import queue
from reactbin.domain.resources import Resources
from reactbin.errors import ImageNotFound, InvalidText, ObjectMissing, StorageError
from reactbin.media.ocr import Caption, CaptionReader, OcrCrashed, OcrFailed, OcrTimeout
from reactbin.storage import download

log = logging.getLogger(__name__)

MAX_TEXT_LENGTH = 2000
"""Longest caption text kept, by hand or by OCR (a meme caption is a line or three)."""
REINDEX_BATCH = 500
LOST_OCR_GRACE = dt.timedelta(minutes=2)
"""An image pending this long after it was queued, with no queue job, is queued again by the clean-up."""
_LOST_BATCH = 100


class RetryOcr(Exception):
    """The attempt failed for a reason that may pass (storage, a timeout, a dead OCR process); run the job again
    after `delay` seconds."""

    def __init__(self, delay: float, reason: str) -> None:
        super().__init__(reason)
        self.delay = delay
        self.reason = reason


async def queue_new_image(conn: asyncpg.Connection, image_id: uuid.UUID) -> None:
    """Queue a new image's OCR inside its upload transaction (a rollback leaves no job)."""
    await db.mark_queued(conn, image_id)
    await db.queue_ocr(conn, [image_id])


def clean_text(text: str | None) -> str | None:
    """Caption text as stored: trimmed, line ends unified, None when empty.

    Raises:
        InvalidText: it holds a NUL or other control character (PostgreSQL text cannot hold NUL), or is too long.
    """
    if text is None:
        return None
    cleaned = "\n".join(line.strip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")).strip()
    if any(ord(ch) < 32 and ch not in "\n\t" for ch in cleaned):
        raise InvalidText("The text contains control characters")
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in cleaned):
        raise InvalidText("The text contains unpaired surrogates")
    if len(cleaned) > MAX_TEXT_LENGTH:
        raise InvalidText(f"The text is longer than {MAX_TEXT_LENGTH} characters")
    return cleaned or None


async def set_text(res: Resources, image_id: uuid.UUID, text: str | None) -> images_db.ImageRow:
    """Correct an image's caption by hand (empty or None: it has none); OCR never overwrites it afterwards."""
    cleaned = clean_text(text)
    async with res.tx() as conn:
        if not await db.set_manual_text(conn, image_id, cleaned):
            raise ImageNotFound()
        image = await images_db.get_image(conn, image_id)
    assert image is not None
    return image


async def run_ocr_job(res: Resources, reader: CaptionReader, image_id: uuid.UUID, *, failed_attempts: int = 0) -> str:
    """Read one image's caption in a worker and record it; return the outcome (for logs and tests).

    `failed_attempts` is how many earlier attempts of this job failed and asked to be retried (pgqueuer's count,
    which starts lost with a dead worker never raise). Idempotent: an image that is gone, already read or
    hand-set is left alone.

    Raises:
        RetryOcr: the attempt failed for a reason that may pass and attempts remain (the image stays pending).
    """
    async with res.db() as conn:
        target = await db.claim_ocr(conn, image_id)
    if target is None:
        return "skipped"
    if target.attempts > failed_attempts + 1:
        lost = target.attempts - failed_attempts - 1
        log.info("ocr %s: %d earlier start(s) ended with their worker; they do not count", image_id, lost)
    settings = res.settings
    try:
        with tempfile.TemporaryDirectory(prefix="reactbin-ocr-", dir=scratch.process_dir()) as tmp:
            source = Path(tmp) / "original"
            await download(res.storage, target.storage_key, source)
            caption = await _read(reader, source, target.mime_type, settings.ocr_timeout)
    except ObjectMissing:
        return await _finish(res, image_id, "failed", None, "the original is no longer stored")
    except OcrFailed as exc:
        return await _finish(res, image_id, "failed", None, str(exc))
    except (OcrTimeout, OcrCrashed, StorageError) as exc:
        reason = str(exc)
        if isinstance(exc, StorageError):
            reason = f"storage failed ({type(exc.__cause__ or exc).__name__})"
        attempt, limit = failed_attempts + 1, settings.job_max_attempts
        if attempt >= limit:
            return await _finish(res, image_id, "failed", None, f"{reason} (attempt {attempt} of {limit})")
        delay = settings.job_retry_delay * 2 ** (attempt - 1)
        log.warning("ocr %s: %s (attempt %d of %d); trying again in %.1f s", image_id, reason, attempt, limit, delay)
        raise RetryOcr(delay, f"{reason} (attempt {attempt} of {limit})") from exc
    text = caption.text.replace("\x00", "")[:MAX_TEXT_LENGTH].strip()
    log.info("ocr %s: %d characters from %d frame(s) in %.2f s", image_id, len(text), caption.frames, caption.seconds)
    return await _finish(res, image_id, "done" if text else "none", text or None, "")


async def _read(reader: CaptionReader, source: Path, mime_type: str, timeout: float) -> Caption:
    """`reader.read` off the event loop, timed by outcome for the metrics (a read cut short by a stop is not)."""
    started = time.perf_counter()
    outcome = "crashed"
    try:
        caption = await asyncio.to_thread(reader.read, source, mime_type, timeout)
        outcome = "text" if caption.text.strip() else "none"
        return caption
    except OcrTimeout:
        outcome = "timeout"
        raise
    except OcrFailed:
        outcome = "unreadable"
        raise
    except asyncio.CancelledError:
        outcome = ""
        raise
    finally:
        if outcome:
            metrics.OCR_SECONDS.labels(outcome).observe(time.perf_counter() - started)


async def hand_back(res: Resources, image_id: uuid.UUID, queue_job_id: int) -> None:
    """Give an image whose OCR job was cut short by a stop a new queue job at once, uncounted (pgqueuer drops a
    cancelled job; without this the image would wait for the clean-up's `LOST_OCR_GRACE`)."""
    async with res.tx() as conn:
        # The cancelled row still holds the image's dedupe key until pgqueuer logs it; the new job needs it.
        await queue.release_dedupe_key(conn, queue_job_id)
        await db.touch_queued(conn, [image_id])
        await db.queue_ocr(conn, [image_id])


async def _finish(res: Resources, image_id: uuid.UUID, status: db.Outcome, text: str | None, reason: str) -> str:
    if status == "failed":
        log.warning("ocr %s failed: %s", image_id, reason)
    async with res.db() as conn:
        written = await db.finish_ocr(conn, image_id, status, text)
    return status if written else "superseded"


async def queue_reindex(res: Resources, *, redo_all: bool, batch_size: int = REINDEX_BATCH) -> AsyncIterator[int]:
    """Queue OCR for every image that needs it (with `redo_all`, every image whose text is not hand-set), one
    batch per transaction; yield the running total of images set back to pending after each batch.

    Safe while serving and with several workers or reindex runs: each image has at most one queued job.
    """
    after: uuid.UUID | None = None
    total = 0
    while True:
        async with res.tx() as conn:
            ids = await db.mark_batch_for_reindex(conn, after=after, redo_all=redo_all, limit=batch_size)
            await db.queue_ocr(conn, ids)
        if not ids:
            return
        total += len(ids)
        after = ids[-1]
        yield total


async def reindex_counts(res: Resources, since: dt.datetime) -> db.ReindexCounts:
    async with res.db() as conn:
        return await db.reindex_counts(conn, since)


async def requeue_lost_ocr(res: Resources) -> int:
    """Queue again images left pending whose OCR job vanished (a worker stopped mid-job); normally none."""
    async with res.tx() as conn:
        lost = await db.lost_ocr_jobs(conn, older_than=LOST_OCR_GRACE, limit=_LOST_BATCH)
        if lost:
            await db.touch_queued(conn, lost)
            await db.queue_ocr(conn, lost)
    if lost:
        log.warning("re-queued OCR of %d image(s) that had lost their job", len(lost))
    return len(lost)
