"""The share page describes an image by its readable caption, and a caption change reaches the cached card."""

from __future__ import annotations

import asyncio
import html
from typing import Any

from litestar.testing import AsyncTestClient

from tests.conftest import upload


async def _described(client: AsyncTestClient[Any], image_id: str, expected: str) -> str:
    """The page's description once it is `expected` (the change reaches every replica's cache by NOTIFY, within
    milliseconds), or as it is after two seconds."""
    description = ""
    for _ in range(40):
        page = (await client.get(f"/i/{image_id}")).text
        description = _description(page)
        if description == expected:
            break
        await asyncio.sleep(0.05)
    return description


def _description(page: str) -> str:
    marker = '<meta property="og:description" content="'
    start = page.index(marker) + len(marker)
    return html.unescape(page[start : page.index('"', start)])


async def test_share_page_description_follows_the_caption(client: AsyncTestClient[Any]) -> None:
    image = (await upload(client, "photo.jpg")).json()
    first = await client.get(f"/i/{image['id']}")
    assert _description(first.text) == "JPEG, 640×480, on reactbin"  # no caption yet

    assert (await client.patch(f"/api/v1/images/{image['id']}", json={"text": "WHY NOT BOTH"})).status_code == 200
    expected = "“WHY NOT BOTH” · JPEG, 640×480, on reactbin"
    assert await _described(client, image["id"], expected) == expected

    await client.patch(f"/api/v1/images/{image['id']}", json={"text": "<b>this is fine</b>\nfor real"})
    expected = "“<b>this is fine</b> for real” · JPEG, 640×480, on reactbin"
    assert await _described(client, image["id"], expected) == expected
    assert "<b>" not in (await client.get(f"/i/{image['id']}")).text  # escaped
