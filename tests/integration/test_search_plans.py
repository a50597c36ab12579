"""Both plans of a search page (the budgeted walk of the sort order, and the indexes when it comes up short) give
the same pages, for every query shape of the search benchmark (issue 17: the row-budgeted walk)."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from reactbin.db import search as search_db
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
