"""`created_at` on upload (restoring an export keeps the library's dates): accepted forms and the bad-input table."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tests.conftest import fixture_bytes, stored_keys


async def _upload(client: AsyncTestClient[Any], created_at: str) -> Any:
    files = {"file": ("photo.jpg", fixture_bytes("photo.jpg"), "image/jpeg")}
    return await client.post("/api/v1/images", files=files, data={"created_at": created_at})


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("2020-02-03T04:05:06Z", "2020-02-03T04:05:06Z"),
        ("2020-02-03T05:05:06.250+01:00", "2020-02-03T04:05:06.250000Z"),
        ("", None),  # empty: now
    ],
)
async def test_upload_keeps_a_given_created_at(client: AsyncTestClient[Any], sent: str, stored: str | None) -> None:
    response = await _upload(client, sent)
    assert response.status_code == 201, response.text
    if stored is not None:
        assert response.json()["created_at"] == stored
        listed = (await client.get("/api/v1/images")).json()["items"]
        assert [item["created_at"] for item in listed] == [stored]


@pytest.mark.parametrize(
    "sent",
    ["yesterday", "2020-13-01T00:00:00Z", "2020-02-03T04:05:06", "2999-01-01T00:00:00Z", "\x00", "2020-02-03"],
    ids=["words", "bad-month", "no-time-zone", "future", "nul", "date-only"],
)
async def test_bad_created_at_is_422_and_stores_nothing(client: AsyncTestClient[Any], sent: str) -> None:
    response = await _upload(client, sent)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "invalid_created_at"
    assert await stored_keys(client) == []
    assert (await client.get("/api/v1/images")).json()["items"] == []
