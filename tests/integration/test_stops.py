"""A stop or a crash costs nothing (issue 19): OCR resumes instead of failing, and temp files of dead processes go.

Real `reactbin serve` and `reactbin worker` processes, stopped the way operators stop them (SIGTERM to every
process of the service) and killed (SIGKILL) in the middle of the work.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from litestar.testing import AsyncTestClient

from reactbin.embedded import EmbeddedPostgres
from reactbin.media.ocr import CaptionReader, compact
from reactbin.worker import running_worker
from tests.conftest import AppFactory, S3Server, settings_of, storage_hung, upload
from tests.fixtures import memes
from tests.support.jobs import FAST_JOBS, WorkerProcess, own_database, resources_of, worker_env
from tests.support.live import Server, run_server
from tests.support.processes import descendants, ocr_processes, wait_for

MEME = memes.memes()[0]  # WHY NOT BOTH
# `reactbin serve` with its in-process worker reading captions, noticing a dead peer within ~2 s.
OCR_SERVICE = {
    "RUN_WORKER": "true",
    "RUN_OCR": "true",
    "JOB_POLL_INTERVAL": "0.5",
    "JOB_HEARTBEAT_TIMEOUT": "2",
    "JOB_RETRY_DELAY": "0.2",
}


@pytest.fixture(scope="module")
async def database_url(postgres: EmbeddedPostgres | None) -> str:
    """This module's own database: no worker of another module's server may take these jobs."""
    return await own_database(postgres, "reactbin_stops")


async def text_row(db: asyncpg.Connection, image_id: str) -> asyncpg.Record:
    row = await db.fetchrow("SELECT text, text_status, text_attempts FROM images WHERE id = $1::text::uuid", image_id)
    assert row is not None
    return row


async def text_status(db: asyncpg.Connection, image_id: str) -> str:
    return str((await text_row(db, image_id))["text_status"])


def stop_like_systemd(pid: int) -> None:
    """SIGTERM to the process group and to every process of the service, as `systemctl stop` (its cgroup),
    `docker stop` (the main process) and a terminal (the foreground group) do between them."""
    processes = [pid, *descendants(pid)]
    os.killpg(pid, signal.SIGTERM)
    for process in processes:
        with contextlib.suppress(ProcessLookupError):
            os.kill(process, signal.SIGTERM)


async def test_a_stop_while_ocr_runs_lets_it_finish_and_the_restarted_server_has_the_caption(
    database_url: str, s3_server: S3Server, db: asyncpg.Connection, tmp_path: Path
) -> None:
    env = OCR_SERVICE | {"SHUTDOWN_GRACE_SECONDS": "30"}
    with run_server(database_url, s3_server, None, tmp_path, extra_env=env) as first:
        image = await first.upload(MEME.filename, memes.png_bytes(MEME))
        # The OCR job has started and the OCR process runs (loading its model, or reading).
        await wait_for(lambda: ocr_processes(first.process.pid), 30, "an OCR process")
        assert (await text_row(db, image["id"]))["text_attempts"] == 1
        stop_like_systemd(first.process.pid)
        await wait_for(lambda: first.process.poll() is not None, 40, "the server's exit")
        first_log = first.log.read_text()
    after_stop = await text_status(db, image["id"])

    with run_server(database_url, s3_server, None, tmp_path, bucket=first.bucket, extra_env=OCR_SERVICE) as second:
        seen = (await second.get(f"/images/{image['id']}")).json()

    assert first.process.returncode == 0, first_log
    assert after_stop == "done", first_log  # the read in progress finished before the server exited
    assert seen["text_status"] == "done"
    assert compact(MEME.caption) in compact(seen["text"])
    assert (await text_row(db, image["id"]))["text_attempts"] == 1  # read once: nothing was redone
    assert "died" not in first_log


async def test_a_stop_that_cuts_an_ocr_job_short_hands_it_back_unfailed(
    make_client: AppFactory, db: asyncpg.Connection, s3_server: S3Server, caption_reader: CaptionReader
) -> None:
    """SHUTDOWN_GRACE_SECONDS runs out while the job is still fetching its original (storage frozen): the job
    goes back to the queue at once (not after the lost-job clean-up's minutes), counting nothing."""
    async with make_client(**FAST_JOBS) as client:
        image = (await upload(client, MEME.filename, memes.png_bytes(MEME))).json()
        key = f"ocr:{image['id']}"
        first_job = await db.fetchval("SELECT id FROM pgqueuer WHERE dedupe_key = $1", key)
        async with resources_of(client, **FAST_JOBS, run_ocr=True) as res:
            with storage_hung(s3_server):
                async with running_worker(res, concurrency=1, grace=0.5, reader=caption_reader):
                    await wait_for(lambda: text_attempts(db, image["id"]), 20, "the OCR job's start")
            handed_back = await db.fetchrow(
                "SELECT id, status::text, attempts FROM pgqueuer WHERE dedupe_key = $1", key
            )
            status_after_stop = await text_status(db, image["id"])
            async with running_worker(res, concurrency=1, reader=caption_reader):
                read = await wait_for_text(client, image["id"])

    assert handed_back is not None
    assert handed_back["id"] != first_job
    assert (handed_back["status"], handed_back["attempts"]) == ("queued", 0)
    assert status_after_stop == "pending"
    assert read["text_status"] == "done"


async def text_attempts(db: asyncpg.Connection, image_id: str) -> int:
    return int((await text_row(db, image_id))["text_attempts"])


async def wait_for_text(
    client: AsyncTestClient[Any], image_id: str, statuses: frozenset[str] = frozenset({"done", "none", "failed"})
) -> dict[str, Any]:
    async def settled() -> dict[str, Any] | None:
        body: dict[str, Any] = (await client.get(f"/api/v1/images/{image_id}")).json()
        return body if body["text_status"] in statuses else None

    body: dict[str, Any] = await wait_for(settled, 60, f"image {image_id}'s text")
    return body


async def test_a_worker_killed_three_times_during_ocr_costs_the_image_nothing(
    make_client: AppFactory, db: asyncpg.Connection, tmp_path: Path
) -> None:
    """Each kill loses a start (the next worker takes the job once the heartbeat stops); none of them counts
    toward JOB_MAX_ATTEMPTS (3), and the fourth worker reads the caption."""
    async with make_client(**FAST_JOBS) as client:  # no worker here: the job waits for the worker processes
        image = (await upload(client, MEME.filename, memes.png_bytes(MEME))).json()
        env = worker_env(settings_of(client), RUN_OCR="true", JOB_MAX_ATTEMPTS="3")
        workers = [WorkerProcess(env, tmp_path / f"worker-{i}.log") for i in range(4)]
        try:
            killed = []
            for kill in range(3):
                # A worker has started this image's OCR and its OCR process runs: kill the worker.
                def reading() -> list[WorkerProcess]:
                    return [w for w in workers if w not in killed and ocr_processes(w.process.pid)]

                holder = (await wait_for(reading, 30, f"OCR in progress ({kill} killed)"))[0]
                assert await text_attempts(db, image["id"]) == kill + 1
                holder.kill()
                killed.append(holder)
            read = await wait_for_text(client, image["id"])
        finally:
            logs = "\n".join(worker.log() for worker in workers)
            for worker in workers:
                worker.close()

    assert read["text_status"] == "done", logs
    assert compact(MEME.caption) in compact(read["text"])
    assert await text_attempts(db, image["id"]) == 4
    assert "3 earlier start(s) ended with their worker" in logs


async def test_an_image_whose_reads_keep_killing_the_ocr_process_fails_with_that_reason(
    make_client: AppFactory, db: asyncpg.Connection, caplog: pytest.LogCaptureFixture
) -> None:
    """The OCR process dies while reading this image, every time (as when the image makes it run out of memory
    and the OOM killer takes it): that is the image's fault, and after JOB_MAX_ATTEMPTS it is failed, saying why."""
    reader = CaptionReader(threads=1, frames=3, max_pixels=64_000_000)
    try:
        async with make_client(**FAST_JOBS) as client:
            image = (await upload(client, MEME.filename, memes.png_bytes(MEME))).json()
            async with (
                resources_of(client, **FAST_JOBS, run_ocr=True, job_max_attempts=3) as res,
                running_worker(res, concurrency=1, reader=reader),
            ):
                killed: list[int] = []
                for _ in range(3):
                    pid = await wait_for(lambda: reader.pid not in (None, *killed) and reader.pid, 20, "a new reader")
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                failed = await wait_for_text(client, image["id"])

                # The job leaves the queue once the worker has recorded its end (pgqueuer writes that after the
                # handler returns, so it can trail the image's status by a moment).
                async def ocr_jobs_gone() -> bool:
                    return await db.fetchval("SELECT count(*) FROM pgqueuer WHERE entrypoint = 'ocr'") == 0

                await wait_for(ocr_jobs_gone, 10, "the failed OCR job leaving the queue")
    finally:
        reader.close()

    assert failed["text_status"] == "failed"
    assert failed["text"] is None
    assert f"ocr {image['id']} failed: the OCR process died (killed by SIGKILL) (attempt 3 of 3)" in caplog.text


def process_dir_of(tmpdir: Path, pid: int) -> Path | None:
    return next((path for path in tmpdir.glob(f"reactbin/{pid}-*") if path.is_dir()), None)


def spools_of(tmpdir: Path, pid: int) -> list[Path]:
    return sorted(tmpdir.glob(f"reactbin/{pid}-*/reactbin-upload-*"))


BOUNDARY = "reactbin-stops-boundary"


@contextlib.asynccontextmanager
async def upload_held_open(server: Server, data: bytes) -> AsyncIterator[tuple[asyncio.Event, asyncio.Task[Any]]]:
    """An upload that sends its head and half the file, then waits for `finish` before sending the rest."""
    finish = asyncio.Event()
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="meme.png"\r\n'
        "Content-Type: image/png\r\n\r\n"
    ).encode()

    async def body() -> AsyncIterator[bytes]:
        yield head + data[: len(data) // 2]
        await finish.wait()
        yield data[len(data) // 2 :] + f"\r\n--{BOUNDARY}--\r\n".encode()

    async def send() -> httpx.Response:
        async with httpx.AsyncClient(timeout=30) as http:
            return await http.post(
                f"{server.api}/images",
                content=body(),
                headers={"content-type": f"multipart/form-data; boundary={BOUNDARY}"},
            )

    task = asyncio.create_task(send())
    try:
        yield finish, task
    finally:
        finish.set()
        with contextlib.suppress(httpx.HTTPError):
            await task


async def test_a_server_killed_mid_upload_leaves_temp_files_the_next_start_removes(
    database_url: str, s3_server: S3Server, db: asyncpg.Connection, tmp_path: Path
) -> None:
    """Three servers share one TMPDIR (replicas on one machine): one is killed with uploads spooling; the next
    to start removes the dead one's directory and leaves the live one's, whose upload then finishes."""
    shared = tmp_path / "tmp"
    data = memes.png_bytes(MEME)
    with (
        run_server(database_url, s3_server, None, tmp_path, tmpdir=shared) as live,
        run_server(database_url, s3_server, None, tmp_path, tmpdir=shared) as doomed,
    ):
        async with upload_held_open(live, data) as (finish, live_upload), upload_held_open(doomed, data):
            await wait_for(lambda: spools_of(shared, live.process.pid), 10, "the live server's spool")
            await wait_for(lambda: spools_of(shared, doomed.process.pid), 10, "the doomed server's spool")
            doomed_dir = process_dir_of(shared, doomed.process.pid)
            live_dir = process_dir_of(shared, live.process.pid)
            live_spools = spools_of(shared, live.process.pid)
            os.killpg(doomed.process.pid, signal.SIGKILL)
            doomed.process.wait()
            left_by_the_dead = spools_of(shared, doomed.process.pid)

            with run_server(database_url, s3_server, None, tmp_path, tmpdir=shared):
                # Started, so swept; it has made no directory of its own yet (that comes with its first temp file).
                dirs_after_start = sorted(path.name for path in shared.glob("reactbin/*"))
            live_spools_after = spools_of(shared, live.process.pid)
            finish.set()
            live_response = await live_upload

    assert doomed_dir is not None
    assert live_dir is not None
    assert left_by_the_dead != [], "the kill should have left a spool behind"
    assert dirs_after_start == [live_dir.name]
    assert live_spools_after == live_spools
    assert live_response.status_code == 201, live_response.text
