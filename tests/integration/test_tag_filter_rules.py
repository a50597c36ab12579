"""`GET /images?tag=` without `q` follows tag rules exactly as `q=tag:` does (issue 17, "Also fix")."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from tests.conftest import AppFactory
from tests.integration.test_search import add_image


@pytest.fixture
async def fs_client(db: asyncpg.Connection, make_client: AppFactory) -> Any:
    async with make_client("filesystem") as client:
        yield client


async def _listed(client: AsyncTestClient[Any], *tags: str, **params: Any) -> list[str]:
    response = await client.get("/api/v1/images", params={"tag": list(tags), **params})
    assert response.status_code == 200, response.text
    return [item["filename"] for item in response.json()["items"]]


async def _searched(client: AsyncTestClient[Any], q: str) -> list[str]:
    response = await client.get("/api/v1/images", params={"q": q})
    assert response.status_code == 200, response.text
    return [item["filename"] for item in response.json()["items"]]


@pytest.mark.parametrize(
    ("tags", "q"),
    [
        (["kitty"], "tag:kitty"),  # an alias
        (["KITTY"], "tag:kitty"),  # normalised first
        (["cat"], "tag:cat"),
        (["animal"], "tag:animal"),  # implied by cat (and so by kitty)
        (["kitty", "cute"], "tag:kitty tag:cute"),
        (["animal", "cute"], "tag:animal tag:cute"),
        (["nothing"], "tag:nothing"),
    ],
)
async def test_tag_filter_resolves_aliases_and_implications_like_search(
    db: asyncpg.Connection, fs_client: AsyncTestClient[Any], tags: list[str], q: str
) -> None:
    await add_image(db, "cat.png", tags=("cat", "cute"), age=1)
    await add_image(db, "dog.png", tags=("dog", "animal"), age=2)
    await add_image(db, "old-cat.png", tags=("cat",), age=3)
    assert (await fs_client.post("/api/v1/tag-aliases", json={"alias": "kitty", "tag": "cat"})).status_code == 201
    response = await fs_client.post("/api/v1/tag-implications", json={"tag": "cat", "implies": "animal"})
    assert response.status_code == 201

    expected = await _searched(fs_client, q)
    assert await _listed(fs_client, *tags) == expected
    assert expected or tags == ["nothing"]


async def test_tag_filter_through_an_implication_pages_with_its_cursor(
    db: asyncpg.Connection, fs_client: AsyncTestClient[Any]
) -> None:
    for age in range(5):
        await add_image(db, f"cat-{age}.png", tags=("cat",), age=age)
    await fs_client.post("/api/v1/tag-implications", json={"tag": "cat", "implies": "animal"})
    seen: list[str] = []
    cursor = None
    for _ in range(5):
        response = await fs_client.get(
            "/api/v1/images", params={"tag": "animal", "limit": 2} | ({"cursor": cursor} if cursor else {})
        )
        assert response.status_code == 200, response.text
        seen += [item["filename"] for item in response.json()["items"]]
        cursor = response.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"cat-{age}.png" for age in range(5)]
