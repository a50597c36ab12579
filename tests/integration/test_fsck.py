"""`reactbin fsck` finds what is out of step between rows and objects and repairs what it can."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from typing import Any

import asyncpg

from reactbin.domain import fsck
from reactbin.domain.resources import open_resources
from tests.conftest import AppFactory, fixture_bytes, settings_of, storage_of, stored_keys, upload


async def test_dry_run_reports_and_repair_fixes(make_client: AppFactory, db: asyncpg.Connection) -> None:
    # No worker: the GIF's preview job would otherwise race the deletion of its original below.
    async with make_client(run_worker=False) as client:
        settings = settings_of(client)
        intact = (await upload(client, "photo.jpg")).json()
        thumbless = (await upload(client, "alpha.png")).json()
        lost = (await upload(client, "animated.gif")).json()
        async with storage_of(client) as storage:
            await storage.delete(thumbless["thumbnail_key"])
            await storage.delete(lost["storage_key"])
            await storage.put_bytes("images/" + "ab" * 32 + ".png", b"orphan", "image/png")
            await storage.put_bytes("thumbnails/v0/old.webp", b"old", "image/webp")
        await db.execute("UPDATE images SET thumbnail_key = NULL WHERE id = $1", intact["id"])

        async with open_resources(settings) as res:
            dry = await fsck.check(res, repair=False)
        keys_after_dry_run = await stored_keys(client)
        async with open_resources(settings) as res:
            repaired = await fsck.check(res, repair=True)
            again = await fsck.check(res, repair=False)
        thumb = await client.get(f"/api/v1/images/{thumbless['id']}/thumbnail")
        intact_now = (await client.get(f"/api/v1/images/{intact['id']}")).json()

    assert dry.images_checked == 3
    assert dry.missing_originals == [f"{lost['id']} {lost['storage_key']}"]
    assert sorted(dry.missing_thumbnails) == sorted([intact["id"], thumbless["id"]])
    # The un-referenced old thumbnail of `intact` counts as an orphan too once its row lost the key.
    assert "images/" + "ab" * 32 + ".png" in dry.orphan_objects
    assert "thumbnails/v0/old.webp" in dry.orphan_objects
    assert len(keys_after_dry_run) == 6  # nothing changed
    assert sorted(repaired.thumbnails_regenerated) == sorted([intact["id"], thumbless["id"]])
    assert "images/" + "ab" * 32 + ".png" in repaired.orphans_removed
    assert repaired.repair_failures == []
    assert again.missing_thumbnails == []
    assert again.orphan_objects == []
    assert again.missing_originals == [f"{lost['id']} {lost['storage_key']}"]
    assert thumb.status_code == 200
    assert intact_now["thumbnail_key"] == intact["thumbnail_key"]


async def test_fsck_never_takes_an_upload_in_flight_for_an_orphan(make_client: AppFactory) -> None:
    sha = "cd" * 32
    original, thumbnail = f"images/{sha}.png", f"thumbnails/v1/{sha}.webp"
    async with make_client() as client:
        settings = settings_of(client)
        # An upload half-way: its objects are written and it holds the content's lock; its row is not committed.
        async with storage_of(client) as storage:
            await storage.put_bytes(original, b"png bytes", "image/png")
            await storage.put_bytes(thumbnail, b"webp bytes", "image/webp")
        uploader = await asyncpg.connect(settings.database_url or "")
        try:
            tx = uploader.transaction()
            await tx.start()
            await uploader.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", sha)
            async with open_resources(settings) as res:
                checking = asyncio.create_task(fsck.check(res, repair=True))
                await asyncio.sleep(0.5)
                assert not checking.done()  # it waits for the upload to finish
                await uploader.execute(
                    """
                    INSERT INTO images (id, hash, filename, mime_type, size_bytes, width, height, storage_key,
                                        thumbnail_key, thumbnail_hash, thumbnail_size_bytes)
                    VALUES (gen_random_uuid(), $1, 'x.png', 'image/png', 9, 1, 1, $2, $3, $1, 10)
                    """,
                    sha,
                    original,
                    thumbnail,
                )
                await tx.commit()
                report = await checking
        finally:
            await uploader.close()
        keys = await stored_keys(client)

    assert report.orphans_removed == []
    assert original in keys
    assert thumbnail in keys


def test_cli_exit_codes(tmp_path: Any) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "S3_", "STORAGE_"))}
    env["STORAGE_DIR"] = str(tmp_path / "objects")
    result = subprocess.run(
        [sys.executable, "-m", "reactbin.cli", "fsck", "--data-dir", str(tmp_path / "data")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "everything is consistent" in result.stdout


async def test_job_objects_are_orphans_only_without_their_job(make_client: AppFactory) -> None:
    import uuid

    gone = uuid.uuid4()
    async with make_client(run_worker=False) as client:
        settings = settings_of(client)
        submitted = await client.post(
            "/api/v1/thumbnails/", files={"image": ("photo.jpg", fixture_bytes("photo.jpg"), "image/jpeg")}
        )
        assert submitted.status_code == 202, submitted.text
        job_id = submitted.json()["job_id"]
        async with storage_of(client) as storage:
            await storage.put_bytes(f"jobs/sources/{gone}.png", b"left over", "image/png")  # the old source layout
            await storage.put_bytes(f"private/job-sources/{gone}-{'0' * 32}.png", b"left over", "image/png")
            await storage.put_bytes(f"jobs/{gone}.webp", b"left over", "image/webp")
        async with open_resources(settings, serving=False) as res:
            dry = await fsck.check(res, repair=False)
            repaired = await fsck.check(res, repair=True)
        keys = await stored_keys(client)

    assert dry.orphan_objects == sorted(
        [f"jobs/sources/{gone}.png", f"private/job-sources/{gone}-{'0' * 32}.png", f"jobs/{gone}.webp"]
    )
    assert repaired.orphans_removed == dry.orphan_objects
    assert len(keys) == 1
    assert keys[0].startswith(f"private/job-sources/{job_id}-")
