"""Bad input gets a 4xx with a code, never a 500, and leaves nothing behind."""

from __future__ import annotations

import io
import random
import struct
import time
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from PIL import Image

from tests.conftest import MEDIA, AppFactory, fixture_bytes, stored_keys, upload


async def assert_nothing_stored(client: AsyncTestClient[Any]) -> None:
    assert (await client.get("/api/v1/images")).json()["items"] == []
    assert await stored_keys(client) == []


@pytest.mark.parametrize(
    ("name", "claimed", "status", "code"),
    [
        ("not-an-image.txt", "image/png", 415, "unsupported_media_type"),
        ("script.svg", "image/svg+xml", 415, "unsupported_media_type"),
        ("script.svg", "image/png", 415, "unsupported_media_type"),
        ("page.html", "image/jpeg", 415, "unsupported_media_type"),
        ("image.tiff", "image/tiff", 415, "unsupported_media_type"),
        ("image.bmp", "image/bmp", 415, "unsupported_media_type"),
        ("truncated.jpg", "image/jpeg", 422, "invalid_image"),
        ("truncated.png", "image/png", 422, "invalid_image"),
        ("bomb.png", "image/png", 422, "image_too_large"),
    ],
)
async def test_rejected_files(client: AsyncTestClient[Any], name: str, claimed: str, status: int, code: str) -> None:
    response = await upload(client, name, content_type=claimed, tags="x")

    assert response.status_code == status, response.text
    assert response.json()["code"] == code
    assert set(response.json()) == {"detail", "code"}
    await assert_nothing_stored(client)


async def test_empty_file(client: AsyncTestClient[Any]) -> None:
    response = await upload(client, "empty.png", b"")

    assert response.status_code == 422
    assert response.json()["code"] == "empty_file"
    await assert_nothing_stored(client)


async def test_pixel_limit_is_configurable(make_client: AppFactory) -> None:
    async with make_client(max_image_pixels=640 * 480 - 1) as client:
        response = await upload(client, "photo.jpg")
        assert response.status_code == 422
        assert response.json()["code"] == "image_too_large"
        await assert_nothing_stored(client)


async def test_upload_over_the_limit_is_413_while_streaming(make_client: AppFactory) -> None:
    async with make_client(max_upload_bytes=5000) as client:
        response = await upload(client, "photo.jpg")  # 11 KB
        assert response.status_code == 413
        assert response.json()["code"] == "file_too_large"
        await assert_nothing_stored(client)


async def test_declared_length_far_over_the_limit_is_refused_before_reading(make_client: AppFactory) -> None:
    async with make_client(max_upload_bytes=5000) as client:
        response = await client.post(
            "/api/v1/images",
            content=b"x" * 200_000,
            headers={"content-type": "multipart/form-data; boundary=b"},
        )
    assert response.status_code == 413
    assert response.json()["code"] == "file_too_large"


def _multipart(parts: list[tuple[str, str | None, bytes]], boundary: str = "XyZ") -> tuple[bytes, str]:
    body = b""
    for name, filename, data in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename is not None else "")
        body += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode("utf-8", "surrogateescape")
        body += data + b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


@pytest.mark.parametrize(
    ("parts", "status", "code"),
    [
        ([("tags", None, b"cat")], 400, "missing_file"),
        ([("other", "photo.jpg", b"data")], 400, "missing_file"),
        ([("file", "a.jpg", b"1"), ("file", "b.jpg", b"2")], 400, "missing_file"),
        ([("file", None, b"not a file part")], 400, "missing_file"),
        ([("file", "a.jpg", b"\xff\xd8\xff"), ("tags", None, b"x" * 20_000)], 413, "request_too_large"),
        ([("f", None, b"1")] * 40, 400, "invalid_multipart"),
    ],
)
async def test_malformed_forms(
    client: AsyncTestClient[Any], parts: list[tuple[str, str | None, bytes]], status: int, code: str
) -> None:
    body, content_type = _multipart(parts)

    response = await client.post("/api/v1/images", content=body, headers={"content-type": content_type})

    assert response.status_code == status, response.text
    assert response.json()["code"] == code
    await assert_nothing_stored(client)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"garbage", "multipart/form-data; boundary=XyZ"),
        (
            b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n\r\nabc',
            "multipart/form-data; boundary=XyZ",
        ),
        (b"{}", "application/json"),
        (b"", "multipart/form-data"),
        (fixture_bytes("photo.jpg"), "image/jpeg"),
    ],
)
async def test_not_multipart_at_all(client: AsyncTestClient[Any], body: bytes, content_type: str) -> None:
    response = await client.post("/api/v1/images", content=body, headers={"content-type": content_type})

    assert 400 <= response.status_code < 500
    assert response.json()["code"] in {"invalid_multipart", "missing_file"}
    await assert_nothing_stored(client)


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("../../etc/passwd.jpg", "passwd.jpg"),
        ("C:\\Users\\me\\cat.jpg", "cat.jpg"),
        ("evil\x00name\x1f.jpg", "evilname.jpg"),
        ("right\u202eto-left.jpg", "rightto-left.jpg"),
        ("..", "image"),
        ("a" * 10_000 + ".jpg", "a" * 196 + ".jpg"),
    ],
)
async def test_filenames_are_sanitised(client: AsyncTestClient[Any], filename: str, expected: str) -> None:
    # Built by hand: HTTP clients would percent-encode the control characters before we ever saw them.
    body, content_type = _multipart([("file", filename, fixture_bytes("photo.jpg"))])
    response = await client.post("/api/v1/images", content=body, headers={"content-type": content_type})

    assert response.status_code == 201, response.text
    assert response.json()["filename"] == expected


@pytest.mark.parametrize(
    "tags",
    [
        "a,,b",
        ",",
        "x" * 65,
        "no/slashes",
        "semi;colon",
        "'; DROP TABLE images; --",
        ",".join(f"t{i}" for i in range(51)),
    ],
)
async def test_bad_upload_tags_are_422_and_store_nothing(client: AsyncTestClient[Any], tags: str) -> None:
    response = await upload(client, "photo.jpg", tags=tags)

    assert response.status_code == 422, response.text
    assert response.json()["code"] in {"invalid_tag", "too_many_tags"}
    await assert_nothing_stored(client)


async def test_unicode_tags_are_letters_too(client: AsyncTestClient[Any]) -> None:
    response = await upload(client, "photo.jpg", tags="Ünïcødé, 日本, ok:go.v1_x")
    assert response.status_code == 201
    assert response.json()["tags"] == ["ok:go.v1_x", "ünïcødé", "日本"]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"tags": [""]}, 422, "invalid_tag"),
        ({"tags": ["ok", "   "]}, 422, "invalid_tag"),
        ({"tags": [1, 2]}, 400, "validation_error"),
        ({"tags": "cat"}, 400, "validation_error"),
        ({"tags": [f"t{i}" for i in range(51)]}, 422, "too_many_tags"),
        ({}, 400, "validation_error"),
    ],
)
async def test_bad_tag_edits(client: AsyncTestClient[Any], body: Any, status: int, code: str) -> None:
    image = (await upload(client, "photo.jpg", tags="keep")).json()

    response = await client.patch(f"/api/v1/images/{image['id']}/tags", json=body)

    assert response.status_code == status, response.text
    assert response.json()["code"] == code
    assert (await client.get(f"/api/v1/images/{image['id']}")).json()["tags"] == ["keep"]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"text": "nul \u0000 byte"}, 422, "invalid_text"),
        ({"text": "bell \u0007"}, 422, "invalid_text"),
        ({"text": "x" * 2001}, 400, "validation_error"),
        ({"text": 42}, 400, "validation_error"),
        ({"text": ["a"]}, 400, "validation_error"),
        ({"text": "ok", "tags": ["x"]}, 400, "validation_error"),
        ({"caption": "ok"}, 400, "validation_error"),
        ([], 400, "validation_error"),
        ("text", 400, "validation_error"),
    ],
)
async def test_bad_text_edits(client: AsyncTestClient[Any], body: Any, status: int, code: str) -> None:
    image = (await upload(client, "photo.jpg")).json()

    response = await client.patch(f"/api/v1/images/{image['id']}", json=body)

    assert response.status_code == status, response.text
    assert response.json()["code"] == code
    after = (await client.get(f"/api/v1/images/{image['id']}")).json()
    assert (after["text"], after["text_status"]) == (None, "pending")


async def test_patch_with_invalid_json(client: AsyncTestClient[Any]) -> None:
    image = (await upload(client, "photo.jpg")).json()
    response = await client.patch(
        f"/api/v1/images/{image['id']}/tags", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert set(response.json()) == {"detail", "code"}


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"limit": "0"}, "validation_error"),
        ({"limit": "-1"}, "validation_error"),
        ({"limit": "1000000"}, "validation_error"),
        ({"limit": "ten"}, "validation_error"),
        ({"cursor": "garbage!!"}, "invalid_cursor"),
        ({"cursor": "eyJhIjoxfQ"}, "invalid_cursor"),
        ({"cursor": "WyIyMDI2LTAxLTAxVDAwOjAwOjAwIiwibm90LWEtdXVpZCJd"}, "invalid_cursor"),
        ({"tag": "bad/tag"}, "invalid_tag"),
    ],
)
async def test_bad_list_parameters(client: AsyncTestClient[Any], params: dict[str, str], code: str) -> None:
    response = await client.get("/api/v1/images", params=params)

    assert 400 <= response.status_code < 500
    assert response.json()["code"] == code


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/images/not-a-uuid"),
        ("GET", "/api/v1/images/%00"),
        ("DELETE", "/api/v1/images/123"),
        ("PATCH", "/api/v1/images/zzz/tags"),
        ("PATCH", "/api/v1/images/zzz"),
        ("PATCH", "/api/v1/images/6f1c1d2e-0000-4000-8000-000000000000"),
        ("GET", "/api/v1/nope"),
    ],
)
async def test_malformed_ids_and_paths_are_404(client: AsyncTestClient[Any], method: str, path: str) -> None:
    body = ({"tags": []} if path.endswith("/tags") else {"text": "x"}) if method == "PATCH" else None
    response = await client.request(method, path, json=body)

    assert response.status_code == 404
    assert set(response.json()) == {"detail", "code"}


async def test_wrong_method_is_405_json(client: AsyncTestClient[Any]) -> None:
    response = await client.put("/api/v1/images")
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"


def _gif_with_frames(count: int) -> bytes:
    """A GIF of `count` 1x1 frames: a few bytes each on disk, far too many to process."""
    frame = b"\x2c" + struct.pack("<HHHH", 0, 0, 1, 1) + b"\x00" + b"\x02\x02\x44\x01\x00"
    return b"GIF89a" + struct.pack("<HH", 1, 1) + b"\x80\x00\x00" + b"\x00\x00\x00\xff\xff\xff" + frame * count + b";"


def _jpeg_declaring(width: int, height: int) -> bytes:
    data = bytearray(fixture_bytes("photo.jpg"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def _truncations(name: str, count: int = 6) -> list[tuple[str, int]]:
    size = len(fixture_bytes(name))
    rng = random.Random(f"{name}-truncations")
    return [(name, rng.randrange(1, size - 1)) for _ in range(count)]


@pytest.mark.parametrize(
    ("name", "cut"),
    [case for name in ("photo.jpg", "alpha.png", "animated.gif", "image.webp") for case in _truncations(name)],
)
async def test_random_truncations_are_refused(client: AsyncTestClient[Any], name: str, cut: int) -> None:
    response = await upload(client, name, fixture_bytes(name)[:cut])

    assert 400 <= response.status_code < 500, response.text
    assert response.json()["code"] in {"invalid_image", "unsupported_media_type", "empty_file"}
    await assert_nothing_stored(client)


@pytest.mark.parametrize(
    ("data", "code"),
    [
        pytest.param(_gif_with_frames(10_000), "image_too_large", id="gif-10000-frames"),
        pytest.param(_jpeg_declaring(30000, 30000), "image_too_large", id="jpeg-30000x30000"),
        pytest.param(fixture_bytes("bomb.png"), "image_too_large", id="png-400mp"),
        pytest.param(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "unsupported_media_type", id="pdf"),
        pytest.param(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 1 1\n", "unsupported_media_type", id="eps"),
        pytest.param(b"SIMPLE  =                    T" + b" " * 50, "unsupported_media_type", id="fits"),
        pytest.param(b"8BPS\x00\x01" + b"\x00" * 40, "unsupported_media_type", id="psd"),
        pytest.param(fixture_bytes("image.tiff"), "unsupported_media_type", id="tiff"),
        pytest.param(b"\x00" * 100, "unsupported_media_type", id="zeros"),
    ],
)
async def test_bombs_and_other_formats_never_reach_a_decoder(
    client: AsyncTestClient[Any], data: bytes, code: str
) -> None:
    response = await upload(client, "upload.png", data, content_type="image/png")

    assert response.json()["code"] == code
    assert 400 <= response.status_code < 500
    await assert_nothing_stored(client)


async def test_too_many_parts(client: AsyncTestClient[Any]) -> None:
    body, content_type = _multipart([("f", None, b"1")] * 1001 + [("file", "a.jpg", fixture_bytes("photo.jpg"))])

    response = await client.post("/api/v1/images", content=body, headers={"content-type": content_type})

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_multipart"
    await assert_nothing_stored(client)


async def test_spoofed_type_the_other_way_is_stored_as_what_it_is(client: AsyncTestClient[Any]) -> None:
    response = await upload(client, "alpha.png", content_type="text/html")

    assert response.status_code == 201
    assert response.json()["mime_type"] == "image/png"
    served = await client.get(response.json()["file_url"])
    assert served.headers["content-type"] == "image/png"


async def test_png_html_polyglot_is_only_ever_served_as_an_inert_png(client: AsyncTestClient[Any]) -> None:
    polyglot = fixture_bytes("alpha.png") + b"<html><body><script>alert(document.cookie)</script></body></html>"

    response = await upload(client, "cat.html", polyglot, content_type="text/html")

    assert response.status_code == 201
    served = await client.get(response.json()["file_url"])
    assert served.content == polyglot
    assert served.headers["content-type"] == "image/png"
    assert served.headers["x-content-type-options"] == "nosniff"
    assert served.headers["content-security-policy"] == "default-src 'none'; sandbox"


@pytest.mark.parametrize("name", ["exif-dpi-text.jpg", "exif-dpi-missing.jpg"])
async def test_malformed_exif_never_decides_the_upload(client: AsyncTestClient[Any], name: str) -> None:
    """Phone photos whose resolution entries are text, empty or of the wrong type: stored, rotated, located no more."""
    response = await upload(client, name, content_type="image/jpeg")

    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["width"], body["height"]) == (300, 600)  # orientation 6 still honoured
    stored = await client.get(f"/api/v1/images/{body['id']}/file")
    exif = Image.open(io.BytesIO(stored.content)).getexif()
    assert exif.get(0x0112) == 6
    assert 0x8825 not in exif  # the location is gone
    assert (await client.get(f"/api/v1/images/{body['id']}/thumbnail")).status_code == 200


@pytest.mark.parametrize("length", [0, 1])
async def test_metadata_segment_shorter_than_its_length_field_never_decides(
    client: AsyncTestClient[Any], length: int
) -> None:
    """Found by the property test in test_metadata_fuzz.py: stripping read a negative length (a 500). The pixels
    still decode, so the file is stored; its unreadable metadata is left as it is."""
    data = bytearray(fixture_bytes("gps.jpg"))
    app1 = data.index(b"\xff\xe1")
    data[app1 + 2 : app1 + 4] = struct.pack(">H", length)

    response = await upload(client, "gps.jpg", bytes(data), content_type="image/jpeg")

    assert response.status_code == 201, response.text
    assert (await client.get(response.json()["file_url"])).status_code == 200


@pytest.mark.parametrize(
    ("name", "status", "code"),
    [
        ("no-moov.mp4", 422, "invalid_video"),
        ("truncated.mp4", 422, "invalid_video"),
        ("huge-frames.mp4", 422, "invalid_video"),  # 20000x20000 in the H.264 SPS: FFmpeg refuses it outright
        ("16000px-frames.mp4", 422, "image_too_large"),
        ("ten-hours.mp4", 422, "video_too_long"),
        ("audio-only.mp4", 415, "unsupported_media_type"),
        ("movie.mov", 415, "unsupported_media_type"),
        ("movie.mkv", 415, "unsupported_media_type"),
        ("movie.avi", 415, "unsupported_media_type"),
        ("movie.flv", 415, "unsupported_media_type"),
        ("archive.mp4", 415, "unsupported_media_type"),
        ("document.mp4", 415, "unsupported_media_type"),
        ("polyglot.mp4", 422, "invalid_video"),
        ("huge-frame.webp", 422, "image_too_large"),
    ],
)
async def test_bad_media_is_refused_in_bounded_time_and_nothing_stored(
    client: AsyncTestClient[Any], name: str, status: int, code: str
) -> None:
    started = time.monotonic()
    response = await upload(client, name, (MEDIA / name).read_bytes(), content_type="video/mp4")

    assert (response.status_code, response.json()["code"]) == (status, code), response.text
    assert time.monotonic() - started < 5.0
    await assert_nothing_stored(client)


async def test_cut_videos_are_refused(client: AsyncTestClient[Any]) -> None:
    data = (MEDIA / "h264.mp4").read_bytes()
    for cut in (20, 100, 1000, 2000, 3000, len(data) - 1):
        response = await upload(client, "clip.mp4", data[:cut])

        assert response.status_code in (415, 422), (cut, response.text)
        assert response.json()["code"] in {"invalid_video", "unsupported_media_type"}
    await assert_nothing_stored(client)
