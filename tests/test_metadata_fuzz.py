"""Property: corrupting the EXIF or XMP segment of a real JPEG, byte by byte, never gets a 5xx from an upload.

Metadata never decides an upload: a file that still decodes is stored, one that does not is a 4xx. The examples
run against a real `reactbin serve` (PostgreSQL, S3) over HTTP; the run is derandomised and bounded.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Iterator

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from tests.conftest import FIXTURES, S3Server
from tests.support.live import Server, run_server


def _segments(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of the length field and payload of every EXIF and XMP segment of a JPEG."""
    found = []
    at = 2
    while at + 4 <= len(data) and data[at] == 0xFF and data[at + 1] not in (0xDA, 0xD9):
        (length,) = struct.unpack(">H", data[at + 2 : at + 4])
        payload = data[at + 4 : at + 2 + length]
        if data[at + 1] == 0xE1 and (payload.startswith((b"Exif\0\0", b"http://ns.adobe.com/xap/1.0/\0"))):
            found.append((at + 2, at + 2 + length))  # the length field too: a segment may lie about its size
        at += 2 + length
    return found


def _with_xmp() -> bytes:
    xmp = (
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        b'<rdf:Description xmlns:tiff="http://ns.adobe.com/tiff/1.0/" tiff:Orientation="6" tiff:XResolution="72/1"/>'
        b"</rdf:RDF></x:xmpmeta>"
    )
    out = io.BytesIO()
    Image.open(FIXTURES / "gps.jpg").save(
        out, "JPEG", quality=80, exif=Image.open(FIXTURES / "gps.jpg").getexif(), xmp=xmp
    )
    return out.getvalue()


SOURCES = {
    name: (FIXTURES / name).read_bytes()
    for name in ("gps.jpg", "rotated.jpg", "exif-dpi-text.jpg", "exif-dpi-missing.jpg")
} | {"xmp.jpg": _with_xmp()}


def test_every_source_has_metadata_to_corrupt() -> None:
    assert all(_segments(data) for data in SOURCES.values())
    assert len(_segments(SOURCES["xmp.jpg"])) == 2


@pytest.fixture(scope="module")
def server(database_url: str, s3_server: S3Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with run_server(database_url, s3_server, None, tmp_path_factory.mktemp("metadata-fuzz")) as live:
        yield live


@st.composite
def corrupted(draw: st.DrawFn) -> tuple[str, bytes]:
    name = draw(st.sampled_from(sorted(SOURCES)))
    data = bytearray(SOURCES[name])
    start, end = draw(st.sampled_from(_segments(bytes(data))))
    for _ in range(draw(st.integers(1, 8))):
        data[draw(st.integers(start, end - 1))] = draw(st.integers(0, 255))
    return name, bytes(data)


@settings(max_examples=50, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(example=corrupted())
def test_corrupted_metadata_is_never_a_server_error(server: Server, example: tuple[str, bytes]) -> None:
    name, data = example
    response = httpx.post(f"{server.api}/images", files={"file": (name, data, "image/jpeg")}, timeout=30)

    assert response.status_code < 500, f"{response.status_code} {response.text}\n{server.log_tail()}"
    assert set(response.json()) >= ({"id", "width"} if response.status_code < 300 else {"detail", "code"})
