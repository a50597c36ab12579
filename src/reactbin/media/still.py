"""Opening images with Pillow safely: one allowed decoder, declared size checked before any pixel, orientation.

Everything here is CPU-bound and synchronous; callers run it off the event loop.
"""

from __future__ import annotations

import io
import struct
import warnings
from typing import IO

from PIL import Image, ImageFile

from reactbin.errors import ImageTooLarge, InvalidImage
from reactbin.media.formats import Format
from reactbin.media.png_strips import png_reduced, reduce_factor, strippable

# Pillow's own bomb guard only warns below twice its limit; we check the declared size ourselves and
# raise Pillow's ceiling out of the way so its warning never turns into a surprise.
Image.MAX_IMAGE_PIXELS = None

DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError)
"""What Pillow raises for a corrupt or truncated file (UnidentifiedImageError is an OSError)."""

TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
"""How to turn stored pixels into displayed ones, by EXIF orientation (AVIF's irot/imir arrive as one too)."""
_ORIENTATION_TAG = 0x0112


def open_image(handle: IO[bytes], fmt: Format, max_pixels: int) -> Image.Image:
    """Open an image with its format's decoder only and check its declared size; no pixel is decoded yet.

    Raises:
        InvalidImage: Pillow cannot read the header, or the size is empty.
        ImageTooLarge: more than `max_pixels` pixels.
    """
    assert fmt.pillow is not None
    handle.seek(0)
    try:
        image = _pillow_open(handle, fmt.pillow)
    except DECODE_ERRORS as exc:
        exif = _jpeg_exif_segment(handle) if fmt.pillow == "JPEG" else None
        if exif is None:
            raise InvalidImage() from exc
        # Pillow reads the DPI from EXIF while opening, and a malformed entry (a resolution that is empty or text)
        # fails the whole open. Metadata never decides whether an image is accepted: open it with the EXIF segment
        # hidden, then give back the raw EXIF so the orientation is still honoured.
        offset, raw = exif
        try:
            image = _pillow_open(io.BufferedReader(_MaskedFile(handle, offset)), fmt.pillow)
        except DECODE_ERRORS as retry_exc:
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


def orientation(image: Image.Image) -> int:
    """The EXIF orientation (1-8) from the header bytes only: `PngImageFile.getexif()` would decode the whole image."""
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


def displayed_size(image: Image.Image, orientation: int) -> tuple[int, int]:
    """Width and height as shown, after the orientation is applied."""
    width, height = image.size
    return (height, width) if orientation in (5, 6, 7, 8) else (width, height)


def decode_reduced(image: Image.Image, target: tuple[int, int]) -> Image.Image:
    """Decode at the smallest size that still covers `target`: JPEG draft mode, PNG strips, else whole.

    JPEG's DCT scaling (1/2, 1/4, 1/8) is itself a good downsampling filter: decoded straight to the first scale at
    or above the target, a 400 px thumbnail of an 800x600 photo came out within 39 dB PSNR of a full decode resized
    with Lanczos, for a twelfth of the CPU (docs/benchmarks.md, "Latest results: transfer").

    Raises:
        InvalidImage: the pixel data is corrupt or cut short.
    """
    try:
        rawmode = strippable(image)
        factor = reduce_factor(image.size, target)
        if rawmode is not None and factor >= 2 and isinstance(image, ImageFile.ImageFile):
            return png_reduced(image, rawmode, factor)
        scale = max(target[0] / image.width, target[1] / image.height)
        image.draft("RGB", (max(1, round(image.width * scale)), max(1, round(image.height * scale))))
        image.load()
    except DECODE_ERRORS as exc:
        raise InvalidImage() from exc
    return image


def _pillow_open(handle: IO[bytes], pillow_format: str) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return Image.open(handle, formats=[pillow_format])
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
        if length < 2:
            return None
        payload = handle.read(length - 2)
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
