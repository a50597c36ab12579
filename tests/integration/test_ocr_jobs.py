"""Caption text end to end on the real stack: upload → OCR job → text; failures; hand-set text; reindex."""

from __future__ import annotations

import asyncio
import io
import multiprocessing
import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient
from PIL import Image

from reactbin.db import captions as captions_db
from reactbin.domain import captions
from reactbin.embedded import EmbeddedPostgres
from reactbin.media.ocr import CaptionReader, compact
from tests.conftest import MEDIA, AppFactory, settings_of, storage_of, upload
from tests.fixtures import memes
from tests.support.jobs import FAST_JOBS, own_database, resources_of, worker_env

LIGHT = memes.memes()[2]
MEME = memes.memes()[0]  # WHY NOT BOTH, outlined, busy background


@pytest.fixture(scope="module")
async def database_url(postgres: EmbeddedPostgres | None) -> str:
    """This module's own database: a worker of another test module's server must not take these OCR jobs."""
    return await own_database(postgres, "reactbin_ocr_jobs")


@pytest.fixture
def ocr_client(make_client: AppFactory, caption_reader: CaptionReader) -> Any:
    def make(**overrides: Any) -> Any:
        return make_client(
            **(FAST_JOBS | {"run_worker": True, "run_ocr": True, "caption_reader": caption_reader} | overrides)
        )

    return make


async def wait_for_text(
    client: AsyncTestClient[Any], image_id: str, statuses: frozenset[str] = frozenset({"done", "none", "failed"})
) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        response = await client.get(f"/api/v1/images/{image_id}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        if body["text_status"] in statuses:
            return body
        assert time.monotonic() < deadline, f"image {image_id} still {body['text_status']}"
        await asyncio.sleep(0.05)


async def text_row(db: asyncpg.Connection, image_id: str) -> asyncpg.Record:
    row = await db.fetchrow(
        "SELECT text, text_status, text_source, text_attempts FROM images WHERE id = $1::text::uuid", image_id
    )
    assert row is not None
    return row


async def ocr_jobs(db: asyncpg.Connection) -> list[str]:
    rows = await db.fetch("SELECT dedupe_key FROM pgqueuer WHERE entrypoint = 'ocr' ORDER BY dedupe_key")
    return [row["dedupe_key"] for row in rows]


def png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


async def test_an_untagged_meme_gets_its_caption_in_the_background(ocr_client: Any, db: asyncpg.Connection) -> None:
    async with ocr_client() as client:
        response = await upload(client, MEME.filename, memes.png_bytes(MEME))
        assert response.status_code == 201, response.text
        created = response.json()
        # The upload answers before any OCR: it never waits for the model.
        assert (created["text"], created["text_status"]) == (None, "pending")

        image = await wait_for_text(client, created["id"])

    assert image["text_status"] == "done"
    assert compact(MEME.caption) in compact(image["text"])
    row = await text_row(db, created["id"])
    assert (row["text_source"], row["text_attempts"]) == ("ocr", 1)
    assert await ocr_jobs(db) == []  # the job is gone once it ran


def _counts(text: str, name: str) -> dict[str, float]:
    """`{outcome: count}` of one histogram in Prometheus text."""
    return {
        match[1]: float(match[2])
        for line in text.splitlines()
        if (match := re.match(rf'^{name}_count\{{outcome="(\w+)"\}} (\S+)$', line))
    }


async def test_ocr_and_preview_timings_are_in_the_metrics(ocr_client: Any) -> None:
    async with ocr_client() as client:
        before = (await client.get("/metrics")).text
        meme = (await upload(client, MEME.filename, memes.png_bytes(MEME))).json()
        blank = (await upload(client, "blank.png", png(Image.new("RGB", (300, 200), (90, 140, 200))))).json()
        clip = (await upload(client, "animated.gif", (MEDIA / "animated.gif").read_bytes())).json()
        for image in (meme, blank):
            await wait_for_text(client, image["id"])
        deadline = time.monotonic() + 30
        while (await client.get(f"/api/v1/images/{clip['id']}")).json()["preview_url"] is None:
            assert time.monotonic() < deadline, "no preview"
            await asyncio.sleep(0.05)
        after = (await client.get("/metrics")).text

    def added(name: str, outcome: str) -> float:
        return _counts(after, name).get(outcome, 0) - _counts(before, name).get(outcome, 0)

    assert added("reactbin_ocr_seconds", "text") >= 1
    assert added("reactbin_ocr_seconds", "none") >= 1
    assert added("reactbin_preview_seconds", "made") == 1
    assert "# TYPE reactbin_ocr_seconds histogram" in after
    assert re.search(r'reactbin_preview_seconds_bucket\{le="60.0",outcome="made"\} [1-9]', after)


async def test_an_image_without_text_ends_as_none(ocr_client: Any) -> None:
    async with ocr_client() as client:
        created = (await upload(client, "blank.png", png(Image.new("RGB", (300, 200), (90, 140, 200))))).json()
        image = await wait_for_text(client, created["id"])

    assert (image["text"], image["text_status"]) == (None, "none")


async def test_a_duplicate_upload_queues_no_second_job(make_client: AppFactory, db: asyncpg.Connection) -> None:
    async with make_client() as client:  # no OCR worker: jobs stay queued where we can see them
        first = (await upload(client, MEME.filename, memes.png_bytes(MEME))).json()
        again = await upload(client, "copy.png", memes.png_bytes(MEME), tags="again")

    assert again.status_code == 200
    assert await ocr_jobs(db) == [f"ocr:{first['id']}"]


async def _corrupt_original(client: AsyncTestClient[Any], image: dict[str, Any]) -> None:
    data = memes.animated_bytes(LIGHT, "GIF", frames=4)
    async with storage_of(client) as storage:
        await storage.put_bytes(image["storage_key"], data[: int(len(data) * 0.8)], "image/gif")


async def _delete_original(client: AsyncTestClient[Any], image: dict[str, Any]) -> None:
    async with storage_of(client) as storage:
        await storage.delete(image["storage_key"])


async def _nothing(client: AsyncTestClient[Any], image: dict[str, Any]) -> None:
    return None


# What goes wrong between upload and OCR, the settings, and whether the original is still served afterwards.
FAILURES = [
    ("corrupt frame", _corrupt_original, {}, True),
    ("original missing", _delete_original, {}, False),
    ("time limit", _nothing, {"ocr_timeout": 0.001}, True),
]


@pytest.mark.parametrize(("case", "damage", "settings", "served"), FAILURES, ids=[case[0] for case in FAILURES])
async def test_ocr_failures_mark_the_text_failed_and_keep_the_image(
    make_client: AppFactory,
    ocr_client: Any,
    db: asyncpg.Connection,
    case: str,
    damage: Any,
    settings: dict[str, Any],
    served: bool,
) -> None:
    data = memes.animated_bytes(LIGHT, "GIF", frames=4)
    async with make_client(**FAST_JOBS) as client:  # upload first, with no OCR worker yet
        image = (await upload(client, "meme.gif", data, tags="kept")).json()
        await damage(client, image)
    async with ocr_client(s3={"bucket": settings_of(client).s3.bucket}, **settings) as client:  # type: ignore[union-attr]
        after = await wait_for_text(client, image["id"])
        listed = (await client.get("/api/v1/images", params={"tag": "kept"})).json()["items"]
        file = await client.get(image["file_url"])

    assert after["text_status"] == "failed", case
    assert after["text"] is None
    assert [item["id"] for item in listed] == [image["id"]]
    assert file.status_code == (200 if served else 404)
    assert await ocr_jobs(db) == []  # a failure is final: no retry loop


async def test_hand_set_text_survives_a_later_ocr_run(
    make_client: AppFactory, ocr_client: Any, db: asyncpg.Connection
) -> None:
    async with make_client(**FAST_JOBS) as client:  # the OCR job is queued but not run yet
        image = (await upload(client, MEME.filename, memes.png_bytes(MEME))).json()
        patched = await client.patch(f"/api/v1/images/{image['id']}", json={"text": "  Why not both?  "})
        bucket = settings_of(client).s3.bucket  # type: ignore[union-attr]
    assert patched.status_code == 200, patched.text
    assert (patched.json()["text"], patched.json()["text_status"]) == ("Why not both?", "done")

    async with ocr_client(s3={"bucket": bucket}) as client:
        deadline = time.monotonic() + 30
        while await ocr_jobs(db):  # the worker takes the job and leaves the text alone
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        after = (await client.get(f"/api/v1/images/{image['id']}")).json()

    assert (after["text"], after["text_status"]) == ("Why not both?", "done")
    row = await text_row(db, image["id"])
    assert (row["text_source"], row["text_attempts"]) == ("manual", 0)


def reindex(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "reactbin"), "reindex", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_reindex_queues_each_image_once_and_keeps_hand_set_text(
    make_client: AppFactory, ocr_client: Any, db: asyncpg.Connection, tmp_path: Path
) -> None:
    async with make_client(**FAST_JOBS) as client:  # no OCR worker
        ids = [
            (await upload(client, f"m{i}.png", memes.png_bytes(m))).json()["id"]
            for i, m in enumerate(memes.memes()[:3])
        ]
        await client.patch(f"/api/v1/images/{ids[2]}", json={"text": "by hand"})
        settings = settings_of(client)
    env = worker_env(settings, RUN_WORKER="false")
    # An existing library: one image read, one failed, one by hand, and their queue jobs gone.
    await db.execute("TRUNCATE pgqueuer")
    await db.execute("UPDATE images SET text_status = 'done', text = 'old', text_source = 'ocr' WHERE id = $1", ids[0])
    await db.execute("UPDATE images SET text_status = 'failed' WHERE id = $1", ids[1])

    first = reindex(env, "--ocr", "--no-wait", "--data-dir", str(tmp_path))
    assert first.returncode == 0, first.stderr
    assert "ocr: 1 image(s) queued" in first.stdout
    assert await ocr_jobs(db) == [f"ocr:{ids[1]}"]

    redo = reindex(env, "--ocr", "--all", "--no-wait", "--data-dir", str(tmp_path))
    assert redo.returncode == 0, redo.stderr
    assert "ocr: 2 image(s) queued" in redo.stdout  # everything but the hand-set text
    # Still one job per image: the one queued before is not queued twice.
    assert await ocr_jobs(db) == sorted([f"ocr:{ids[0]}", f"ocr:{ids[1]}"])

    async with ocr_client(s3={"bucket": settings.s3.bucket}) as client:  # type: ignore[union-attr]
        # Watching: it queues again (no duplicates with the jobs a worker may hold) and waits for the workers.
        watched = await asyncio.to_thread(reindex, env, "--ocr", "--all", "--data-dir", str(tmp_path))
        texts = [(await client.get(f"/api/v1/images/{image_id}")).json() for image_id in ids]

    assert watched.returncode == 0, watched.stderr
    assert "pending 0" in watched.stdout.splitlines()[-1], watched.stdout
    assert [t["text_status"] for t in texts] == ["done", "done", "done"]
    assert compact(memes.memes()[0].caption) in compact(texts[0]["text"])
    assert compact(memes.memes()[1].caption) in compact(texts[1]["text"])
    assert texts[2]["text"] == "by hand"


def test_reindex_without_a_database_is_a_configuration_error(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"} | {"DATABASE_URL": "mysql://x"}
    result = reindex(env, "--ocr", "--data-dir", str(tmp_path))
    assert result.returncode == 2
    assert "DATABASE_URL" in result.stderr


async def test_text_set_by_hand_while_ocr_runs_is_kept(make_client: AppFactory, db: asyncpg.Connection) -> None:
    async with make_client(**FAST_JOBS) as client:
        image = (await upload(client, MEME.filename, memes.png_bytes(MEME))).json()
        image_id = uuid.UUID(image["id"])
        target = await captions_db.claim_ocr(db, image_id)  # a worker has started reading
        assert target is not None
        assert target.attempts == 1
        await client.patch(f"/api/v1/images/{image['id']}", json={"text": "by hand"})

        written = await captions_db.finish_ocr(db, image_id, "done", "WHYNOTBOTH")  # the worker finishes

        after = (await client.get(f"/api/v1/images/{image['id']}")).json()
    assert written is False
    assert (after["text"], after["text_status"]) == ("by hand", "done")


async def test_the_clean_up_queues_images_whose_ocr_job_was_lost(
    make_client: AppFactory, db: asyncpg.Connection
) -> None:
    async with make_client(**FAST_JOBS) as client:
        lost = (await upload(client, "lost.png", memes.png_bytes(MEME))).json()
        fresh = (await upload(client, "fresh.png", memes.png_bytes(LIGHT))).json()
        await db.execute("TRUNCATE pgqueuer")  # e.g. a worker stopped mid-job: its queue row is gone
        await db.execute(
            "UPDATE images SET text_queued_at = now() - interval '10 minutes' WHERE id = $1::text::uuid", lost["id"]
        )
        async with resources_of(client) as res:
            first = await captions.requeue_lost_ocr(res)
            second = await captions.requeue_lost_ocr(res)

    assert (first, second) == (1, 0)  # the fresh one may still be on its way; the lost one is queued once
    assert await ocr_jobs(db) == [f"ocr:{lost['id']}"]
    assert fresh["text_status"] == "pending"


def ocr_processes() -> set[int]:
    return {child.pid or 0 for child in multiprocessing.active_children() if child.name == "reactbin-ocr"}


async def test_the_model_loads_in_a_worker_at_its_first_ocr_job_only(make_client: AppFactory) -> None:
    shared = ocr_processes()  # the session's shared OCR process, when an earlier test started it
    async with make_client(run_worker=False, run_ocr=True) as client:  # an API process without a worker
        await upload(client, "a.png", memes.png_bytes(LIGHT))
        await asyncio.sleep(0.5)
        assert ocr_processes() == shared
    async with make_client(**FAST_JOBS, run_worker=True, run_ocr=True) as client:  # a worker, its own OCR process
        assert ocr_processes() == shared  # nothing loaded before there is something to read
        image = (await upload(client, MEME.filename, memes.png_bytes(MEME))).json()
        assert (await wait_for_text(client, image["id"]))["text_status"] == "done"
        assert len(ocr_processes() - shared) == 1
    assert ocr_processes() == shared  # stopped with the worker
