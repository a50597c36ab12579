"""The thumbnail job API over HTTP, with the worker running inside the app, on real PostgreSQL and S3."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import io
import re
import uuid
from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient
from PIL import Image

from reactbin.domain import thumbnail_jobs as jobs
from reactbin.embedded import EmbeddedPostgres
from reactbin.worker import running_worker
from tests.conftest import AppFactory, S3Server, fixture_bytes, settings_of, storage_of, stored_keys
from tests.support.jobs import FAST_JOBS, own_database, resources_of, submit, submit_ok, wait_for_job


@pytest.fixture(scope="module")
async def database_url(postgres: EmbeddedPostgres | None) -> str:
    """This module's own database (see `own_database`); `db` and `make_client` use it too."""
    return await own_database(postgres, "reactbin_jobs_api")


SUCCESSES = [
    # file, form fields, expected width, height, mime type, Pillow format
    ("photo.jpg", {}, 256, 192, "image/webp", "WEBP"),
    ("photo.jpg", {"width": 100, "height": 100, "fit": "cover", "format": "jpeg"}, 100, 100, "image/jpeg", "JPEG"),
    ("rotated.jpg", {"width": 64, "height": 64, "format": "png"}, 32, 64, "image/png", "PNG"),
    ("alpha.png", {"width": "160", "format": "JPEG", "fit": " Contain "}, 160, 120, "image/jpeg", "JPEG"),
    ("animated.gif", {}, 200, 150, "image/webp", "WEBP"),
    ("image.webp", {"width": 2048, "height": 16}, 16, 16, "image/webp", "WEBP"),
]


@pytest.mark.parametrize(("name", "fields", "width", "height", "mime_type", "pil_format"), SUCCESSES)
async def test_submit_poll_and_fetch_the_thumbnail(
    make_client: AppFactory,
    name: str,
    fields: dict[str, Any],
    width: int,
    height: int,
    mime_type: str,
    pil_format: str,
) -> None:
    async with make_client(run_worker=True, **FAST_JOBS) as client:
        submitted = await submit(client, name, **fields)
        assert submitted.status_code == 202, submitted.text
        accepted = submitted.json()
        job_id = accepted["job_id"]
        assert accepted["status"] == "PENDING"
        assert accepted["message"]
        assert submitted.headers["location"] == f"/api/v1/jobs/{job_id}"

        job = await wait_for_job(client, job_id)
        assert job["status"] == "SUCCESS", job
        result = job["result"]
        thumb = await client.get(result["thumbnail_url"])
        link = await client.get(f"/api/v1/jobs/{job_id}/thumbnail")
        keys = await stored_keys(client)

    assert job["error"] is None
    assert job["job_id"] == job_id
    created, started, finished = (
        dt.datetime.fromisoformat(job[k]) for k in ("created_at", "started_at", "finished_at")
    )
    assert created <= started <= finished
    ext = {"image/webp": "webp", "image/jpeg": "jpg", "image/png": "png"}[mime_type]
    assert result["thumbnail_url"] == f"/api/v1/jobs/{job_id}/thumbnail/file"
    assert (result["width"], result["height"], result["mime_type"]) == (width, height, mime_type)
    assert thumb.status_code == 200
    assert result["size_bytes"] == len(thumb.content)
    assert thumb.headers["content-type"] == mime_type
    image = Image.open(io.BytesIO(thumb.content))
    assert (image.format, image.size) == (pil_format, (width, height))
    assert link.json() == {"job_id": job_id, "thumbnail_url": result["thumbnail_url"]}
    # The source is deleted once the job is done; only the thumbnail stays.
    assert keys == [f"jobs/{job_id}.{ext}"]


async def test_thumbnail_file_has_the_proxy_caching_headers(make_client: AppFactory) -> None:
    async with make_client(run_worker=True, **FAST_JOBS) as client:
        job_id = await submit_ok(client)
        url = (await wait_for_job(client, job_id))["result"]["thumbnail_url"]
        full = await client.get(url)
        etag = f'"{hashlib.sha256(full.content).hexdigest()}"'
        not_modified = await client.get(url, headers={"if-none-match": etag})
        weak = await client.get(url, headers={"if-none-match": f'W/{etag}, "other"'})
        part = await client.get(url, headers={"range": "bytes=0-9"})
        tail = await client.get(url, headers={"range": "bytes=-5"})
        beyond = await client.get(url, headers={"range": f"bytes={len(full.content)}-"})
        stale_if_range = await client.get(url, headers={"range": "bytes=0-9", "if-range": '"other"'})
        head = await client.head(url)

    assert full.status_code == 200
    assert full.headers["etag"] == etag
    assert full.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert full.headers["x-content-type-options"] == "nosniff"
    assert full.headers["content-security-policy"] == "default-src 'none'; sandbox"
    assert full.headers["content-length"] == str(len(full.content))
    assert full.headers["accept-ranges"] == "bytes"
    assert (not_modified.status_code, not_modified.content) == (304, b"")
    assert not_modified.headers["etag"] == etag
    assert weak.status_code == 304
    assert part.status_code == 206
    assert part.content == full.content[:10]
    assert part.headers["content-range"] == f"bytes 0-9/{len(full.content)}"
    assert (tail.status_code, tail.content) == (206, full.content[-5:])
    assert beyond.status_code == 416
    assert beyond.headers["content-range"] == f"bytes */{len(full.content)}"
    assert beyond.json()["code"] == "range_not_satisfiable"
    assert (stale_if_range.status_code, stale_if_range.content) == (200, full.content)
    assert (head.status_code, head.content) == (200, b"")
    assert head.headers["content-length"] == str(len(full.content))
    assert head.headers["etag"] == etag


REJECTED_FILES = [
    # file (or raw bytes), status, code
    ("not-an-image.txt", None, 415, "unsupported_media_type"),
    ("page.html", None, 415, "unsupported_media_type"),
    ("script.svg", None, 415, "unsupported_media_type"),
    ("image.bmp", None, 415, "unsupported_media_type"),
    ("image.tiff", None, 415, "unsupported_media_type"),
    ("empty.png", b"", 422, "empty_file"),
    ("truncated.jpg", None, 422, "invalid_image"),
    ("truncated.png", None, 422, "invalid_image"),
    ("bomb.png", None, 422, "image_too_large"),
]


@pytest.mark.parametrize(("name", "data", "status", "code"), REJECTED_FILES)
async def test_bad_files_are_rejected_at_submit_and_never_queued(
    make_client: AppFactory, db: asyncpg.Connection, name: str, data: bytes | None, status: int, code: str
) -> None:
    async with make_client(run_worker=False) as client:
        response = await submit(client, name, data)
        keys = await stored_keys(client)

    assert response.status_code == status, response.text
    assert response.json()["code"] == code
    assert "location" not in response.headers
    await _assert_nothing_queued(db)
    assert keys == []


BAD_OPTIONS = [
    {"width": 8},
    {"width": 4096},
    {"height": 0},
    {"width": "abc"},
    {"width": "12.5"},
    {"fit": "stretch"},
    {"format": "gif"},
    {"size": 100},
    {"width": ""},  # an empty form field is not an integer (the schema says integer); leave it out instead
    {"height": "  "},
    {"fit": ""},
]


@pytest.mark.parametrize("fields", BAD_OPTIONS)
async def test_bad_options_are_rejected_at_submit(
    make_client: AppFactory, db: asyncpg.Connection, fields: dict[str, Any]
) -> None:
    async with make_client(run_worker=False) as client:
        response = await submit(client, "photo.jpg", **fields)
        keys = await stored_keys(client)

    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "invalid_thumbnail_options"
    assert next(iter(fields)) in body["detail"]
    await _assert_nothing_queued(db)
    assert keys == []


async def test_form_problems_are_rejected_at_submit(make_client: AppFactory, db: asyncpg.Connection) -> None:
    async with make_client(run_worker=False, max_upload_bytes=2000) as client:
        wrong_field = await client.post(
            "/api/v1/thumbnails", files={"file": ("photo.jpg", fixture_bytes("tiny.png"), "image/png")}
        )
        not_multipart = await client.post("/api/v1/thumbnails", content=b"xx", headers={"content-type": "image/png"})
        too_large = await submit(client, "photo.jpg")
        keys = await stored_keys(client)

    assert (wrong_field.status_code, wrong_field.json()["code"]) == (400, "missing_file")
    assert (not_multipart.status_code, not_multipart.json()["code"]) == (400, "invalid_multipart")
    assert (too_large.status_code, too_large.json()["code"]) == (413, "file_too_large")
    await _assert_nothing_queued(db)
    assert keys == []


async def test_unknown_and_malformed_job_ids_are_404(client: AsyncTestClient[Any]) -> None:
    for job_id in (str(uuid.uuid4()), "not-a-uuid", "1"):
        for suffix in ("", "/thumbnail", "/thumbnail/file"):
            response = await client.get(f"/api/v1/jobs/{job_id}{suffix}")
            assert response.status_code == 404, (job_id, suffix)
            assert response.json() == {"detail": "Job not found", "code": "job_not_found"}


async def test_pending_job_has_no_thumbnail_yet(make_client: AppFactory) -> None:
    async with make_client(run_worker=False) as client:
        job_id = await submit_ok(client)
        job = (await client.get(f"/api/v1/jobs/{job_id}")).json()
        link = await client.get(f"/api/v1/jobs/{job_id}/thumbnail")
        file = await client.get(f"/api/v1/jobs/{job_id}/thumbnail/file")
        keys = await stored_keys(client)

    assert job["status"] == "PENDING"
    assert (job["started_at"], job["finished_at"], job["error"], job["result"]) == (None, None, None, None)
    assert link.status_code == 409
    assert link.json()["code"] == "job_not_ready"
    assert "PENDING" in link.json()["detail"]
    assert (file.status_code, file.json()["code"]) == (409, "job_not_ready")
    assert len(keys) == 1
    # The source is private: under a prefix the CDN must not serve, and not derivable from the job id.
    assert re.fullmatch(rf"private/job-sources/{job_id}-[0-9a-f]{{32}}\.jpg", keys[0])


async def test_failed_job_explains_itself(make_client: AppFactory) -> None:
    async with make_client(run_worker=False) as client:
        job_id = await submit_ok(client)
        await _corrupt_source(client, job_id)
        async with resources_of(client, **FAST_JOBS) as res:
            await jobs.run_thumbnail_job(
                res, uuid.UUID(job_id), queue_job_id=await _queue_job_id(res, job_id), worker="t"
            )
        job = (await client.get(f"/api/v1/jobs/{job_id}")).json()
        link = await client.get(f"/api/v1/jobs/{job_id}/thumbnail")

    assert job["status"] == "FAILURE"
    assert job["error"] == {"code": "invalid_image", "detail": "The file is damaged or not a complete image"}
    assert job["result"] is None
    assert job["finished_at"] is not None
    assert link.status_code == 409
    assert link.json()["code"] == "job_not_ready"
    assert "failed" in link.json()["detail"]
    assert "invalid_image" in link.json()["detail"]


async def test_list_is_newest_first_with_status_filter_and_keyset_pages(make_client: AppFactory) -> None:
    async with make_client(run_worker=False) as client:
        ids = [await submit_ok(client, name) for name in ("photo.jpg", "alpha.png", "tiny.png", "image.webp")]
        await _corrupt_source(client, ids[1])
        async with resources_of(client) as res:
            for job_id in ids:
                queue_job_id = await _queue_job_id(res, job_id)
                await jobs.run_thumbnail_job(res, uuid.UUID(job_id), queue_job_id=queue_job_id, worker="t")
        ids.append(await submit_ok(client, "animated.gif"))

        async def listed(**params: Any) -> list[str]:
            seen: list[str] = []
            cursor = None
            while True:
                query = {**params, "limit": 2} | ({"cursor": cursor} if cursor else {})
                response = await client.get("/api/v1/jobs/", params=query)
                assert response.status_code == 200, response.text
                page = response.json()
                assert len(page["items"]) <= 2
                seen.extend(item["job_id"] for item in page["items"])
                cursor = page["next_cursor"]
                if cursor is None:
                    return seen

        everything = await listed()
        succeeded = await listed(status="SUCCESS")
        failed = await listed(status="FAILURE")
        pending = await listed(status="PENDING")
        started = await listed(status="STARTED")
        no_slash = (await client.get("/api/v1/jobs")).json()
        bad_status = await client.get("/api/v1/jobs/", params={"status": "DONE"})
        bad_cursor = await client.get("/api/v1/jobs/", params={"cursor": "nonsense"})
        bad_limit = await client.get("/api/v1/jobs/", params={"limit": 0})

    newest_first = list(reversed(ids))
    assert everything == newest_first
    assert succeeded == [newest_first[i] for i in (1, 2, 4)]
    assert failed == [ids[1]]
    assert pending == [ids[4]]
    assert started == []
    assert [item["job_id"] for item in no_slash["items"]] == newest_first
    assert no_slash["items"][0]["status"] == "PENDING"
    assert (bad_status.status_code, bad_status.json()["code"]) == (400, "validation_error")
    assert (bad_cursor.status_code, bad_cursor.json()["code"]) == (400, "invalid_cursor")
    assert (bad_limit.status_code, bad_limit.json()["code"]) == (400, "validation_error")


async def test_public_base_url_gives_cdn_thumbnail_urls(make_client: AppFactory) -> None:
    async with make_client(public_base_url="https://cdn.example.com/", run_worker=True, **FAST_JOBS) as client:
        job_id = await submit_ok(client, format="png")
        job = await wait_for_job(client, job_id)
        link = (await client.get(f"/api/v1/jobs/{job_id}/thumbnail")).json()
        listed = (await client.get("/api/v1/jobs/")).json()["items"][0]
        # The proxy keeps working in CDN mode.
        proxied = await client.get(f"/api/v1/jobs/{job_id}/thumbnail/file")

    expected = f"https://cdn.example.com/jobs/{job_id}.png"
    assert job["result"]["thumbnail_url"] == expected
    assert link["thumbnail_url"] == expected
    assert listed["result"]["thumbnail_url"] == expected
    assert proxied.status_code == 200
    assert proxied.headers["content-type"] == "image/png"


async def test_filesystem_backend_runs_jobs_too(make_client: AppFactory) -> None:
    async with make_client(backend="filesystem", run_worker=True, **FAST_JOBS) as client:
        job_id = await submit_ok(client, "rotated.jpg", width=50, height=50, fit="cover")
        job = await wait_for_job(client, job_id)
        thumb = await client.get(job["result"]["thumbnail_url"])
        keys = await stored_keys(client)

    assert job["status"] == "SUCCESS"
    assert Image.open(io.BytesIO(thumb.content)).size == (50, 50)
    assert keys == [f"jobs/{job_id}.webp"]


async def test_expired_jobs_are_gone_at_once_and_cleaned_up_later(
    make_client: AppFactory, db: asyncpg.Connection
) -> None:
    async with make_client(job_ttl=1.0, run_worker=False, **FAST_JOBS) as client:
        # The worker stops before the jobs expire: its per-minute clean-up must not beat the checks below.
        async with resources_of(client, **FAST_JOBS) as res, running_worker(res, concurrency=1):
            job_id = await submit_ok(client)
            also_expired = await submit_ok(client, "tiny.png")
            fresh = await submit_ok(client, "alpha.png")
            job = await wait_for_job(client, job_id)
            await wait_for_job(client, also_expired)
            await wait_for_job(client, fresh)
        await asyncio.sleep(1.2)
        # However slow this machine is, the fresh job must not expire during the test.
        await db.execute("UPDATE thumbnail_jobs SET expires_at = now() + interval '1 hour' WHERE id = $1", fresh)
        gone = [await client.get(f"/api/v1/jobs/{job_id}{suffix}") for suffix in ("", "/thumbnail", "/thumbnail/file")]
        listed = (await client.get("/api/v1/jobs/")).json()
        keys_before = await stored_keys(client)
        log_before = await db.fetchval("SELECT count(*) FROM pgqueuer_log")
        pruned_at = await db.fetchval("SELECT clock_timestamp()")
        async with resources_of(client) as res:
            await jobs.run_maintenance(res)
        keys_after = await stored_keys(client)

    assert job["status"] == "SUCCESS"
    for response in gone:
        assert (response.status_code, response.json()["code"]) == (404, "job_not_found")
    assert [item["job_id"] for item in listed["items"]] == [fresh]
    # Expired means invisible at once; the objects and rows go when the clean-up runs.
    assert f"jobs/{job_id}.webp" in keys_before
    assert keys_after == [f"jobs/{fresh}.webp"]
    assert await db.fetchval("SELECT array_agg(id::text) FROM thumbnail_jobs") == [fresh]
    # The queue's history is kept for the same time.
    assert await db.fetchval("SELECT count(*) FROM pgqueuer_log") < log_before
    # (Older than the TTL when the clean-up ran: on a slow machine the fresh job's rows age past it since.)
    stale = "SELECT count(*) FROM pgqueuer_log WHERE created < $1::timestamptz - interval '1 second'"
    assert await db.fetchval(stale, pruned_at) == 0


async def test_job_responses_never_reveal_the_store(make_client: AppFactory, s3_server: S3Server) -> None:
    seen: list[str] = []

    def record(response: Any) -> Any:
        seen.append(response.text)
        seen.extend(f"{name}: {value}" for name, value in response.headers.items())
        return response

    async with make_client(run_worker=True, **FAST_JOBS) as client:
        bucket = settings_of(client).s3.bucket  # type: ignore[union-attr]
        job_id = record(await submit(client)).json()["job_id"]
        await wait_for_job(client, job_id)
        record(await client.get(f"/api/v1/jobs/{job_id}"))
        record(await client.get("/api/v1/jobs/"))
        record(await client.get(f"/api/v1/jobs/{job_id}/thumbnail"))
        record(await client.head(f"/api/v1/jobs/{job_id}/thumbnail/file"))
        record(await submit(client, "truncated.jpg"))
        record(await submit(client, "photo.jpg", width=1))
        record(await client.get("/api/v1/jobs/nope"))
        async with storage_of(client) as storage:
            await storage.delete(f"jobs/{job_id}.webp")
        record(await client.get(f"/api/v1/jobs/{job_id}/thumbnail/file"))

    assert len(seen) > 20
    text = "\n".join(seen)
    host = s3_server.endpoint_url.split("://", 1)[1]
    for secret in (s3_server.endpoint_url, host, bucket, s3_server.access_key, s3_server.secret_key):
        assert secret not in text
    assert "X-Amz" not in text
    assert "Signature=" not in text


async def _assert_nothing_queued(db: asyncpg.Connection) -> None:
    assert await db.fetchval("SELECT count(*) FROM thumbnail_jobs") == 0
    assert await db.fetchval("SELECT count(*) FROM pgqueuer") == 0


async def _corrupt_source(client: AsyncTestClient[Any], job_id: str) -> None:
    """Replace a stored source with a truncated JPEG: it got past submit, but the worker cannot decode it."""
    async with storage_of(client) as storage:
        keys = [key async for key in storage.list_keys(f"private/job-sources/{job_id}-")]
        assert len(keys) == 1
        await storage.put_bytes(keys[0], fixture_bytes("truncated.jpg"), "image/jpeg")


async def _queue_job_id(res: Any, job_id: str) -> int:
    async with res.db() as conn:
        queue_job_id: int = await conn.fetchval(
            "SELECT queue_job_id FROM thumbnail_jobs WHERE id = $1", uuid.UUID(job_id)
        )
    return queue_job_id


async def test_jobs_no_worker_started_expire_with_their_sources(
    make_client: AppFactory, db: asyncpg.Connection
) -> None:
    """No worker runs: a PENDING job older than JOB_TTL fails as `job_expired` and its source is deleted."""
    async with make_client(run_worker=False, job_ttl=3600.0) as client:
        old = await submit_ok(client)
        recent = await submit_ok(client, "tiny.png")
        await db.execute("UPDATE thumbnail_jobs SET created_at = now() - interval '2 hours' WHERE id = $1", old)
        async with resources_of(client) as res:
            await jobs.run_maintenance(res)
        expired = (await client.get(f"/api/v1/jobs/{old}")).json()
        waiting = (await client.get(f"/api/v1/jobs/{recent}")).json()
        keys = await stored_keys(client)

    assert expired["status"] == "FAILURE"
    assert expired["error"]["code"] == "job_expired"
    assert expired["finished_at"] is not None
    assert waiting["status"] == "PENDING"
    assert [key for key in keys if old in key] == []
    assert [key for key in keys if recent in key] != []
