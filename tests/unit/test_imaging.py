"""Images on real files: sniffing, large PNGs decoded in strips, thumbnails, location stripping (no server)."""

from __future__ import annotations

import hashlib
import io
import os
import time
from pathlib import Path

import pytest
from PIL import Image, ImageChops

from reactbin.errors import EmptyFile, ImageTooLarge, InvalidImage, UnsupportedMediaType
from reactbin.media import png_strips, thumbnail
from reactbin.media.analyse import MediaAnalysis, analyse_upload, render_job_thumbnail
from reactbin.media.formats import FORMATS, Limits, sniff, sniff_file
from reactbin.media.location import strip_location
from tests.conftest import FIXTURES


def analyse(path: Path) -> MediaAnalysis:
    return analyse_upload(path, sniff_file(path), Limits(64_000_000))


def strip_upload(path: Path, sha256: str, size: int) -> tuple[str, int]:
    return strip_location(path, sniff_file(path)) or (sha256, size)


_GPS = 0x8825


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\xff\xd8\xff\xe0rest", "image/jpeg"),
        (b"\x89PNG\r\n\x1a\nrest", "image/png"),
        (b"GIF89a....", "image/gif"),
        (b"GIF87a....", "image/gif"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"),
    ],
)
def test_sniff_accepts_the_four_types(head: bytes, expected: str) -> None:
    assert sniff(head).mime_type == expected


@pytest.mark.parametrize(
    ("head", "error"),
    [
        (b"", EmptyFile),
        (b"<svg xmlns=", UnsupportedMediaType),
        (b"II*\x00", UnsupportedMediaType),  # TIFF
        (b"8BPS", UnsupportedMediaType),  # PSD
        (b"%PDF-1.7", UnsupportedMediaType),
        (b"SIMPLE  =                    T", UnsupportedMediaType),  # FITS
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", UnsupportedMediaType),
    ],
)
def test_sniff_refuses_everything_else(head: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        sniff(head)


def _noisy(mode: str, size: tuple[int, int]) -> Image.Image:
    if mode == "P":
        return Image.effect_noise(size, 80).convert("RGB").quantize(64)
    noise = Image.frombytes("RGBA", size, os.urandom(size[0] * size[1] * 4))
    gradient = Image.merge("RGBA", [Image.linear_gradient("L").resize(size)] * 4)
    # Noise over a gradient makes PNG choose every row filter, which is what the strip decoder must undo.
    return Image.blend(noise, gradient, 0.7).convert(mode)


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "LA", "P"])
def test_large_png_strips_decode_exactly_like_a_full_decode(tmp_path: Path, mode: str) -> None:
    path = tmp_path / f"{mode}.png"
    _noisy(mode, (2300, 1900)).save(path)

    with Image.open(path) as image:
        rawmode = png_strips.strippable(image)
        assert rawmode is not None
        reduced = png_strips.png_reduced(image, rawmode, 3)
    with Image.open(path) as image:
        image.load()
        expected = image.convert(reduced.mode).reduce(3)

    assert reduced.size == expected.size == (767, 634)
    assert ImageChops.difference(reduced, expected).getbbox() is None


def test_truncated_large_png_is_invalid(tmp_path: Path) -> None:
    data = io.BytesIO()
    _noisy("RGB", (2300, 1900)).save(data, "PNG")
    path = tmp_path / "cut.png"
    path.write_bytes(data.getvalue()[: len(data.getvalue()) * 2 // 3])

    with pytest.raises(InvalidImage):
        analyse(path)


def test_large_png_thumbnail_fits_the_box(tmp_path: Path) -> None:
    path = tmp_path / "big.png"
    _noisy("RGBA", (2300, 1900)).save(path)

    analysis = analyse(path)

    assert (analysis.info.width, analysis.info.height) == (2300, 1900)
    thumb = Image.open(io.BytesIO(analysis.thumbnail.data))
    assert thumb.size == (400, 330)
    assert thumb.mode == "RGBA"


@pytest.mark.parametrize(
    ("fit", "decoded", "made"), [("contain", (400, 300), (400, 300)), ("cover", (800, 600), (400, 400))]
)
def test_a_jpeg_is_decoded_at_the_size_its_thumbnail_needs(
    monkeypatch: pytest.MonkeyPatch, fit: str, decoded: tuple[int, int], made: tuple[int, int]
) -> None:
    """An 800x600 photo fits a 400 px box at exactly half size, so JPEG's DCT scaling decodes it straight to
    400x300 (a twelfth of the CPU of a full decode and a Lanczos resize); covering the box needs the full decode."""
    source = io.BytesIO()
    Image.radial_gradient("L").resize((800, 600)).convert("RGB").save(source, "JPEG", quality=90)
    sizes: list[tuple[int, int]] = []
    real = thumbnail.decode_reduced

    def recording(image: Image.Image, target: tuple[int, int]) -> Image.Image:
        result = real(image, target)
        sizes.append(result.size)  # before the resize, which works in place
        return result

    monkeypatch.setattr(thumbnail, "decode_reduced", recording)
    with Image.open(source) as image:
        frame = thumbnail.reduce(image, 1, (400, 400), fit)  # type: ignore[arg-type]

    assert sizes == [decoded]
    assert frame.size == made


def test_declared_size_is_checked_before_decoding() -> None:
    with pytest.raises(ImageTooLarge):
        analyse(FIXTURES / "bomb.png")


@pytest.mark.parametrize(("fit", "size"), [("contain", (64, 48)), ("cover", (64, 64))])
@pytest.mark.parametrize("fmt", ["webp", "jpeg", "png"])
def test_render_thumbnail_formats_and_fits(fit: str, size: tuple[int, int], fmt: str) -> None:
    thumb = render_job_thumbnail(
        FIXTURES / "photo.jpg",
        FORMATS["image/jpeg"],
        64_000_000,
        width=64,
        height=64,
        fit=fit,  # type: ignore[arg-type]
        encoding=fmt,  # type: ignore[arg-type]
    )

    assert (thumb.width, thumb.height) == size
    assert thumb.mime_type == f"image/{fmt}"
    assert Image.open(io.BytesIO(thumb.data)).format == {"webp": "WEBP", "jpeg": "JPEG", "png": "PNG"}[fmt]


@pytest.mark.parametrize("name", ["gps.jpg", "gps.webp", "gps.png"])
def test_location_and_serials_are_stripped_and_orientation_kept(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes((FIXTURES / name).read_bytes())
    before = Image.open(FIXTURES / name)
    before.load()

    sha256, size = strip_upload(path, "unused", 0)

    data = path.read_bytes()
    assert (sha256, size) == (hashlib.sha256(data).hexdigest(), len(data))
    after = Image.open(path)
    exif = after.getexif()
    assert _GPS not in exif
    assert exif.get_ifd(_GPS) == {}
    assert exif[0x0112] == 6
    assert exif[0x010F] == "PhoneMaker"
    details = exif.get_ifd(0x8769)
    assert 0xA431 not in details
    assert 0xA430 not in details
    assert details[0x9003] == "2026:01:01 10:00:00"
    assert b"BODY-SERIAL-0042" not in data
    after.load()
    # Lossless: the decoded pixels are exactly the same.
    assert ImageChops.difference(after.convert("RGB"), before.convert("RGB")).getbbox() is None


@pytest.mark.parametrize("name", ["photo.jpg", "rotated.jpg", "alpha.png", "image.webp", "animated.gif"])
def test_files_without_such_metadata_are_untouched(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    original = (FIXTURES / name).read_bytes()
    path.write_bytes(original)

    assert strip_upload(path, "given-hash", 123) == ("given-hash", 123)
    assert path.read_bytes() == original


def test_bombs_are_refused_quickly_without_decoding(tmp_path: Path) -> None:
    from tests.integration.test_bad_input import _gif_with_frames, _jpeg_declaring

    cases = {
        "frames.gif": _gif_with_frames(10_000),
        "huge.jpg": _jpeg_declaring(30000, 30000),
        "huge.png": (FIXTURES / "bomb.png").read_bytes(),
    }
    for name, data in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        started = time.perf_counter()
        with pytest.raises(ImageTooLarge):
            analyse(path)
        assert time.perf_counter() - started < 0.1, name
