"""Both plans of a search page (the budgeted walk of the sort order, and the indexes when it comes up short) give
the same pages, for every query shape of the search benchmark (issue 17: the row-budgeted walk)."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from reactbin.db import search as search_db
from reactbin.domain.query import parse_query
from reactbin.domain.search import resolve
from tests.conftest import AppFactory
from tests.integration.test_search import add_image, all_pages

SHAPES = [
    "happy",
    "that",
    '"think also"',
    "this is fine",
    "smu*",
    "happy -reaction",
    "tag:cat people",
    "happy sort:popular",
    "happy sort:old",
    "type:still happy",
    "is",
    "smu* sort:old",
    "tag:cat sort:new",
    "tag:cat -happy sort:old",
    "tag:cat|tag:smug that",
    "tag:people sort:new",
]


@pytest.fixture
async def library(db: asyncpg.Connection) -> None:
    captions = [
        "THISISFINE",
        "this is fine",
        "fine, this is",
        "happy that people think also",
        "UNHAPPY PEOPLE",
        "that is that",
        None,
        "smug happy cat",
    ]
    for n in range(40):
        tags = [
            t
            for t, every in (("happy", 3), ("this", 4), ("fine", 5), ("cat", 2), ("smug", 7), ("reaction", 2))
            if n % every == 0
        ]
        if n % 11 == 0:
            tags.append("people")
        await add_image(db, f"{n:02}.png", text=captions[n % len(captions)], tags=tuple(tags), age=n // 2, uses=n % 4)


@pytest.mark.parametrize("q", SHAPES)
async def test_walk_and_indexes_agree(
    library: None, make_client: AppFactory, monkeypatch: pytest.MonkeyPatch, q: str
) -> None:
    async with make_client("filesystem") as client:
        monkeypatch.setattr(search_db, "WALK_BUDGET", 3000)  # every page found by walking
        walked = await all_pages(client, q, 4)
        monkeypatch.setattr(search_db, "WALK_BUDGET", 2)  # nearly every page from the indexes
        fetched = await all_pages(client, q, 4)
        monkeypatch.setattr(search_db, "WALK_BUDGET", 9)
        mixed = await all_pages(client, q, 4)
    assert walked == fetched == mixed
    assert walked or q == "is"


async def test_every_shape_answers_at_scale_shape(library: None, make_client: AppFactory) -> None:
    async with make_client("filesystem") as client:
        for q in SHAPES:
            response: Any = await client.get("/api/v1/images", params={"q": q, "limit": 3})
            assert response.status_code == 200, (q, response.text)


@pytest.mark.parametrize("budget", [3000, 2])
async def test_ids_alone_are_the_ids_of_the_full_search(
    library: None, db: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch, budget: int
) -> None:
    """A window of ids (chat previews) is the same window of images, on either plan, in every query shape."""
    monkeypatch.setattr(search_db, "WALK_BUDGET", budget)
    for q in [*SHAPES, "sort:random", "", "sort:popular"]:
        query = parse_query(q)
        sort = query.sort or ("relevance" if query.has_free_text else "new")
        async with db.transaction():
            search = await resolve(db, query, [], sort=sort, limit=7, seed=3)
            full = [hit.image.id for hit in await search_db.search_images(db, search)]
            ids = await search_db.search_ids(db, search)
        assert ids == full, q
        assert ids or q == "is"
