"""Upload, dedupe, list, get, retag and delete through the HTTP API, on real PostgreSQL and S3."""

from __future__ import annotations

import asyncio
import hashlib
import io
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tests.conftest import AppFactory, fixture_bytes, stored_keys, upload

ACCEPTED = [
    # name, mime type, displayed width, height
    ("photo.jpg", "image/jpeg", 640, 480),
    ("rotated.jpg", "image/jpeg", 300, 600),
    ("alpha.png", "image/png", 320, 240),
    ("animated.gif", "image/gif", 200, 150),
    ("image.webp", "image/webp", 500, 500),
    ("tiny.png", "image/png", 1, 1),
]


@pytest.mark.parametrize(("name", "mime_type", "width", "height"), ACCEPTED)
async def test_upload_accepts_each_type_and_reports_what_it_is(
    client: AsyncTestClient[Any], name: str, mime_type: str, width: int, height: int
) -> None:
    data = fixture_bytes(name)
    # The client's claimed type is ignored: the type comes from the bytes.
    response = await upload(client, name, content_type="text/plain", tags="Funny Cat, reaction")

    assert response.status_code == 201, response.text
    body = response.json()
    digest = hashlib.sha256(data).hexdigest()
    assert body["hash"] == digest
    assert body["mime_type"] == mime_type
    assert (body["width"], body["height"]) == (width, height)
    assert body["size_bytes"] == len(data)
    assert body["filename"] == name
    assert body["tags"] == ["funny-cat", "reaction"]
    assert body["duplicate"] is False
    ext = {"image/jpeg": "jpg", "image/png": "png", "image/gif": "gif", "image/webp": "webp"}[mime_type]
    assert body["storage_key"] == f"images/{digest}.{ext}"
    assert body["thumbnail_key"] == f"thumbnails/v1/{digest}.webp"
    assert body["file_url"] == f"/api/v1/images/{body['id']}/file"
    assert body["thumbnail_url"] == f"/api/v1/images/{body['id']}/thumbnail"
    assert body["kind"] == ("animated" if name == "animated.gif" else "still")
    assert body["placeholder"]
    # An animation's preview is made by the worker in the background: it may or may not be there yet.
    stored = set(await stored_keys(client))
    assert {body["storage_key"], body["thumbnail_key"]} <= stored
    assert stored - {body["storage_key"], body["thumbnail_key"]} <= {f"previews/v1/{digest}.webp"}


async def test_thumbnail_fits_the_box_and_follows_exif_orientation(client: AsyncTestClient[Any]) -> None:
    from PIL import Image

    body = (await upload(client, "rotated.jpg")).json()
    thumb = await client.get(body["thumbnail_url"])

    assert thumb.status_code == 200
    image = Image.open(io.BytesIO(thumb.content))
    assert image.format == "WEBP"
    # Stored 600x300 with orientation 6: displayed portrait, so the thumbnail is portrait too.
    assert image.size == (200, 400)


async def test_same_bytes_again_returns_the_existing_image_with_tags_merged(client: AsyncTestClient[Any]) -> None:
    first = (await upload(client, "photo.jpg", tags="cat")).json()

    again = await upload(client, "photo.jpg", tags="dog, cat")

    assert again.status_code == 200
    body = again.json()
    assert body["id"] == first["id"]
    assert body["duplicate"] is True
    assert body["tags"] == ["cat", "dog"]
    assert len(await stored_keys(client)) == 2


async def test_concurrent_uploads_of_the_same_bytes_make_one_image(client: AsyncTestClient[Any]) -> None:
    responses = await asyncio.gather(*(upload(client, "alpha.png", tags=f"t{i}") for i in range(6)))

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 200, 200, 200, 200, 201]
    assert len({r.json()["id"] for r in responses}) == 1
    listed = (await client.get("/api/v1/images")).json()
    assert len(listed["items"]) == 1
    assert listed["items"][0]["tags"] == [f"t{i}" for i in range(6)]
    assert len(await stored_keys(client)) == 2


async def test_list_is_newest_first_with_keyset_pages(client: AsyncTestClient[Any]) -> None:
    ids = []
    for name in ("photo.jpg", "alpha.png", "animated.gif", "image.webp", "tiny.png"):
        ids.append((await upload(client, name)).json()["id"])

    seen: list[str] = []
    cursor = None
    for _ in range(5):
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get("/api/v1/images", params=params)).json()
        seen.extend(item["id"] for item in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert seen == list(reversed(ids))


async def test_tag_filters_are_anded(client: AsyncTestClient[Any]) -> None:
    cat = (await upload(client, "photo.jpg", tags="cat, funny")).json()
    dog = (await upload(client, "alpha.png", tags="dog, funny")).json()
    await upload(client, "tiny.png", tags="cat")

    async def ids(*tags: str) -> list[str]:
        response = await client.get("/api/v1/images", params={"tag": list(tags)})
        assert response.status_code == 200
        return [item["id"] for item in response.json()["items"]]

    assert await ids("funny") == [dog["id"], cat["id"]]
    assert await ids("funny", "cat") == [cat["id"]]
    assert await ids("FUNNY", " Dog ") == [dog["id"]]
    assert await ids("funny", "cat", "dog") == []
    assert await ids("nothing") == []


async def test_tag_filter_pages_through_many_images(client: AsyncTestClient[Any]) -> None:
    made = []
    for i in range(7):
        data = _png(i)
        made.append((await upload(client, "x.png", data, tags="many")).json()["id"])

    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"tag": "many", "limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get("/api/v1/images", params=params)).json()
        seen.extend(item["id"] for item in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(made))


async def test_get_patch_and_delete(client: AsyncTestClient[Any]) -> None:
    image = (await upload(client, "photo.jpg", tags="a, b")).json()
    url = f"/api/v1/images/{image['id']}"

    got = await client.get(url)
    assert got.status_code == 200
    assert got.json() == {k: v for k, v in image.items() if k not in ("duplicate", "similar")}

    patched = await client.patch(f"{url}/tags", json={"tags": ["B", "new tag", "b"]})
    assert patched.status_code == 200, patched.text
    assert patched.json()["tags"] == ["b", "new-tag"]
    assert (await client.get(url)).json()["tags"] == ["b", "new-tag"]

    deleted = await client.delete(url)
    assert deleted.status_code == 204
    assert (await client.get(url)).json() == {"detail": "Image not found", "code": "image_not_found"}
    assert (await client.get(f"{url}/file")).status_code == 404
    assert await stored_keys(client) == []
    assert (await client.delete(url)).status_code == 404


async def test_deleted_then_reuploaded_content_is_stored_again(client: AsyncTestClient[Any]) -> None:
    first = (await upload(client, "photo.jpg")).json()
    await client.delete(f"/api/v1/images/{first['id']}")

    again = await upload(client, "photo.jpg")

    assert again.status_code == 201
    file = await client.get(again.json()["file_url"])
    assert file.content == fixture_bytes("photo.jpg")


async def test_tag_autocomplete_counts(client: AsyncTestClient[Any]) -> None:
    await upload(client, "photo.jpg", tags="cat, car")
    await upload(client, "alpha.png", tags="cat, dog")

    response = await client.get("/api/v1/tags", params={"prefix": "CA"})

    assert response.status_code == 200
    assert response.json() == {
        "items": [{"name": "cat", "count": 2, "tag": "cat"}, {"name": "car", "count": 1, "tag": "car"}]
    }
    everything = (await client.get("/api/v1/tags")).json()["items"]
    assert [item["name"] for item in everything] == ["cat", "car", "dog"]
    assert (await client.get("/api/v1/tags", params={"prefix": "_"})).json() == {"items": []}


async def test_public_base_url_makes_every_response_carry_cdn_urls(make_client: AppFactory) -> None:
    async with make_client(public_base_url="https://cdn.example.com") as client:
        created = (await upload(client, "photo.jpg", tags="x")).json()
        expected_file = f"https://cdn.example.com/{created['storage_key']}"
        expected_thumb = f"https://cdn.example.com/{created['thumbnail_key']}"
        listed = (await client.get("/api/v1/images")).json()["items"][0]
        got = (await client.get(f"/api/v1/images/{created['id']}")).json()
        patched = (await client.patch(f"/api/v1/images/{created['id']}/tags", json={"tags": ["y"]})).json()
        duplicate = (await upload(client, "photo.jpg")).json()
        # The proxy keeps working in CDN mode.
        proxied = await client.get(f"/api/v1/images/{created['id']}/file")

    for body in (created, listed, got, patched, duplicate):
        assert body["file_url"] == expected_file
        assert body["thumbnail_url"] == expected_thumb
    assert proxied.status_code == 200


async def test_filesystem_backend_serves_the_same_api(make_client: AppFactory) -> None:
    async with make_client(backend="filesystem") as client:
        created = await upload(client, "animated.gif", tags="gif")
        assert created.status_code == 201
        body = created.json()
        file = await client.get(body["file_url"])
        assert file.content == fixture_bytes("animated.gif")
        assert file.headers["content-type"] == "image/gif"
        assert (await client.get(body["thumbnail_url"])).headers["content-type"] == "image/webp"
        assert (await client.delete(f"/api/v1/images/{body['id']}")).status_code == 204
        assert await stored_keys(client) == []


def _png(seed: int) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (4, 4), (seed, 2 * seed, 3 * seed)).save(out, "PNG")
    return out.getvalue()


async def test_uploaded_photos_lose_their_location(client: AsyncTestClient[Any]) -> None:
    from PIL import Image

    original = fixture_bytes("gps.jpg")
    created = await upload(client, "gps.jpg")

    assert created.status_code == 201
    body = created.json()
    served = (await client.get(body["file_url"])).content
    assert served != original
    assert body["hash"] == hashlib.sha256(served).hexdigest()
    assert body["size_bytes"] == len(served)
    exif = Image.open(io.BytesIO(served)).getexif()
    assert exif.get_ifd(0x8825) == {}
    assert b"BODY-SERIAL-0042" not in served
    assert (body["width"], body["height"]) == (300, 600)  # orientation survived
    # The same photo again is recognised as the same image.
    assert (await upload(client, "gps.jpg")).json()["duplicate"] is True
