"""The media queue job (previews, placeholders) under storage faults and stops: retried with back-off while storage
fails, capped at JOB_MAX_ATTEMPTS, and handed back to the queue when a stop cuts it short."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from reactbin.embedded import EmbeddedPostgres
from reactbin.worker import running_worker
from tests.conftest import FAST_S3, MEDIA, AppFactory, S3Server, storage_hung
from tests.support.jobs import FAST_JOBS, own_database, resources_of
from tests.support.processes import wait_for


@pytest.fixture(scope="module")
async def database_url(postgres: EmbeddedPostgres | None) -> str:
    """This module's own database: no worker of another module's server may take these jobs."""
    return await own_database(postgres, "reactbin_media_jobs")


async def upload_animation(client: AsyncTestClient[Any]) -> dict[str, Any]:
    files = {"file": ("animated.gif", (MEDIA / "animated.gif").read_bytes(), "application/octet-stream")}
    response = await client.post("/api/v1/images", files=files)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    assert body["preview_url"] is None  # made by the media job, later
    return body


async def media_job(db: asyncpg.Connection) -> asyncpg.Record | None:
    return await db.fetchrow("SELECT id, status::text AS status, attempts FROM pgqueuer WHERE entrypoint = 'media'")


async def preview_of(client: AsyncTestClient[Any], image_id: str) -> str | None:
    url: str | None = (await client.get(f"/api/v1/images/{image_id}")).json()["preview_url"]
    return url


async def test_a_preview_is_retried_while_storage_fails_and_made_once_it_is_back(
    make_client: AppFactory, db: asyncpg.Connection, s3_server: S3Server
) -> None:
    async with make_client(s3=FAST_S3) as client:  # no worker yet: the media job waits in the queue
        image = await upload_animation(client)
        # A 1 s back-off leaves time to bring storage back between the first and the second attempt.
        async with resources_of(client, **{**FAST_JOBS, "job_retry_delay": 1.0}) as res:
            with storage_hung(s3_server):
                async with running_worker(res, concurrency=1):
                    retried = await wait_for(lambda: retried_job(db), 20, "a retried media job")
            async with running_worker(res, concurrency=1):
                preview = await wait_for(lambda: preview_of(client, image["id"]), 20, "the preview")

    assert (retried["status"], retried["attempts"]) == ("queued", 1)
    assert preview == f"/api/v1/images/{image['id']}/preview"
    assert await media_job(db) is None


async def retried_job(db: asyncpg.Connection) -> asyncpg.Record | None:
    job = await media_job(db)
    return job if job is not None and job["attempts"] >= 1 else None


async def test_a_preview_gives_up_after_the_attempt_limit_while_storage_stays_down(
    make_client: AppFactory, db: asyncpg.Connection, s3_server: S3Server, caplog: pytest.LogCaptureFixture
) -> None:
    async with make_client(s3=FAST_S3) as client:
        image = await upload_animation(client)
        async with resources_of(client, **FAST_JOBS, job_max_attempts=2) as res:
            with storage_hung(s3_server):
                async with running_worker(res, concurrency=1):
                    await wait_for(lambda: no_media_job(db), 30, "the media job's end")
        preview = await preview_of(client, image["id"])

    assert preview is None  # left for `reactbin fsck --repair` / `reindex --media`
    assert f"media job for image {image['id']}: storage failed" in caplog.text
    assert "(attempt 2 of 2)" in caplog.text


async def no_media_job(db: asyncpg.Connection) -> bool:
    return await media_job(db) is None


async def test_a_stop_that_cuts_a_media_job_short_queues_it_again(
    make_client: AppFactory, db: asyncpg.Connection, s3_server: S3Server
) -> None:
    async with make_client() as client:
        image = await upload_animation(client)
        first = await media_job(db)
        assert first is not None
        async with resources_of(client, **FAST_JOBS) as res:
            with storage_hung(s3_server):  # the job hangs fetching the original until the grace period ends
                async with running_worker(res, concurrency=1, grace=0.5):
                    await wait_for(lambda: picked_job(db), 20, "the media job's start")
            again = await media_job(db)
            async with running_worker(res, concurrency=1):
                preview = await wait_for(lambda: preview_of(client, image["id"]), 20, "the preview")

    assert again is not None
    assert again["id"] != first["id"]
    assert (again["status"], again["attempts"]) == ("queued", 0)
    assert preview is not None


async def picked_job(db: asyncpg.Connection) -> asyncpg.Record | None:
    job = await media_job(db)
    return job if job is not None and job["status"] == "picked" else None
