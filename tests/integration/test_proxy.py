"""The proxy routes: streamed bytes, strong ETags, immutable caching, 304 without storage, single ranges."""

from __future__ import annotations

import hashlib
import os
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tests.conftest import AppFactory, fixture_bytes, storage_of, upload

IMMUTABLE = "public, max-age=31536000, immutable"


@pytest.fixture
async def image(client: AsyncTestClient[Any]) -> dict[str, Any]:
    response = await upload(client, "photo.jpg")
    assert response.status_code == 201
    body: dict[str, Any] = response.json()
    return body


async def test_file_is_served_with_caching_headers(client: AsyncTestClient[Any], image: dict[str, Any]) -> None:
    response = await client.get(image["file_url"])

    assert response.status_code == 200
    assert response.content == fixture_bytes("photo.jpg")
    assert response.headers["content-type"] == "image/jpeg"
    assert response.headers["content-length"] == str(len(response.content))
    assert response.headers["etag"] == f'"{image["hash"]}"'
    assert response.headers["cache-control"] == IMMUTABLE
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-security-policy"] == "default-src 'none'; sandbox"
    assert response.headers["accept-ranges"] == "bytes"


async def test_thumbnail_has_its_own_strong_etag(client: AsyncTestClient[Any], image: dict[str, Any]) -> None:
    response = await client.get(image["thumbnail_url"])

    assert response.status_code == 200
    assert response.headers["content-type"] == "image/webp"
    assert response.headers["etag"] == f'"{hashlib.sha256(response.content).hexdigest()}"'
    assert response.headers["etag"] != f'"{image["hash"]}"'
    assert response.headers["cache-control"] == IMMUTABLE


async def test_head_gives_headers_without_body(client: AsyncTestClient[Any], image: dict[str, Any]) -> None:
    response = await client.head(image["file_url"])

    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-length"] == str(image["size_bytes"])
    assert response.headers["etag"] == f'"{image["hash"]}"'


@pytest.mark.parametrize(
    "header",
    ['"{hash}"', 'W/"{hash}"', '"other", "{hash}"', "*"],
)
async def test_if_none_match_gives_304(client: AsyncTestClient[Any], image: dict[str, Any], header: str) -> None:
    response = await client.get(image["file_url"], headers={"if-none-match": header.format(hash=image["hash"])})

    assert response.status_code == 304
    assert response.content == b""
    assert response.headers["etag"] == f'"{image["hash"]}"'
    assert response.headers["cache-control"] == IMMUTABLE


async def test_stale_etag_gets_the_bytes(client: AsyncTestClient[Any], image: dict[str, Any]) -> None:
    response = await client.get(image["file_url"], headers={"if-none-match": '"0000"'})
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [
        ("bytes=0-9", 0, 9),
        ("bytes=100-", 100, None),
        ("bytes=-50", None, None),
        ("bytes=10-999999999", 10, None),
    ],
)
async def test_single_range_gives_206(
    client: AsyncTestClient[Any], image: dict[str, Any], header: str, first: int | None, last: int | None
) -> None:
    data = fixture_bytes("photo.jpg")
    size = len(data)
    if first is None:
        first, last = size - 50, size - 1
    last = size - 1 if last is None else last

    response = await client.get(image["file_url"], headers={"range": header})

    assert response.status_code == 206
    assert response.content == data[first : last + 1]
    assert response.headers["content-range"] == f"bytes {first}-{last}/{size}"
    assert response.headers["content-length"] == str(last - first + 1)


async def test_large_file_ranges_stream_from_storage(make_client: AppFactory) -> None:
    # Larger than the small-object cache entry limit, so the range goes to storage as a ranged GET.
    data = _big_png(1400)
    assert len(data) > 1024 * 1024
    async with make_client() as client:
        image = (await upload(client, "big.png", data)).json()
        whole = await client.get(image["file_url"])
        part = await client.get(image["file_url"], headers={"range": "bytes=1000000-1000099"})

    assert whole.content == data
    assert part.status_code == 206
    assert part.content == data[1000000:1000100]


async def test_unsatisfiable_range_gives_416(client: AsyncTestClient[Any], image: dict[str, Any]) -> None:
    response = await client.get(image["file_url"], headers={"range": f"bytes={image['size_bytes']}-"})

    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{image['size_bytes']}"
    assert response.json()["code"] == "range_not_satisfiable"


@pytest.mark.parametrize("header", ["bytes=0-1,5-9", "items=0-5", "bytes=9-2", "bytes=abc"])
async def test_unusable_range_is_ignored(client: AsyncTestClient[Any], image: dict[str, Any], header: str) -> None:
    response = await client.get(image["file_url"], headers={"range": header})

    assert response.status_code == 200
    assert response.content == fixture_bytes("photo.jpg")


async def test_if_range_with_other_etag_sends_everything(client: AsyncTestClient[Any], image: dict[str, Any]) -> None:
    response = await client.get(image["file_url"], headers={"range": "bytes=0-9", "if-range": '"old"'})
    assert response.status_code == 200


@pytest.mark.parametrize("path", ["/api/v1/images/{id}/file", "/api/v1/images/{id}/thumbnail"])
@pytest.mark.parametrize("image_id", ["00000000-0000-0000-0000-000000000000", "not-a-uuid", "1' OR '1'='1"])
async def test_unknown_or_malformed_ids_are_404(client: AsyncTestClient[Any], path: str, image_id: str) -> None:
    response = await client.get(path.format(id=image_id))

    assert response.status_code == 404
    assert response.json() == {"detail": "Image not found", "code": "image_not_found"}


async def test_missing_object_is_a_clean_error(make_client: AppFactory) -> None:
    async with make_client() as client:
        image = (await upload(client, "photo.jpg")).json()
        async with storage_of(client) as storage:
            await storage.delete(image["storage_key"])
        response = await client.get(image["file_url"])

    assert response.status_code == 404
    assert response.json()["code"] == "content_not_found"


def _big_png(side: int) -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(out, "PNG", compress_level=0)
    return out.getvalue()
