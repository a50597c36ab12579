"""Many writers over a small shared vocabulary: uploads, retags and deletes at once never fail with a 5xx.

Concurrent transactions that add and remove the same tags in different orders meet on the shared tag-count rows
(and on each image's tag list); PostgreSQL then aborts one of them as a deadlock, which must be retried, never
answered as a 500.
"""

from __future__ import annotations

import asyncio
import io
import random
import uuid
from typing import Any

from litestar.testing import AsyncTestClient
from PIL import Image

from reactbin.domain import images as library
from tests.support.jobs import resources_of

VOCABULARY = ["cat", "dog", "smug", "happy", "sad", "wow"]


def _png(seed: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (seed % 256, (seed // 256) % 256, 77)).save(out, "PNG")
    return out.getvalue()


async def test_concurrent_uploads_and_tag_edits_never_fail(client: AsyncTestClient[Any]) -> None:
    rng = random.Random(14)
    statuses: list[int] = []
    ids: list[str] = []

    async def uploader(worker: int) -> None:
        for n in range(12):
            tags = rng.sample(VOCABULARY, rng.randint(2, 5))
            response = await client.post(
                "/api/v1/images",
                files={"file": (f"{worker}-{n}.png", _png(worker * 100 + n))},
                data={"tags": ",".join(tags)},
            )
            statuses.append(response.status_code)
            if response.status_code == 201:
                ids.append(response.json()["id"])

    for n in range(10):  # images to retag from the start
        created = await client.post("/api/v1/images", files={"file": (f"seed-{n}.png", _png(10_000 + n))})
        ids.append(created.json()["id"])

    async def tagger() -> None:
        for _ in range(30):
            tags = rng.sample(VOCABULARY, rng.randint(1, 6))
            response = await client.patch(f"/api/v1/images/{rng.choice(ids)}/tags", json={"tags": tags})
            statuses.append(response.status_code)

    async def deleter() -> None:
        for _ in range(6):
            await asyncio.sleep(0.05)
            if ids:
                response = await client.delete(f"/api/v1/images/{ids.pop(rng.randrange(len(ids)))}")
                statuses.append(response.status_code)

    await asyncio.gather(*(uploader(w) for w in range(4)), *(tagger() for _ in range(16)), deleter())

    assert len(statuses) >= 48 + 16 * 30
    assert [status for status in statuses if status >= 500] == []
    # The per-tag counts still add up after all of it.
    listed = (await client.get("/api/v1/tags", params={"prefix": "", "limit": 20})).json()["items"]
    for item in listed:
        counted = (await client.get("/api/v1/images", params={"tag": item["name"], "limit": 200})).json()["items"]
        assert item["count"] == len(counted), item


async def test_retagging_races_are_retried_not_failed(client: AsyncTestClient[Any]) -> None:
    """The same race without HTTP in between: 16 transactions at once swap tags over 10 images. Without the retry,
    PostgreSQL aborts about one in five of them as a deadlock here."""
    ids = []
    for n in range(10):
        created = await client.post("/api/v1/images", files={"file": (f"{n}.png", _png(20_000 + n))})
        ids.append(uuid.UUID(created.json()["id"]))
    rng = random.Random(15)

    async with resources_of(client) as res:

        async def tagger() -> None:
            for _ in range(30):
                await library.replace_tags(res, rng.choice(ids), list(rng.sample(VOCABULARY, rng.randint(1, 6))))

        await asyncio.gather(*(tagger() for _ in range(16)))
