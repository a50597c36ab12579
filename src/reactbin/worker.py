"""The job worker: pgqueuer dequeues; `domain.thumbnail_jobs` makes thumbnails, `domain.media_jobs` previews,
`domain.captions` reads caption text.

One `JobWorker` runs in each `reactbin worker` process, and inside `serve`/`dev` unless `RUN_WORKER=false`.
Any number may run against one database: pgqueuer hands each queue job to one worker (`FOR UPDATE SKIP
LOCKED`), and a job whose worker stops heart-beating for `JOB_HEARTBEAT_TIMEOUT` is picked up by another.

pgqueuer gets its own small pool so a busy API can never starve its heartbeats (a starved heartbeat would
make another worker take over a job that is still running). If the queue connection breaks (database
restart), the worker starts pgqueuer again with back-off instead of exiting.

A worker with `RUN_OCR` takes OCR jobs too (a worker without it leaves them to others). Its OCR model lives in
one child process, started at the first OCR job and stopped with the worker (see `media.ocr.CaptionReader`).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator

import asyncpg
from pgqueuer import PgQueuer
from pgqueuer.errors import RetryRequested
from pgqueuer.models import Job, Schedule

from reactbin.db.queue import MEDIA_ENTRYPOINT, OCR_ENTRYPOINT, THUMBNAIL_ENTRYPOINT
from reactbin.domain import captions, media_jobs, thumbnail_jobs
from reactbin.domain.resources import Resources
from reactbin.media.ocr import CaptionReader

log = logging.getLogger(__name__)

MAINTENANCE_ENTRYPOINT = "reactbin.jobs.maintenance"
MAINTENANCE_SCHEDULE = "* * * * *"
"""Every minute; pgqueuer runs each tick on one worker only."""
_QUEUE_POOL_SIZE = 4  # LISTEN connection + dequeue + heartbeat and log flushes
_RESTART_DELAYS = (1.0, 2.0, 5.0, 10.0, 30.0)
_STABLE_AFTER = 60.0  # a queuer that ran this long before failing starts the back-off over


class JobWorker:
    """Runs thumbnail and OCR jobs, at most `concurrency` at once, until `stop()`."""

    def __init__(self, res: Resources, *, concurrency: int, reader: CaptionReader | None = None) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.res = res
        self.concurrency = concurrency
        self.name = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._slots = asyncio.Semaphore(concurrency)
        self._stopping = asyncio.Event()
        self._queuer: PgQueuer | None = None
        settings = res.settings
        # A reader passed in is shared (tests keep one model for the session) and stays open; our own closes.
        self.reader = reader if settings.run_ocr else None
        self._owns_reader = False
        if settings.run_ocr and reader is None:
            self._owns_reader = True
            self.reader = CaptionReader(
                threads=settings.ocr_threads, frames=settings.ocr_frames, max_pixels=settings.max_image_pixels
            )

    def stop(self) -> None:
        """Stop taking jobs; `run()` returns once the running ones have finished."""
        self._stopping.set()
        if self._queuer is not None:
            self._queuer.shutdown.set()

    async def run(self) -> None:
        """Process jobs until `stop()`, restarting pgqueuer with back-off whenever it fails."""
        try:
            await self._run_with_restarts()
        finally:
            if self.reader is not None and self._owns_reader:
                await asyncio.to_thread(self.reader.close)

    async def _run_with_restarts(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            started = time.monotonic()
            try:
                await self._run_queuer()
            except Exception:
                failures = 1 if time.monotonic() - started > _STABLE_AFTER else failures + 1
                delay = _RESTART_DELAYS[min(failures, len(_RESTART_DELAYS)) - 1]
                log.exception("job worker %s failed; restarting in %.0f s", self.name, delay)
            else:
                if self._stopping.is_set():
                    return
                failures += 1
                delay = _RESTART_DELAYS[min(failures, len(_RESTART_DELAYS)) - 1]
                log.warning("job worker %s stopped by itself; restarting in %.0f s", self.name, delay)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):  # not wait_for: see db/listener.py
                    await self._stopping.wait()

    async def _run_queuer(self) -> None:
        settings = self.res.settings
        pool = await asyncpg.create_pool(
            settings.database_url,
            min_size=1,
            max_size=_QUEUE_POOL_SIZE,
            timeout=settings.db_connect_timeout,
            command_timeout=settings.db_command_timeout,
        )
        assert pool is not None
        try:
            queuer = PgQueuer.from_asyncpg_pool(pool)
            queuer.entrypoint(THUMBNAIL_ENTRYPOINT)(self._run_thumbnail_job)
            queuer.entrypoint(MEDIA_ENTRYPOINT)(self._run_media_job)
            if self.reader is not None:
                queuer.entrypoint(OCR_ENTRYPOINT)(self._run_ocr_job)
            queuer.schedule(MAINTENANCE_ENTRYPOINT, MAINTENANCE_SCHEDULE)(self._run_maintenance)
            self._queuer = queuer
            if self._stopping.is_set():
                return
            # pgqueuer requires max_concurrent_tasks >= 2 * batch_size; a job picked beyond `concurrency`
            # waits for a slot, heart-beating, and shows PENDING until it starts.
            held = max(2, self.concurrency)
            log.info("job worker %s ready (concurrency %d)", self.name, self.concurrency)
            await queuer.run(
                dequeue_timeout=dt.timedelta(seconds=settings.job_poll_interval),
                batch_size=max(1, held // 2),
                max_concurrent_tasks=held,
                heartbeat_timeout=dt.timedelta(seconds=settings.job_heartbeat_timeout),
                shutdown_on_listener_failure=True,
            )
        finally:
            self._queuer = None
            await pool.close()

    async def _run_thumbnail_job(self, job: Job) -> None:
        try:
            job_id = uuid.UUID(bytes=job.payload or b"")
        except ValueError:
            log.error("queue job %s has no job id in its payload; dropped", job.id)
            return
        try:
            async with self._slots:
                await thumbnail_jobs.run_thumbnail_job(self.res, job_id, queue_job_id=int(job.id), worker=self.name)
        except thumbnail_jobs.RetryLater as exc:
            raise RetryRequested(delay=dt.timedelta(seconds=exc.delay), reason=exc.reason) from exc
        except asyncio.CancelledError:
            # pgqueuer deletes a cancelled queue job; give ours a new one so it still runs.
            with contextlib.suppress(Exception):
                await asyncio.shield(thumbnail_jobs.requeue_job(self.res, job_id))
            raise

    async def _run_media_job(self, job: Job) -> None:
        """Previews and placeholders: retried while storage fails; a final failure leaves the field null (fsck
        --repair or reindex --media try again), never raises."""
        try:
            image_id, reprobe = media_jobs.parse_media_payload(job.payload or b"")
        except ValueError:
            log.error("queue job %s has no image id in its payload; dropped", job.id)
            return
        try:
            async with self._slots:
                outcome = await media_jobs.run_media_job(
                    self.res, image_id, reprobe=reprobe, failed_attempts=job.attempts
                )
        except media_jobs.RetryMedia as exc:
            log.warning("media job for image %s: %s; trying again in %.1f s", image_id, exc.reason, exc.delay)
            raise RetryRequested(delay=dt.timedelta(seconds=exc.delay), reason=exc.reason) from exc
        except asyncio.CancelledError:
            # A stop cut it short: pgqueuer drops a cancelled job, so queue it again (uncounted) for the next worker.
            with contextlib.suppress(Exception):
                await asyncio.shield(media_jobs.queue_again(self.res, image_id, reprobe=reprobe))
            raise
        except Exception:
            log.exception("media job for image %s failed; `reactbin fsck --repair` retries it", image_id)
            return
        if outcome.failed:
            log.warning("media job for image %s: %s", image_id, ", ".join(outcome.failed))

    async def _run_ocr_job(self, job: Job) -> None:
        assert self.reader is not None
        try:
            image_id = uuid.UUID(bytes=job.payload or b"")
        except ValueError:
            log.error("queue job %s has no image id in its payload; dropped", job.id)
            return
        try:
            async with self._slots:
                await captions.run_ocr_job(self.res, self.reader, image_id, failed_attempts=job.attempts)
        except captions.RetryOcr as exc:
            raise RetryRequested(delay=dt.timedelta(seconds=exc.delay), reason=exc.reason) from exc
        except asyncio.CancelledError:
            # A stop cut it short (SHUTDOWN_GRACE_SECONDS ran out): back to the queue at once, unfailed.
            with contextlib.suppress(Exception):
                await asyncio.shield(captions.hand_back(self.res, image_id, int(job.id)))
            raise

    async def _run_maintenance(self, schedule: Schedule) -> None:
        await thumbnail_jobs.run_maintenance(self.res)
        await captions.requeue_lost_ocr(self.res)


@contextlib.asynccontextmanager
async def running_worker(
    res: Resources, *, concurrency: int, grace: float | None = None, reader: CaptionReader | None = None
) -> AsyncIterator[JobWorker]:
    """Run a worker in the background for the lifetime of the block, then stop it cleanly.

    Stopping waits up to `grace` seconds (default `SHUTDOWN_GRACE_SECONDS`) for running jobs; jobs still
    running then are cancelled and re-queued for another worker.
    """
    grace = res.settings.shutdown_grace if grace is None else grace
    worker = JobWorker(res, concurrency=concurrency, reader=reader)
    task = asyncio.create_task(worker.run(), name=f"job-worker-{worker.name}")
    try:
        yield worker
    finally:
        worker.stop()
        done, _ = await asyncio.wait({task}, timeout=grace)
        if not done:
            log.warning("job worker %s: jobs still running after %.0f s; cancelling them", worker.name, grace)
            task.cancel()
            await asyncio.wait({task}, timeout=5.0)
        if task.done() and not task.cancelled() and task.exception() is not None:
            log.error("job worker %s ended with an error", worker.name, exc_info=task.exception())


API_MAINTENANCE_INTERVAL = 300.0
"""How often API processes that run no worker do the job clean-up themselves (workers do it every minute)."""


@contextlib.asynccontextmanager
async def periodic_maintenance(res: Resources, interval: float = API_MAINTENANCE_INTERVAL) -> AsyncIterator[None]:
    """Run the job clean-up every `interval` seconds in the background, so that with no worker running at all
    unstarted jobs still expire and their sources are deleted. Safe beside workers: every step skips locked rows."""

    async def loop() -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await thumbnail_jobs.run_maintenance(res)
            except Exception:
                log.exception("job maintenance failed; trying again in %.0f s", interval)

    task = asyncio.create_task(loop(), name="job-maintenance")
    try:
        yield
    finally:
        task.cancel()
        await asyncio.wait({task}, timeout=5.0)
