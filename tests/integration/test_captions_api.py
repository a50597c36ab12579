"""Correcting caption text by hand: `PATCH /api/v1/images/{id}` with `{"text": ...}`."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from tests.conftest import upload


@pytest.mark.parametrize(
    ("body", "text", "status"),
    [
        ({"text": "Why not both?"}, "Why not both?", "done"),
        ({"text": "  one does not simply\r\n  walk into mordor  "}, "one does not simply\nwalk into mordor", "done"),
        ({"text": "Déjà vu 日本"}, "Déjà vu 日本", "done"),
        ({"text": "x" * 2000}, "x" * 2000, "done"),
        ({"text": ""}, None, "none"),
        ({"text": "   \n  "}, None, "none"),
        ({"text": None}, None, "none"),
    ],
)
async def test_hand_set_text(
    client: AsyncTestClient[Any], db: asyncpg.Connection, body: dict[str, Any], text: str | None, status: str
) -> None:
    image = (await upload(client, "photo.jpg", tags="keep")).json()
    assert (image["text"], image["text_status"]) == (None, "pending")

    response = await client.patch(f"/api/v1/images/{image['id']}", json=body)

    assert response.status_code == 200, response.text
    patched = response.json()
    assert (patched["text"], patched["text_status"], patched["tags"]) == (text, status, ["keep"])
    assert (await client.get(f"/api/v1/images/{image['id']}")).json() == patched
    source = await db.fetchval("SELECT text_source FROM images WHERE id = $1::text::uuid", image["id"])
    assert source == "manual"


async def test_an_empty_patch_changes_nothing(client: AsyncTestClient[Any]) -> None:
    image = (await upload(client, "photo.jpg")).json()
    await client.patch(f"/api/v1/images/{image['id']}", json={"text": "kept"})

    response = await client.patch(f"/api/v1/images/{image['id']}", json={})

    assert response.status_code == 200
    assert (response.json()["text"], response.json()["text_status"]) == ("kept", "done")
