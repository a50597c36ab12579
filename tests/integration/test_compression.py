"""gzip and brotli for text responses: API JSON and the UI's files compressed for clients that take them; image and
video bytes, ranges and validators on the proxy routes untouched; small bodies sent as they are."""

from __future__ import annotations

import gzip
import json
import zlib
from pathlib import Path
from typing import Any

import brotli
import pytest
from litestar.testing import AsyncTestClient

from reactbin.routes.compression import MIN_BYTES, preferred_encoding
from tests.conftest import AppFactory, fixture_bytes, upload

NEGOTIATION = [
    ("br", "br"),
    ("gzip", "gzip"),
    ("gzip, deflate, br, zstd", "br"),
    ("br;q=0, gzip", "gzip"),
    ("gzip;q=0.5, br;q=0.1", "gzip"),
    ("br;q=0.8, gzip;q=0.8", "br"),
    ("*", "br"),
    ("*;q=0.5, br;q=0", "gzip"),
    ("identity", None),
    ("deflate", None),
    ("", None),
    ("GZIP", "gzip"),
    ("gzip;q=nonsense, br;q=2", None),
    (" , ;q=1, br ; q=0.3", "br"),
]


@pytest.mark.parametrize(("accept", "expected"), NEGOTIATION)
def test_the_encoding_follows_the_clients_preference(accept: str, expected: str | None) -> None:
    assert preferred_encoding(accept) == expected


def decode(response: Any) -> bytes:
    """The body as the server sent it, decompressed by us (the test client is told not to)."""
    raw: bytes = response.content
    encoding = response.headers.get("content-encoding")
    if encoding == "br":
        return bytes(brotli.decompress(raw))
    if encoding == "gzip":
        return gzip.decompress(raw)
    assert encoding is None, encoding
    return raw


async def raw_get(client: AsyncTestClient[Any], url: str, accept: str, **headers: str) -> Any:
    """A GET whose body stays as sent: httpx would otherwise decompress it and hide what went over the wire."""
    request = client.build_request("GET", url, headers={"accept-encoding": accept, **headers})
    response = await client.send(request, stream=True)
    response._content = b"".join([chunk async for chunk in response.aiter_raw()])
    await response.aclose()
    return response


@pytest.fixture
async def library(client: AsyncTestClient[Any]) -> list[dict[str, Any]]:
    images = []
    for name in ("photo.jpg", "alpha.png", "animated.gif"):
        response = await upload(client, name, tags="compression, test")
        assert response.status_code == 201, response.text
        images.append(response.json())
    return images


@pytest.mark.parametrize("encoding", ["br", "gzip"])
async def test_api_json_is_compressed(client: AsyncTestClient[Any], library: list[Any], encoding: str) -> None:
    plain = await raw_get(client, "/api/v1/images", "identity")
    assert plain.headers.get("content-encoding") is None
    assert len(plain.content) >= MIN_BYTES
    packed = await raw_get(client, "/api/v1/images", encoding)

    assert packed.status_code == 200
    assert packed.headers["content-encoding"] == encoding
    assert "accept-encoding" in packed.headers["vary"].lower()
    assert packed.headers["content-type"] == "application/json"
    assert int(packed.headers["content-length"]) == len(packed.content)
    assert len(packed.content) < len(plain.content) / 2
    assert json.loads(decode(packed)) == json.loads(plain.content)
    # The identity answer says it varies too, so no cache hands it (or the compressed one) to the wrong client.
    assert "accept-encoding" in plain.headers["vary"].lower()


async def test_small_and_headless_answers_are_sent_as_they_are(client: AsyncTestClient[Any]) -> None:
    health = await raw_get(client, "/api/v1/health", "br, gzip")
    assert health.status_code == 200
    assert health.headers.get("content-encoding") is None
    missing = await raw_get(client, "/api/v1/images/00000000-0000-0000-0000-000000000000", "br")
    assert missing.status_code == 404
    assert missing.headers.get("content-encoding") is None
    assert missing.json()["code"] == "image_not_found"
    head = await client.head("/api/v1/images", headers={"accept-encoding": "br"})
    assert head.headers.get("content-encoding") is None


async def test_image_and_video_bytes_ranges_and_etags_are_untouched(
    client: AsyncTestClient[Any], library: list[Any]
) -> None:
    for image in library:
        for url in (image["file_url"], image["thumbnail_url"]):
            full = await raw_get(client, url, "br, gzip")
            assert full.status_code == 200
            assert full.headers.get("content-encoding") is None
            assert full.headers["etag"].startswith('"')
            assert int(full.headers["content-length"]) == len(full.content)
            ranged = await raw_get(client, url, "br, gzip", range="bytes=10-99")
            assert ranged.status_code == 206
            assert ranged.headers.get("content-encoding") is None
            assert ranged.content == full.content[10:100]
            assert ranged.headers["content-range"] == f"bytes 10-99/{len(full.content)}"
            cached = await raw_get(client, url, "br", **{"if-none-match": full.headers["etag"]})
            assert cached.status_code == 304
            assert cached.headers["etag"] == full.headers["etag"]
    assert library[0]["file_url"]
    assert fixture_bytes("photo.jpg") == (await raw_get(client, library[0]["file_url"], "br")).content


def _write_ui(root: Path) -> dict[str, bytes]:
    """A built UI as `npm run build` leaves it: hashed assets with .br and .gz copies, index.html with its own."""
    files = {
        "index.html": b"<!doctype html><html><head><title>reactbin</title></head><body>" + b"<p>ui</p>" * 200,
        "assets/index-abc123.js": b"export const greeting = 'hello';\n" * 400,
        "assets/index-abc123.css": b".grid { display: flex; }\n" * 400,
        "sw.js": b"self.addEventListener('fetch', () => {});\n" * 100,  # no precompressed copy
    }
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        if name != "sw.js":
            path.with_name(path.name + ".br").write_bytes(brotli.compress(data, quality=11))
            path.with_name(path.name + ".gz").write_bytes(gzip.compress(data, 9))
    return files


@pytest.mark.parametrize(
    ("path", "name", "cache"),
    [
        ("/assets/index-abc123.js", "assets/index-abc123.js", "public, max-age=31536000, immutable"),
        ("/assets/index-abc123.css", "assets/index-abc123.css", "public, max-age=31536000, immutable"),
        ("/", "index.html", "no-cache"),
        ("/images/00000000-0000-0000-0000-000000000000", "index.html", "no-cache"),
    ],
)
async def test_ui_files_are_sent_precompressed(
    make_client: AppFactory, tmp_path: Path, path: str, name: str, cache: str
) -> None:
    ui = tmp_path / "ui"
    files = _write_ui(ui)
    async with make_client("filesystem", ui_dir=ui) as client:
        for accept, encoding, suffix in (("gzip, br", "br", ".br"), ("gzip", "gzip", ".gz"), ("identity", None, "")):
            response = await raw_get(client, path, accept)
            assert response.status_code == 200
            assert response.headers.get("content-encoding") == encoding
            assert response.headers["cache-control"] == cache
            assert "accept-encoding" in response.headers["vary"].lower()
            assert response.content == (ui / (name + suffix)).read_bytes()
            assert decode(response) == files[name]
            assert int(response.headers["content-length"]) == len(response.content)
        head = await client.head(path, headers={"accept-encoding": "br"})
        assert head.status_code == 200
        assert head.headers.get("content-encoding") is None


async def test_a_ui_file_without_a_precompressed_copy_is_compressed_on_the_fly(
    make_client: AppFactory, tmp_path: Path
) -> None:
    ui = tmp_path / "ui"
    files = _write_ui(ui)
    async with make_client("filesystem", ui_dir=ui) as client:
        response = await raw_get(client, "/sw.js", "gzip")
        assert response.headers["content-encoding"] == "gzip"
        assert zlib.decompress(response.content, wbits=31) == files["sw.js"]
        assert response.headers["etag"].startswith('W/"')
