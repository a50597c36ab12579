"""Pillow work on files and bytes: sniff the type, validate, read the displayed size, make thumbnails.

Everything here is CPU-bound and synchronous; callers run it off the event loop.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import struct
import warnings
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Literal

import msgspec
from PIL import Image, ImageFile

from reactbin.errors import EmptyFile, ImageTooLarge, InvalidImage, UnsupportedMediaType

# Pillow's own bomb guard only warns below twice its limit; we check the declared size ourselves and
# raise Pillow's ceiling out of the way so its warning never turns into a surprise.
Image.MAX_IMAGE_PIXELS = None

THUMBNAIL_BOX = 400
SNIFF_BYTES = 16

# Only these decoders ever run: exotic formats (TIFF, PSD, EPS, ...) never reach Pillow's plugins.
PIL_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/gif": "GIF", "image/webp": "WEBP"}

_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_ORIENTATION_TAG = 0x0112


class Thumbnail(msgspec.Struct, frozen=True):
    """An encoded thumbnail and what the database records about it."""

    data: bytes
    sha256: str
    width: int
    height: int
    mime_type: str


class Analysis(msgspec.Struct, frozen=True):
    """What an accepted upload turned out to be."""

    mime_type: str
    width: int
    height: int
    thumbnail: Thumbnail


def sniff_mime_type(head: bytes) -> str:
    """Detect an accepted image type from the first bytes of a file.

    Raises:
        EmptyFile: nothing was sent.
        UnsupportedMediaType: the bytes are not JPEG, PNG, GIF or WebP.
    """
    if not head:
        raise EmptyFile()
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    raise UnsupportedMediaType()


class ImageInfo(msgspec.Struct, frozen=True):
    """What a validated file is, as displayed (after EXIF orientation)."""

    mime_type: str
    width: int
    height: int


def validate_image(path: Path, max_pixels: int) -> ImageInfo:
    """Check that a file is a complete accepted image, without making anything from it.

    Same checks as `analyse_upload`: type from the bytes, declared size against `max_pixels` before any pixel
    is decoded, then a full decode (JPEG at 1/8 scale, which still reads every scan) so truncated or corrupt
    files are rejected.

    Raises:
        EmptyFile, UnsupportedMediaType, ImageTooLarge, InvalidImage.
    """
    with _open_file(path, max_pixels) as (mime_type, image):
        orientation = _orientation(image)
        width, height = image.size
        try:
            _decode_reduced(image, (max(1, width // 16), max(1, height // 16)))
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise InvalidImage() from exc
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    return ImageInfo(mime_type=mime_type, width=width, height=height)


def analyse_upload(path: Path, max_pixels: int) -> Analysis:
    """Validate an uploaded file completely and make its library thumbnail.

    The declared size is checked before any pixel is decoded, then the image is decoded (reduced where the
    format allows) so truncated or corrupt files are rejected rather than stored.

    Raises:
        EmptyFile, UnsupportedMediaType, ImageTooLarge, InvalidImage.
    """
    with _open_file(path, max_pixels) as (mime_type, image):
        orientation = _orientation(image)
        width, height = image.size
        if orientation in (5, 6, 7, 8):
            width, height = height, width
        thumbnail = _make_thumbnail(image, orientation, THUMBNAIL_BOX, "webp", "contain")
    return Analysis(mime_type=mime_type, width=width, height=height, thumbnail=thumbnail)


def render_thumbnail(
    path: Path,
    max_pixels: int,
    *,
    width: int,
    height: int,
    fit: Literal["contain", "cover"],
    fmt: Literal["webp", "jpeg", "png"],
) -> Thumbnail:
    """Render a thumbnail of the image file at `path` for the job API: within (or covering) `width`x`height`."""
    with _open_file(path, max_pixels) as (_, image):
        return _make_thumbnail(image, _orientation(image), (width, height), fmt, fit)


@contextlib.contextmanager
def _open_file(path: Path, max_pixels: int) -> Iterator[tuple[str, Image.Image]]:
    """The file's type from its bytes and the image opened for decoding, after every check that needs no pixels."""
    with path.open("rb") as handle:
        mime_type = sniff_mime_type(handle.read(SNIFF_BYTES))
        with _open_checked(handle, mime_type, max_pixels) as image:
            yield mime_type, image


def _open_checked(handle: IO[bytes], mime_type: str, max_pixels: int) -> Image.Image:
    _check_structure(handle, mime_type)
    handle.seek(0)
    try:
        image = _pillow_open(handle, mime_type)
    except (OSError, SyntaxError, ValueError, EOFError) as exc:  # UnidentifiedImageError is an OSError
        exif = _jpeg_exif_segment(handle) if mime_type == "image/jpeg" else None
        if exif is None:
            raise InvalidImage() from exc
        # Pillow reads the DPI from EXIF while opening, and a malformed entry (a resolution that is empty or text)
        # fails the whole open. Metadata never decides whether an image is accepted: open it with the EXIF segment
        # hidden, then give back the raw EXIF so the orientation is still honoured.
        offset, raw = exif
        try:
            image = _pillow_open(io.BufferedReader(_MaskedFile(handle, offset)), mime_type)
        except (OSError, SyntaxError, ValueError, EOFError) as retry_exc:
            raise InvalidImage() from retry_exc
        image.info["exif"] = raw
    width, height = image.size
    if width <= 0 or height <= 0:
        image.close()
        raise InvalidImage()
    if width * height > max_pixels:
        image.close()
        raise ImageTooLarge(f"The image is {width}x{height} pixels; at most {max_pixels} pixels are allowed")
    return image


def _pillow_open(handle: IO[bytes], mime_type: str) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return Image.open(handle, formats=[PIL_FORMATS[mime_type]])
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InvalidImage() from exc


def _jpeg_exif_segment(handle: IO[bytes]) -> tuple[int, bytes] | None:
    """Offset and payload of a JPEG's EXIF segment (APP1 `Exif\\0\\0`), if it has one before the image data."""
    handle.seek(2)
    while True:
        marker = handle.read(4)
        if len(marker) < 4 or marker[0] != 0xFF or marker[1] in (0xDA, 0xD9):
            return None
        (length,) = struct.unpack(">H", marker[2:])
        offset = handle.tell()
        payload = handle.read(max(length - 2, 0))
        if marker[1] == 0xE1 and payload.startswith(b"Exif\x00\x00"):
            return offset, payload
        if len(payload) < length - 2:
            return None


class _MaskedFile(io.RawIOBase):
    """A read-only view of an open file in which the `Exif` identifier at `offset` reads as something else."""

    def __init__(self, handle: IO[bytes], offset: int) -> None:
        self._handle = handle
        self._offset = offset
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._position = self._handle.seek(offset, whence) if whence != io.SEEK_CUR else self._position + offset
        return self._position

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        self._handle.seek(self._position)
        data = self._handle.read(len(buffer))
        start = self._position
        if start <= self._offset < start + len(data):
            at = self._offset - start
            data = data[:at] + b"-" + data[at + 1 :]
        buffer[: len(data)] = data
        self._position += len(data)
        return len(data)


MAX_FRAMES = 3000
"""Most frames an animation may have: a 10,000-frame GIF of 1x1 pixels is tiny on disk and huge to process."""


def _check_structure(handle: IO[bytes], mime_type: str) -> None:
    """Walk the container without decoding: a file cut short, or an animation with too many frames, is refused.

    Decoders only look at what they need (the first frame of a GIF, the data up to the end of the pixels), so a
    file truncated after that would otherwise be stored.
    """
    handle.seek(0)
    if mime_type == "image/gif":
        frames = _gif_frames(handle)
    elif mime_type == "image/png":
        frames = _png_frames(handle)
    elif mime_type == "image/webp":
        frames = _webp_frames(handle)
    else:
        return  # JPEG: the decoder reads every scan, even in draft mode, and fails on a cut file
    if frames > MAX_FRAMES:
        raise ImageTooLarge(f"The animation has {frames} frames; at most {MAX_FRAMES} are allowed")


def _read_exactly(handle: IO[bytes], size: int) -> bytes:
    data = handle.read(size)
    if len(data) != size:
        raise InvalidImage()
    return data


def _skip_sub_blocks(handle: IO[bytes]) -> None:
    while True:
        size = _read_exactly(handle, 1)[0]
        if size == 0:
            return
        if len(handle.read(size)) != size:
            raise InvalidImage()


def _gif_frames(handle: IO[bytes]) -> int:
    screen = _read_exactly(handle, 13)
    if screen[10] & 0x80:
        _read_exactly(handle, 3 << ((screen[10] & 7) + 1))
    frames = 0
    while True:
        introducer = _read_exactly(handle, 1)[0]
        if introducer == 0x3B:  # trailer
            return frames
        if introducer == 0x21:  # extension: label, then sub-blocks
            _read_exactly(handle, 1)
            _skip_sub_blocks(handle)
        elif introducer == 0x2C:  # image: descriptor, local palette, LZW code size, data sub-blocks
            frames += 1
            if frames > MAX_FRAMES:
                return frames
            descriptor = _read_exactly(handle, 9)
            if descriptor[8] & 0x80:
                _read_exactly(handle, 3 << ((descriptor[8] & 7) + 1))
            _read_exactly(handle, 1)
            _skip_sub_blocks(handle)
        else:
            raise InvalidImage()


def _png_frames(handle: IO[bytes]) -> int:
    _read_exactly(handle, 8)
    frames = 1
    while True:
        length, kind = struct.unpack(">I4s", _read_exactly(handle, 8))
        if kind == b"IEND":
            return frames  # anything after IEND is never decoded, and is served only as image/png
        if kind == b"acTL":
            frames = struct.unpack(">I", _read_exactly(handle, 4))[0]
            length -= 4
        end = handle.seek(length + 4, io.SEEK_CUR)
        if handle.seek(0, io.SEEK_END) < end:
            raise InvalidImage()
        handle.seek(end)


def _webp_frames(handle: IO[bytes]) -> int:
    header = _read_exactly(handle, 12)
    declared_end = struct.unpack("<I", header[4:8])[0] + 8
    if handle.seek(0, io.SEEK_END) < declared_end:
        raise InvalidImage()
    handle.seek(12)
    frames = 0
    while handle.tell() + 8 <= declared_end:
        kind, size = struct.unpack("<4sI", _read_exactly(handle, 8))
        if kind == b"ANMF":
            frames += 1
        handle.seek(size + (size & 1), io.SEEK_CUR)
    if handle.tell() > declared_end:
        raise InvalidImage()
    return max(frames, 1)


def _orientation(image: Image.Image) -> int:
    # Read EXIF from the header bytes only: PngImageFile.getexif() would decode the whole image.
    raw = image.info.get("exif")
    if not raw:
        return 1
    try:
        exif = Image.Exif()
        exif.load(raw)
        value = exif.get(_ORIENTATION_TAG, 1)
    except Exception:
        return 1
    return value if isinstance(value, int) and value in range(1, 9) else 1


def _make_thumbnail(
    image: Image.Image,
    orientation: int,
    box: int | tuple[int, int],
    fmt: str,
    fit: str,
) -> Thumbnail:
    target = (box, box) if isinstance(box, int) else box
    # The box is in displayed orientation; the stored pixels are not rotated yet.
    stored_target = (target[1], target[0]) if orientation in (5, 6, 7, 8) else target
    try:
        image.seek(0)
        source = _decode_reduced(image, stored_target)
        if fit == "cover":
            frame = _cover(source, stored_target)
        else:
            source.thumbnail(stored_target, Image.Resampling.LANCZOS)
            frame = source
        if orientation in _TRANSPOSE:
            frame = frame.transpose(_TRANSPOSE[orientation])
        frame = _normalise_mode(frame, fmt)
        out = io.BytesIO()
        if fmt == "webp":
            frame.save(out, "WEBP", quality=80, method=4)
        elif fmt == "jpeg":
            frame.save(out, "JPEG", quality=85, optimize=True)
        else:
            frame.save(out, "PNG", optimize=True)
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise InvalidImage() from exc
    data = out.getvalue()
    return Thumbnail(
        data=data,
        sha256=hashlib.sha256(data).hexdigest(),
        width=frame.width,
        height=frame.height,
        mime_type=f"image/{fmt}",
    )


def _decode_reduced(image: Image.Image, target: tuple[int, int]) -> Image.Image:
    """Decode at the smallest size that still gives a sharp `target`: JPEG draft mode, PNG strips, else whole."""
    rawmode = _strippable(image)
    factor = _reduce_factor(image.size, target)
    if rawmode is not None and factor >= 2 and isinstance(image, ImageFile.ImageFile):
        return _png_reduced(image, rawmode, factor)
    scale = max(target[0] / image.width, target[1] / image.height)
    image.draft("RGB", (max(1, round(image.width * scale * 2)), max(1, round(image.height * scale * 2))))
    image.load()
    return image


def _cover(image: Image.Image, target: tuple[int, int]) -> Image.Image:
    scale = max(target[0] / image.width, target[1] / image.height)
    resized = image.resize(
        (max(target[0], round(image.width * scale)), max(target[1], round(image.height * scale))),
        Image.Resampling.LANCZOS,
    )
    left = (resized.width - target[0]) // 2
    top = (resized.height - target[1]) // 2
    return resized.crop((left, top, left + target[0], top + target[1]))


def _normalise_mode(image: Image.Image, fmt: str) -> Image.Image:
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
    if fmt == "jpeg":
        if has_alpha:
            rgba = image.convert("RGBA")
            background = Image.new("RGB", rgba.size, (255, 255, 255))
            background.paste(rgba, mask=rgba.getchannel("A"))
            return background
        return image if image.mode == "RGB" else image.convert("RGB")
    if has_alpha:
        return image if image.mode == "RGBA" else image.convert("RGBA")
    return image if image.mode == "RGB" else image.convert("RGB")


# --- Large PNGs, decoded a strip of rows at a time ------------------------------------------------------------
# PNG has no draft mode: Pillow holds the whole image at 4 bytes per pixel (a 4096² upload costs 64 MiB). Here the
# deflate stream is inflated strip by strip; each strip is handed to Pillow's own PNG row decoder (which undoes the
# row filters) as a small stored-deflate stream that begins with the previous strip's last row, unfiltered, so the
# "up", "average" and "paeth" filters see the row they refer to. Each decoded strip is box-reduced at once.

_STRIP_BYTES = 1024 * 1024
_STRIPPABLE_RAWMODES = {"RGB": 3, "RGBA": 4, "L": 1, "LA": 2, "P": 1}
_STRIP_MIN_PIXELS = 4_000_000


def _reduce_factor(size: tuple[int, int], target: tuple[int, int]) -> int:
    """The largest integer box reduction that keeps at least twice the target's pixels in each direction."""
    return max(1, min(size[0] // (2 * max(1, target[0])), size[1] // (2 * max(1, target[1]))))


def _strippable(image: Image.Image) -> str | None:
    if (
        not isinstance(image, ImageFile.ImageFile)
        or image.format != "PNG"
        or image.info.get("interlace")
        or len(image.tile) != 1
    ):
        return None
    rawmode = image.tile[0].args
    if not isinstance(rawmode, str) or rawmode not in _STRIPPABLE_RAWMODES:
        return None
    if image.width * image.height < _STRIP_MIN_PIXELS:
        return None
    return rawmode


def _idat_stream(fp: IO[bytes]) -> Iterator[bytes]:
    fp.seek(8)
    while True:
        header = fp.read(8)
        if len(header) < 8:
            raise InvalidImage()
        length, kind = struct.unpack(">I4s", header)
        if kind == b"IDAT":
            remaining = length
            while remaining:
                piece = fp.read(min(remaining, 1024 * 1024))
                if not piece:
                    raise InvalidImage()
                remaining -= len(piece)
                yield piece
            fp.seek(4, io.SEEK_CUR)
        elif kind == b"IEND":
            return
        else:
            fp.seek(length + 4, io.SEEK_CUR)


def _png_reduced(image: ImageFile.ImageFile, rawmode: str, factor: int) -> Image.Image:
    """Decode a large non-interlaced 8-bit PNG strip by strip, box-reduced by `factor`, in little memory."""
    width, height = image.size
    row_bytes = width * _STRIPPABLE_RAWMODES[rawmode] + 1
    rows_per_strip = max(factor, _STRIP_BYTES // (width * 4) // factor * factor)
    has_alpha = rawmode in ("RGBA", "LA") or "transparency" in image.info
    out_mode = "RGBA" if has_alpha else ("L" if rawmode == "L" else "RGB")
    result = Image.new(out_mode, (-(-width // factor), -(-height // factor)))
    # getpalette() would load (decode) the whole image: read the parsed PLTE chunk instead.
    palette = image.palette if image.mode == "P" else None
    inflater = zlib.decompressobj()
    assert image.fp is not None
    source = _idat_stream(image.fp)
    pending = bytearray()
    previous_row: bytes | None = None
    for top in range(0, height, rows_per_strip):
        rows = min(rows_per_strip, height - top)
        wanted = rows * row_bytes
        while len(pending) < wanted:
            if inflater.unconsumed_tail:
                pending += inflater.decompress(inflater.unconsumed_tail, wanted - len(pending))
                continue
            chunk = next(source, None)
            if chunk is None:
                raise InvalidImage()
            pending += inflater.decompress(chunk, wanted - len(pending))
        filtered = bytes(pending[:wanted])
        del pending[:wanted]
        lead = b"" if previous_row is None else b"\x00" + previous_row
        strip = Image.new(image.mode, (width, rows + (previous_row is not None)))
        decoder = Image._getdecoder(image.mode, "zip", rawmode)
        decoder.setimage(strip.im, (0, 0, width, strip.height))
        status, error = decoder.decode(zlib.compress(lead + filtered, 0))
        if error < 0 or status >= 0:
            raise InvalidImage()
        previous_row = strip.crop((0, strip.height - 1, width, strip.height)).tobytes("raw", rawmode)
        if lead:
            strip = strip.crop((0, 1, width, strip.height))
        if palette is not None:
            strip.putpalette(palette.palette, palette.mode)
        if "transparency" in image.info:
            strip.info["transparency"] = image.info["transparency"]
        result.paste(strip.convert(out_mode).reduce(factor), (0, top // factor))
    return result
