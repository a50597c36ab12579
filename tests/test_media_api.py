"""Animations, videos and AVIF through the HTTP API: kinds, posters, previews on the queue, proxy ranges, CDN URLs."""

from __future__ import annotations

import asyncio
import io
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import asyncpg
import boto3
import pytest
from litestar.testing import AsyncTestClient
from PIL import Image

from reactbin.domain import fsck
from reactbin.domain.media_jobs import queue_reindex
from reactbin.domain.resources import open_resources
from tests.conftest import AppFactory, S3Server, settings_of, storage_of, stored_keys

MEDIA = Path(__file__).parent / "fixtures" / "media"
IMMUTABLE = "public, max-age=31536000, immutable"


def media_bytes(name: str) -> bytes:
    return (MEDIA / name).read_bytes()


async def upload_media(client: AsyncTestClient[Any], name: str, data: bytes | None = None) -> Any:
    files = {"file": (name, media_bytes(name) if data is None else data, "application/octet-stream")}
    return await client.post("/api/v1/images", files=files)


async def wait_for_preview(client: AsyncTestClient[Any], image_id: str, timeout: float = 20.0) -> dict[str, Any]:
    """The image once the in-process worker has made its preview."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        body: dict[str, Any] = (await client.get(f"/api/v1/images/{image_id}")).json()
        if body["preview_url"] is not None:
            return body
        assert asyncio.get_running_loop().time() < deadline, "no preview was made"
        await asyncio.sleep(0.1)


@pytest.mark.parametrize(
    ("name", "mime_type", "kind", "has_audio"),
    [
        ("h264-sound.mp4", "video/mp4", "video", True),
        ("av1.mp4", "video/mp4", "video", False),
        ("vp8.webm", "video/webm", "video", False),
        ("vp9-sound.webm", "video/webm", "video", True),
        ("animated.gif", "image/gif", "animated", False),
        ("animated.avif", "image/avif", "animated", False),
    ],
)
async def test_motion_uploads_get_a_poster_then_a_looping_preview(
    client: AsyncTestClient[Any], name: str, mime_type: str, kind: str, has_audio: bool
) -> None:
    response = await upload_media(client, name)

    assert response.status_code == 201, response.text
    created = response.json()
    assert (created["mime_type"], created["kind"], created["has_audio"]) == (mime_type, kind, has_audio)
    assert created["storage_key"].endswith("." + mime_type.split("/")[1])
    assert created["duration_ms"] > 0
    assert created["frame_count"] > 1
    assert created["placeholder"]
    poster = await client.get(created["thumbnail_url"])
    assert poster.status_code == 200
    assert Image.open(io.BytesIO(poster.content)).format == "WEBP"

    image = await wait_for_preview(client, created["id"])
    assert image["preview_url"] == f"/api/v1/images/{created['id']}/preview"
    preview = await client.get(image["preview_url"])
    assert preview.status_code == 200
    assert preview.headers["content-type"] == "image/webp"
    assert preview.headers["cache-control"] == IMMUTABLE
    animation = Image.open(io.BytesIO(preview.content))
    assert animation.format == "WEBP"
    assert getattr(animation, "n_frames", 1) > 1
    assert max(animation.size) <= 320
    again = await client.get(image["preview_url"], headers={"if-none-match": preview.headers["etag"]})
    assert again.status_code == 304


async def test_a_still_has_no_preview(client: AsyncTestClient[Any]) -> None:
    created = (await upload_media(client, "still.avif")).json()

    assert (created["mime_type"], created["kind"], created["preview_url"]) == ("image/avif", "still", None)
    assert created["placeholder"]
    assert created["storage_key"].endswith(".avif")
    preview = await client.get(f"/api/v1/images/{created['id']}/preview")
    assert preview.status_code == 404
    assert preview.json()["code"] == "preview_not_found"


async def test_video_ranges_as_a_seeking_browser_sends_them(client: AsyncTestClient[Any]) -> None:
    data = media_bytes("ten-seconds.mp4")
    image = (await upload_media(client, "ten-seconds.mp4")).json()
    rng = random.Random(9)

    first = await client.get(image["file_url"], headers={"range": "bytes=0-"})
    assert first.status_code == 206
    assert first.content == data
    assert first.headers["content-range"] == f"bytes 0-{len(data) - 1}/{len(data)}"
    assert first.headers["content-type"] == "video/mp4"
    for _ in range(5):
        start = rng.randrange(len(data))
        part = await client.get(image["file_url"], headers={"range": f"bytes={start}-"})
        assert part.status_code == 206
        assert part.content == data[start:]
        assert part.headers["content-range"] == f"bytes {start}-{len(data) - 1}/{len(data)}"


async def test_cdn_mode_puts_the_preview_on_the_cdn(make_client: AppFactory) -> None:
    async with make_client(public_base_url="https://cdn.example.com") as client:
        created = (await upload_media(client, "vp8.webm")).json()
        image = await wait_for_preview(client, created["id"])

    assert image["file_url"] == f"https://cdn.example.com/images/{image['hash']}.webm"
    assert image["preview_url"].startswith("https://cdn.example.com/previews/v1/")
    assert image["preview_url"].endswith(".webp")


@pytest.mark.parametrize("backend", ["s3", "filesystem"])
async def test_delete_takes_the_preview_with_it(make_client: AppFactory, backend: str) -> None:
    async with make_client(backend) as client:
        created = (await upload_media(client, "animated.webp")).json()
        await wait_for_preview(client, created["id"])
        keys = await stored_keys(client)
        assert any(key.startswith("previews/v1/") for key in keys)

        assert (await client.delete(f"/api/v1/images/{created['id']}")).status_code == 204
        assert await stored_keys(client) == []


async def test_preview_object_carries_type_and_immutable_caching(
    client: AsyncTestClient[Any], s3_server: S3Server
) -> None:
    created = (await upload_media(client, "h264.mp4")).json()
    await wait_for_preview(client, created["id"])
    raw = boto3.client(
        "s3",
        endpoint_url=s3_server.endpoint_url,
        aws_access_key_id=s3_server.access_key,
        aws_secret_access_key=s3_server.secret_key,
        region_name="us-east-1",
    )
    bucket = settings_of(client).s3.bucket  # type: ignore[union-attr]

    original = raw.head_object(Bucket=bucket, Key=created["storage_key"])
    preview = raw.head_object(Bucket=bucket, Key=f"previews/v1/{created['hash']}.webp")

    assert (original["ContentType"], original["CacheControl"]) == ("video/mp4", IMMUTABLE)
    assert (preview["ContentType"], preview["CacheControl"]) == ("image/webp", IMMUTABLE)


async def test_longer_than_max_video_seconds_is_refused(make_client: AppFactory) -> None:
    async with make_client(max_video_seconds=5.0) as client:
        response = await upload_media(client, "ten-seconds.mp4")

        assert response.status_code == 422
        assert response.json()["code"] == "video_too_long"
        assert await stored_keys(client) == []


async def test_fsck_and_reindex_make_what_is_missing(make_client: AppFactory, db: asyncpg.Connection) -> None:
    async with make_client(run_worker=False) as client:
        settings = settings_of(client)
        gif = (await upload_media(client, "animated.gif")).json()
        video = (await upload_media(client, "vp9.webm")).json()
        # An image stored before media indexing existed: never probed, no placeholder.
        await db.execute(
            "UPDATE images SET media_indexed = false, kind = 'still', placeholder = NULL, duration_ms = NULL "
            "WHERE id = $1",
            video["id"],
        )
        async with open_resources(settings) as res:
            dry = await fsck.check(res, repair=False)
            repaired = await fsck.check(res, repair=True)
            again = await fsck.check(res, repair=False)
        gif_now = (await client.get(f"/api/v1/images/{gif['id']}")).json()
        video_now = (await client.get(f"/api/v1/images/{video['id']}")).json()
        async with storage_of(client) as storage:
            await storage.delete(f"previews/v1/{gif['hash']}.webp")
        async with open_resources(settings) as res:
            lost = await fsck.check(res, repair=False)
            queued = await queue_reindex(res, everything=False)

    assert sorted(dry.missing_media) == sorted([gif["id"], video["id"]])
    assert sorted(repaired.media_repaired) == sorted([gif["id"], video["id"]])
    assert repaired.repair_failures == []
    assert again.clean
    assert gif_now["preview_url"] is not None
    assert (video_now["kind"], video_now["duration_ms"]) == ("video", 1000)
    assert video_now["placeholder"]
    assert video_now["preview_url"]
    assert lost.missing_media == [gif["id"]]
    assert queued == 0  # the row still names its preview: fsck --repair (not reindex) remakes a lost object
    assert await db.fetchval("SELECT count(*) FROM pgqueuer WHERE entrypoint = 'media'") == 2  # from the uploads


async def test_reindex_queues_work_that_a_worker_does(make_client: AppFactory, db: asyncpg.Connection) -> None:
    async with make_client("filesystem", run_worker=False) as client:
        created = (await upload_media(client, "animated.png")).json()
    await db.execute("DELETE FROM pgqueuer")
    await db.execute(
        "UPDATE images SET media_indexed = false, kind = 'still', placeholder = NULL, frame_count = NULL WHERE id = $1",
        created["id"],
    )
    async with make_client("filesystem") as client:
        settings = settings_of(client)
        async with open_resources(settings) as res:
            assert await queue_reindex(res, everything=False) == 1
        image = await wait_for_preview(client, created["id"])

    assert (image["kind"], image["frame_count"], image["duration_ms"]) == ("animated", 6, 600)
    assert image["placeholder"]


def test_reindex_command(tmp_path: Path, db: asyncpg.Connection, database_url: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "S3_", "STORAGE_"))}
    env |= {"DATABASE_URL": database_url, "STORAGE_DIR": str(tmp_path / "objects")}
    command = [sys.executable, "-m", "reactbin.cli", "reindex"]

    unsaid = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
    done = subprocess.run([*command, "--media"], env=env, capture_output=True, text=True, timeout=120, check=False)

    assert unsaid.returncode == 2
    assert "--media" in unsaid.stderr
    assert done.returncode == 0, done.stderr
    assert "queued media work for 0 image(s)" in done.stdout


async def test_clips_lose_their_location(client: AsyncTestClient[Any], tmp_path: Path) -> None:
    import hashlib

    import av

    data = media_bytes("located.mp4")
    created = (await upload_media(client, "located.mp4")).json()
    stored = (await client.get(created["file_url"])).content
    (tmp_path / "stored.mp4").write_bytes(stored)
    with av.open(str(tmp_path / "stored.mp4")) as container:
        metadata = dict(container.metadata)
        frames = sum(1 for _ in container.decode(video=0))

    assert created["hash"] == hashlib.sha256(stored).hexdigest() != hashlib.sha256(data).hexdigest()
    assert len(stored) == len(data)  # only box names changed: the media data is byte for byte the same
    assert b"+48.8584" not in stored  # the coordinates are gone, not only hidden
    assert not any("location" in key for key in metadata)
    assert frames == 5
