"""Thumbnail job use cases: submit, run (in a worker), poll, list, serve the result, expire.

A submitted file is validated like an image upload before anything is queued, so a bad file is a 4xx at
once, never a failed job. The source is stored first, then the job row and its queue job commit together in
one transaction (a failure deletes the source again). Workers claim a job in `thumbnail_jobs`, which counts
every start: pgqueuer re-runs a crashed worker's job without counting it, so the cap lives here.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import tempfile
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

import msgspec

from reactbin import scratch
from reactbin.db import jobs as db
from reactbin.db import queue
from reactbin.domain.cursors import decode_cursor, page_of
from reactbin.domain.resources import Resources, cleanup_on_error
from reactbin.domain.serving.content import Content, StoredObject, open_stored
from reactbin.domain.uploads import ReceivedFile
from reactbin.errors import (
    EmptyFile,
    ImageTooLarge,
    InvalidImage,
    InvalidThumbnailOptions,
    JobNotFound,
    JobNotReady,
    ObjectMissing,
    StorageError,
    UnsupportedMediaType,
)
from reactbin.media.analyse import check_job_image, render_job_thumbnail
from reactbin.media.formats import FORMATS
from reactbin.storage import download, keys

log = logging.getLogger(__name__)

MIN_BOX = 16
MAX_BOX = 2048
DEFAULT_BOX = 256
LOST_JOB_GRACE = dt.timedelta(minutes=1)
"""An unfinished job without a queue job is re-queued only once it is this old (never one being submitted)."""
_MAINTENANCE_BATCH = 100

BoxSide = Annotated[int, msgspec.Meta(ge=MIN_BOX, le=MAX_BOX)]


class ThumbnailSpec(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What a client asks for: a box to fit the image into (or to cover), and the output format."""

    width: BoxSide = DEFAULT_BOX
    height: BoxSide = DEFAULT_BOX
    fit: db.Fit = "contain"
    format: db.Format = "webp"


class JobPage(msgspec.Struct, frozen=True):
    items: list[db.JobRow]
    next_cursor: str | None


class JobStatistics(msgspec.Struct, frozen=True):
    by_state: dict[str, int]
    queue_depth: int


async def job_statistics(res: Resources) -> JobStatistics:
    """Jobs by state and the queue's depth, for the metrics."""
    async with res.db() as conn:
        return JobStatistics(by_state=await db.count_jobs_by_status(conn), queue_depth=await db.queue_depth(conn))


class RetryLater(Exception):
    """The job failed for a reason that may pass (storage unreachable); run it again after `delay` seconds."""

    def __init__(self, delay: float, reason: str) -> None:
        super().__init__(reason)
        self.delay = delay
        self.reason = reason


# Errors that say the bytes themselves are bad: retrying cannot help.
_PERMANENT = (EmptyFile, UnsupportedMediaType, InvalidImage, ImageTooLarge)


def parse_spec(fields: Mapping[str, str]) -> ThumbnailSpec:
    """Read the form's text fields; a field left out takes its default, an empty one is refused (not an integer).

    Raises:
        InvalidThumbnailOptions: naming the field that is empty, out of range, unknown or malformed.
    """
    given = {name: value.strip().lower() for name, value in fields.items()}
    empty = next((name for name, value in given.items() if not value), None)
    try:
        if empty is not None:
            raise msgspec.ValidationError(f"`{empty}` is empty: leave the field out for its default")
        return msgspec.convert(given, ThumbnailSpec, strict=False)
    except msgspec.ValidationError as exc:
        raise InvalidThumbnailOptions(
            f"Invalid thumbnail options ({exc}); width and height are {MIN_BOX}..{MAX_BOX}, "
            "fit is contain or cover, format is webp, jpeg or png"
        ) from None


async def submit_thumbnail_job(res: Resources, upload: ReceivedFile, spec: ThumbnailSpec) -> uuid.UUID:
    """Validate the upload, store it, and queue its job; nothing is left behind if any step fails."""
    fmt, _, _ = await res.run_cpu(check_job_image, upload.path, res.settings.max_image_pixels)
    mime_type = fmt.mime_type
    job_id = uuid.uuid4()
    source_key = keys.job_source_key(str(job_id), mime_type)
    async with res.tx() as conn, cleanup_on_error(res.storage, [source_key]):
        # Held until commit: `reactbin fsck` never takes a source stored just before its row for an orphan.
        await db.lock_job(conn, job_id)
        await res.storage.put_file(source_key, upload.path, mime_type)
        # NOTIFY is delivered at commit, so a worker never wakes before the row exists.
        queue_job_id = await queue.enqueue(conn, queue.THUMBNAIL_ENTRYPOINT, job_id.bytes)
        await db.insert_job(
            conn,
            db.NewJob(
                id=job_id,
                source_key=source_key,
                source_mime_type=mime_type,
                box_width=spec.width,
                box_height=spec.height,
                fit=spec.fit,
                format=spec.format,
            ),
            queue_job_id,
        )
    return job_id


async def get_job(res: Resources, job_id: uuid.UUID) -> db.JobRow:
    async with res.db() as conn:
        job = await db.get_job(conn, job_id)
    if job is None:
        raise JobNotFound()
    return job


async def list_jobs(res: Resources, *, status: db.JobStatus | None, limit: int, cursor: str | None) -> JobPage:
    """Newest first, optionally of one status, one keyset page at a time."""
    after = decode_cursor(cursor) if cursor else None
    async with res.db() as conn:
        rows = await db.list_jobs(conn, status=status, limit=limit + 1, after=after)
    items, next_cursor = page_of(rows, limit)
    return JobPage(items=items, next_cursor=next_cursor)


async def job_result(res: Resources, job_id: uuid.UUID) -> db.JobResult:
    """The thumbnail of a job that succeeded.

    Raises:
        JobNotFound: unknown or expired.
        JobNotReady: still pending or running, or failed (the detail says which).
    """
    job = await get_job(res, job_id)
    if job.result is not None:
        return job.result
    if job.status == "FAILURE":
        raise JobNotReady(f"The job failed ({job.error_code}: {job.error_detail}); it has no thumbnail")
    raise JobNotReady(f"The job is {job.status}; poll it until its status is SUCCESS")


async def open_job_thumbnail(
    res: Resources,
    job_id: uuid.UUID,
    *,
    if_none_match: str | None,
    range_header: str | None,
    if_range: str | None,
    with_body: bool,
) -> Content:
    """Decide what to send for a finished job's thumbnail (the proxy route behind `thumbnail_url`)."""
    result = await job_result(res, job_id)
    target = StoredObject(result.key, f'"{result.hash}"', result.mime_type, result.size_bytes)
    return await open_stored(
        res, target, if_none_match=if_none_match, range_header=range_header, if_range=if_range, with_body=with_body
    )


async def run_thumbnail_job(res: Resources, job_id: uuid.UUID, *, queue_job_id: int, worker: str) -> None:
    """Run one job in a worker: claim it, render the thumbnail off the event loop, store it, record the outcome.

    Idempotent: a job that finished, expired or moved to another queue job is left alone, and the result key
    depends only on the job, so running the same job twice stores the same object.

    Raises:
        RetryLater: storage failed and attempts remain; the job is PENDING again.
    """
    token = uuid.uuid4()
    async with res.db() as conn:
        job = await db.claim_job(conn, job_id, queue_job_id, token, worker)
    if job is None:
        log.info("job %s: nothing to do (finished, expired or superseded)", job_id)
        return
    limit = res.settings.job_max_attempts
    if job.attempts > limit:
        # Earlier starts never finished: the worker died (killed, out of memory) every time.
        await _fail(res, job, token, "too_many_attempts", f"The job was started {limit} times without finishing")
        return
    try:
        result = await _render(res, job)
    except _PERMANENT as exc:
        await _fail(res, job, token, exc.code, exc.detail)
        return
    except ObjectMissing:
        await _fail(res, job, token, "source_missing", "The submitted image is no longer stored")
        return
    except StorageError as exc:
        if job.attempts >= limit:
            await _fail(res, job, token, exc.code, f"Storage kept failing; gave up after {job.attempts} attempts")
            return
        async with res.db() as conn:
            await db.release_job(conn, job.id, token)
        delay = res.settings.job_retry_delay * 2 ** (job.attempts - 1)
        raise RetryLater(delay, f"storage failed on attempt {job.attempts}: {type(exc.__cause__).__name__}") from exc
    ttl = dt.timedelta(seconds=res.settings.job_ttl)
    async with res.db() as conn:
        finished = await db.finish_success(conn, job.id, token, result, ttl)
    if finished:
        await _discard_source(res, job)
    else:
        log.info("job %s: finished by another worker meanwhile", job_id)


async def _render(res: Resources, job: db.ClaimedJob) -> db.JobResult:
    # The source goes to a temp file, not memory: a worker runs several jobs of up to MAX_UPLOAD_BYTES at once.
    with tempfile.TemporaryDirectory(prefix="reactbin-job-", dir=scratch.process_dir()) as tmp:
        source = Path(tmp) / "source"
        await download(res.storage, job.source_key, source)
        thumbnail = await res.run_cpu(
            render_job_thumbnail,
            source,
            FORMATS[job.source_mime_type],
            res.settings.max_image_pixels,
            width=job.box_width,
            height=job.box_height,
            fit=job.fit,
            encoding=job.format,
        )
    key = keys.job_thumbnail_key(str(job.id), thumbnail.mime_type)
    await res.storage.put_bytes(key, thumbnail.data, thumbnail.mime_type)
    return db.JobResult(
        key=key,
        hash=thumbnail.sha256,
        width=thumbnail.width,
        height=thumbnail.height,
        mime_type=thumbnail.mime_type,
        size_bytes=len(thumbnail.data),
    )


async def _fail(res: Resources, job: db.ClaimedJob, token: uuid.UUID, code: str, detail: str) -> None:
    ttl = dt.timedelta(seconds=res.settings.job_ttl)
    async with res.db() as conn:
        failed = await db.finish_failure(conn, job.id, token, code, detail, ttl)
    log.info("job %s failed: %s", job.id, code)
    if failed:
        await _discard_source(res, job)


async def _discard_source(res: Resources, job: db.ClaimedJob) -> None:
    """The source is not needed once the job has finished; the expiry clean-up retries if this fails."""
    with contextlib.suppress(StorageError):
        await res.storage.delete(job.source_key)


class _NotRequeued(Exception):
    pass


async def requeue_job(res: Resources, job_id: uuid.UUID) -> bool:
    """Give an unfinished job a new queue job (its own was cancelled); False if it had finished meanwhile."""
    try:
        async with res.tx() as conn:
            queue_job_id = await queue.enqueue(conn, queue.THUMBNAIL_ENTRYPOINT, job_id.bytes)
            if not await db.assign_queue_job(conn, job_id, queue_job_id):
                raise _NotRequeued()
    except _NotRequeued:
        return False
    return True


async def requeue_lost_jobs(res: Resources) -> int:
    """Re-queue unfinished jobs whose queue job vanished; a safety net, normally finds nothing."""
    async with res.tx() as conn:
        lost = await db.lock_unqueued_jobs(conn, older_than=LOST_JOB_GRACE, limit=_MAINTENANCE_BATCH)
        for job_id in lost:
            await db.assign_queue_job(conn, job_id, await queue.enqueue(conn, queue.THUMBNAIL_ENTRYPOINT, job_id.bytes))
    if lost:
        log.warning("re-queued %d job(s) that had lost their queue job", len(lost))
    return len(lost)


async def purge_expired_jobs(res: Resources) -> int:
    """Delete expired jobs and their objects; a row goes only with its objects (a storage error keeps both)."""
    total = 0
    while True:
        async with res.tx() as conn:
            expired = await db.delete_expired_jobs(conn, limit=_MAINTENANCE_BATCH)
            stored = [key for job in expired for key in (job.source_key, job.result_key) if key is not None]
            await asyncio.gather(*(res.storage.delete(key) for key in stored))
        total += len(expired)
        if len(expired) < _MAINTENANCE_BATCH:
            return total


async def expire_unstarted_jobs(res: Resources) -> int:
    """Fail jobs no worker started within JOB_TTL (none runs, or all are stuck) and delete their sources."""
    ttl = dt.timedelta(seconds=res.settings.job_ttl)
    total = 0
    while True:
        async with res.tx() as conn:
            expired = await db.expire_unstarted_jobs(conn, older_than=ttl, ttl=ttl, limit=_MAINTENANCE_BATCH)
        for job in expired:
            with contextlib.suppress(StorageError):  # else the expiry clean-up deletes it with the row
                await res.storage.delete(job.source_key)
        total += len(expired)
        if len(expired) < _MAINTENANCE_BATCH:
            return total


async def run_maintenance(res: Resources) -> None:
    """The periodic clean-up: re-queue lost jobs, fail unstarted ones, expire finished ones, prune the queue log."""
    requeued = await requeue_lost_jobs(res)
    unstarted = await expire_unstarted_jobs(res)
    purged = await purge_expired_jobs(res)
    async with res.db() as conn:
        pruned = await queue.prune_history(conn, dt.timedelta(seconds=res.settings.job_ttl))
    log.info(
        "job maintenance: %d re-queued, %d never started, %d expired, %d queue log rows pruned",
        requeued,
        unstarted,
        purged,
        pruned,
    )
