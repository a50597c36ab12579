"""Thumbnail job workers under failure: bad sources, storage outages, killed and competing worker processes.

In-process workers run on the test's event loop (`running_worker`); "real" ones are `reactbin worker`
subprocesses. Every test starts from empty job and queue tables (the `db` fixture).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from pathlib import Path

import asyncpg
import pytest

from reactbin.domain import thumbnail_jobs as jobs
from reactbin.embedded import EmbeddedPostgres
from reactbin.worker import running_worker
from tests.conftest import (
    FAST_S3,
    AppFactory,
    S3Server,
    fixture_bytes,
    settings_of,
    storage_hung,
    storage_of,
    stored_keys,
)
from tests.support.jobs import (
    FAST_JOBS,
    job_row,
    jpeg,
    own_database,
    resources_of,
    submit,
    submit_ok,
    wait_for_job,
    wait_for_row,
    worker_env,
    worker_processes,
)


@pytest.fixture(scope="module")
async def database_url(postgres: EmbeddedPostgres | None) -> str:
    """This module's own database (see `own_database`); `db` and `make_client` use it too."""
    return await own_database(postgres, "reactbin_jobs_workers")


async def test_undecodable_source_fails_at_once_without_retries(
    make_client: AppFactory, db: asyncpg.Connection
) -> None:
    async with make_client(run_worker=False) as client:
        job_id = await submit_ok(client)
        # It passed validation at submit; now the stored bytes are damaged, so only the worker can find out.
        async with storage_of(client) as storage:
            (source,) = [key async for key in storage.list_keys(f"private/job-sources/{job_id}-")]
            await storage.put_bytes(source, fixture_bytes("truncated.jpg"), "image/jpeg")
        async with resources_of(client, **FAST_JOBS) as res, running_worker(res, concurrency=1):
            job = await wait_for_job(client, job_id)
            # Give a (wrong) retry time to show up before looking.
            await asyncio.sleep(0.5)
        keys = await stored_keys(client)

    assert job["status"] == "FAILURE"
    assert job["error"]["code"] == "invalid_image"
    row = await job_row(db, job_id)
    assert row is not None
    assert row["attempts"] == 1
    picks = await db.fetchval("SELECT count(*) FROM pgqueuer_log WHERE status = 'picked'")
    assert picks == 1
    assert await db.fetchval("SELECT count(*) FROM pgqueuer") == 0
    assert keys == []  # the source went with the failed job
    # Workers register the periodic clean-up with pgqueuer's scheduler (one worker runs each tick).
    schedules = await db.fetch("SELECT entrypoint, expression FROM pgqueuer_schedules")
    assert [(row["entrypoint"], row["expression"]) for row in schedules] == [("reactbin.jobs.maintenance", "* * * * *")]


async def test_storage_outage_is_retried_with_backoff_until_it_works(
    make_client: AppFactory, db: asyncpg.Connection, s3_server: S3Server
) -> None:
    async with make_client(run_worker=False, s3=FAST_S3) as client:
        job_id = await submit_ok(client)
        # A 1 s back-off leaves time to bring storage back between the first and the second attempt.
        async with resources_of(client, **{**FAST_JOBS, "job_retry_delay": 1.0}) as res:
            with storage_hung(s3_server):
                async with running_worker(res, concurrency=1):
                    released = await wait_for_row(db, job_id, "attempts = 1 AND status = 'PENDING'")
            async with running_worker(res, concurrency=1):
                job = await wait_for_job(client, job_id)

    assert released["claim_token"] is None
    assert job["status"] == "SUCCESS", job
    row = await job_row(db, job_id)
    assert row is not None
    assert row["attempts"] == 2


async def test_storage_that_stays_down_fails_the_job_after_the_attempt_limit(
    make_client: AppFactory, db: asyncpg.Connection, s3_server: S3Server
) -> None:
    async with make_client(run_worker=False, s3=FAST_S3) as client:
        job_id = await submit_ok(client)
        async with resources_of(client, **FAST_JOBS, job_max_attempts=2) as res:
            with storage_hung(s3_server):
                async with running_worker(res, concurrency=1):
                    await wait_for_row(db, job_id, "status = 'FAILURE'")
        job = (await client.get(f"/api/v1/jobs/{job_id}")).json()

    assert job["status"] == "FAILURE"
    assert job["error"]["code"] == "storage_error"
    assert "2 attempts" in job["error"]["detail"]
    row = await job_row(db, job_id)
    assert row is not None
    assert row["attempts"] == 2


async def test_job_of_a_killed_worker_is_finished_by_another(
    make_client: AppFactory, db: asyncpg.Connection, s3_server: S3Server, tmp_path: Path
) -> None:
    async with make_client(run_worker=False) as client:
        job_id = await submit_ok(client)
        env = worker_env(settings_of(client), S3_READ_TIMEOUT="60")
        # With storage frozen, the worker claims the job and then hangs reading its source: killed mid-job.
        with worker_processes(1, env, tmp_path) as (doomed,), storage_hung(s3_server):
            await doomed.ready()
            started = await wait_for_row(db, job_id, "status = 'STARTED'")
            doomed.kill()
        assert (await client.get(f"/api/v1/jobs/{job_id}")).json()["status"] == "STARTED"
        async with resources_of(client, **FAST_JOBS) as res, running_worker(res, concurrency=1) as rescuer:
            job = await wait_for_job(client, job_id, timeout=20)

    assert job["status"] == "SUCCESS", job
    row = await job_row(db, job_id)
    assert row is not None
    assert row["attempts"] == 2
    assert started["worker"] != row["worker"] == rescuer.name
    assert dt.datetime.fromisoformat(job["started_at"]) == started["started_at"]


async def test_two_workers_share_the_queue_and_run_each_job_once(
    make_client: AppFactory, db: asyncpg.Connection, tmp_path: Path
) -> None:
    count = 16
    async with make_client(run_worker=False) as client:
        with worker_processes(2, worker_env(settings_of(client)), tmp_path, concurrency=2) as workers:
            for worker in workers:
                await worker.ready()
            ids = []
            for i in range(count):
                response = await submit(client, f"p{i}.jpg", jpeg(1200, 900, seed=i))
                assert response.status_code == 202, response.text
                ids.append(response.json()["job_id"])
            finished = [await wait_for_job(client, job_id, timeout=30) for job_id in ids]
            for worker in workers:
                assert worker.terminate() == 0, worker.log()

    assert [job["status"] for job in finished] == ["SUCCESS"] * count
    rows = await db.fetch("SELECT attempts, worker, queue_job_id FROM thumbnail_jobs")
    assert [row["attempts"] for row in rows] == [1] * count
    # Each queue job was picked exactly once, by one of the two processes, and both took a share.
    picks = await db.fetch("SELECT job_id, count(*) AS n FROM pgqueuer_log WHERE status = 'picked' GROUP BY job_id")
    assert sorted(pick["job_id"] for pick in picks) == sorted(row["queue_job_id"] for row in rows)
    assert {pick["n"] for pick in picks} == {1}
    pids = {row["worker"].split(":")[1] for row in rows}
    assert pids == {str(worker.process.pid) for worker in workers}


async def test_a_job_started_too_often_fails_instead_of_looping(
    make_client: AppFactory, db: asyncpg.Connection
) -> None:
    async with make_client(run_worker=False) as client:
        job_id = await submit_ok(client)
        # As if three workers had died on this job (e.g. out of memory): the next start gives up.
        await db.execute("UPDATE thumbnail_jobs SET attempts = 3, status = 'STARTED' WHERE id = $1", job_id)
        async with resources_of(client, **FAST_JOBS) as res, running_worker(res, concurrency=1):
            job = await wait_for_job(client, job_id)

    assert job["status"] == "FAILURE"
    assert job["error"]["code"] == "too_many_attempts"


async def test_worker_stopping_mid_job_requeues_it(
    make_client: AppFactory, db: asyncpg.Connection, s3_server: S3Server
) -> None:
    async with make_client(run_worker=False) as client:
        job_id = await submit_ok(client)
        first_queue_job = (await job_row(db, job_id))["queue_job_id"]  # type: ignore[index]
        async with resources_of(client, **FAST_JOBS) as res:
            with storage_hung(s3_server):
                async with running_worker(res, concurrency=1, grace=0.5):
                    await wait_for_row(db, job_id, "status = 'STARTED'")
            row = await job_row(db, job_id)
            assert row is not None
            assert row["status"] == "PENDING"
            assert row["queue_job_id"] != first_queue_job
            assert await db.fetchval("SELECT status::text FROM pgqueuer WHERE id = $1", row["queue_job_id"]) == "queued"
            async with running_worker(res, concurrency=1):
                job = await wait_for_job(client, job_id)

    assert job["status"] == "SUCCESS"


async def test_maintenance_requeues_a_job_whose_queue_job_vanished(
    make_client: AppFactory, db: asyncpg.Connection
) -> None:
    async with make_client(run_worker=False) as client:
        lost = await submit_ok(client)
        recent = await submit_ok(client, "alpha.png")
        await db.execute("DELETE FROM pgqueuer")
        await db.execute("UPDATE thumbnail_jobs SET created_at = created_at - interval '2 minutes' WHERE id = $1", lost)
        async with resources_of(client, **FAST_JOBS) as res:
            assert await jobs.requeue_lost_jobs(res) == 1
            assert await jobs.requeue_lost_jobs(res) == 0
            async with running_worker(res, concurrency=1):
                job = await wait_for_job(client, lost)
        # Too young to be called lost: it might still be committing.
        young = (await client.get(f"/api/v1/jobs/{recent}")).json()

    assert job["status"] == "SUCCESS"
    assert young["status"] == "PENDING"


async def test_a_leftover_queue_job_does_nothing(make_client: AppFactory, db: asyncpg.Connection) -> None:
    async with make_client(run_worker=False) as client:
        job_id = await submit_ok(client)
        async with resources_of(client, **FAST_JOBS) as res:
            # A queue job that is no longer the job's own (it was re-queued) must not claim it.
            stale = await db.fetchval("SELECT queue_job_id FROM thumbnail_jobs WHERE id = $1", job_id)
            assert await jobs.requeue_job(res, uuid.UUID(job_id))
            await jobs.run_thumbnail_job(res, uuid.UUID(job_id), queue_job_id=stale, worker="leftover")
            row = await job_row(db, job_id)
            assert row is not None
            assert (row["status"], row["attempts"]) == ("PENDING", 0)
            current = row["queue_job_id"]
            await jobs.run_thumbnail_job(res, uuid.UUID(job_id), queue_job_id=current, worker="current")
            # Running it again once finished changes nothing.
            await jobs.run_thumbnail_job(res, uuid.UUID(job_id), queue_job_id=current, worker="again")
        row = await job_row(db, job_id)

    assert row is not None
    assert (row["status"], row["attempts"], row["worker"]) == ("SUCCESS", 1, "current")


async def test_worker_survives_a_database_restart(make_client: AppFactory, postgres: EmbeddedPostgres | None) -> None:
    if postgres is None:
        pytest.skip("needs the embedded PostgreSQL")
    async with (
        make_client(run_worker=False) as client,
        resources_of(client, **FAST_JOBS) as res,
        running_worker(res, concurrency=1),
    ):
        before = await wait_for_job(client, await submit_ok(client))
        postgres.restart()
        # The worker's queue connections broke; it starts pgqueuer again and takes new jobs.
        submitted = None
        for _ in range(50):
            submitted = await submit(client)
            if submitted.status_code == 202:
                break
            await asyncio.sleep(0.1)
        assert submitted is not None
        assert submitted.status_code == 202, submitted.text
        after = await wait_for_job(client, submitted.json()["job_id"], timeout=30)

    assert before["status"] == "SUCCESS"
    assert after["status"] == "SUCCESS"
