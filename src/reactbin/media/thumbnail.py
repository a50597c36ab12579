"""Thumbnails: an opened image reduced to a box (contain or cover), turned upright, and encoded.

Everything here is CPU-bound and synchronous; callers run it off the event loop.
"""

from __future__ import annotations

import hashlib
import io
from typing import Literal

import msgspec
from PIL import Image

from reactbin.errors import InvalidImage
from reactbin.media.still import DECODE_ERRORS, TRANSPOSE, decode_reduced

Fit = Literal["contain", "cover"]
Encoding = Literal["webp", "jpeg", "png"]

WEBP_QUALITY = 80
WEBP_METHOD = 2
"""libwebp's effort (0-6). On 400 px thumbnails of photos and memes, 2 made files within 1% of the size of 4 and
0.2 dB of its PSNR for half the CPU (5.6 against 12 ms); 3 and up cost twice as much for little (docs/benchmarks.md)."""


class Thumbnail(msgspec.Struct, frozen=True):
    """An encoded thumbnail and what the database records about it."""

    data: bytes
    sha256: str
    width: int
    height: int
    mime_type: str


def reduce(image: Image.Image, orientation: int, box: tuple[int, int], fit: Fit = "contain") -> Image.Image:
    """The first frame of `image` within (or covering) `box` as displayed, decoded at the smallest useful size.

    Raises:
        InvalidImage: the pixel data is corrupt or cut short.
    """
    # The box is in displayed orientation; the stored pixels are not rotated yet.
    stored_box = (box[1], box[0]) if orientation in (5, 6, 7, 8) else box
    try:
        image.seek(0)
        # Decode at the size the frame ends up at: for "contain" that is the fitted size, not the box (an 800x600
        # JPEG into a 400 px box decodes at 1/2 scale straight to 400x300, instead of in full and resized).
        source = decode_reduced(image, stored_box if fit == "cover" else _contained(image.size, stored_box))
        if fit == "cover":
            frame = _cover(source, stored_box)
        else:
            source.thumbnail(stored_box, Image.Resampling.LANCZOS)
            frame = source
        if orientation in TRANSPOSE:
            frame = frame.transpose(TRANSPOSE[orientation])
    except DECODE_ERRORS as exc:
        raise InvalidImage() from exc
    return frame


def encode(frame: Image.Image, encoding: Encoding = "webp") -> Thumbnail:
    """Encode a reduced frame as a thumbnail (WebP for the library; the job API may ask for JPEG or PNG)."""
    frame = _normalise_mode(frame, encoding)
    out = io.BytesIO()
    try:
        if encoding == "webp":
            frame.save(out, "WEBP", quality=WEBP_QUALITY, method=WEBP_METHOD)
        elif encoding == "jpeg":
            frame.save(out, "JPEG", quality=85, optimize=True)
        else:
            frame.save(out, "PNG", optimize=True)
    except DECODE_ERRORS as exc:
        raise InvalidImage() from exc
    data = out.getvalue()
    return Thumbnail(
        data=data,
        sha256=hashlib.sha256(data).hexdigest(),
        width=frame.width,
        height=frame.height,
        mime_type=f"image/{encoding}",
    )


def _contained(size: tuple[int, int], box: tuple[int, int]) -> tuple[int, int]:
    """The size an image of `size` is shown at within `box` (never enlarged)."""
    scale = min(box[0] / size[0], box[1] / size[1], 1.0)
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


def _cover(image: Image.Image, target: tuple[int, int]) -> Image.Image:
    scale = max(target[0] / image.width, target[1] / image.height)
    resized = image.resize(
        (max(target[0], round(image.width * scale)), max(target[1], round(image.height * scale))),
        Image.Resampling.LANCZOS,
    )
    left = (resized.width - target[0]) // 2
    top = (resized.height - target[1]) // 2
    return resized.crop((left, top, left + target[0], top + target[1]))


def _normalise_mode(image: Image.Image, encoding: Encoding) -> Image.Image:
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
    if encoding == "jpeg":
        if has_alpha:
            rgba = image.convert("RGBA")
            background = Image.new("RGB", rgba.size, (255, 255, 255))
            background.paste(rgba, mask=rgba.getchannel("A"))
            return background
        return image if image.mode == "RGB" else image.convert("RGB")
    if has_alpha:
        return image if image.mode == "RGBA" else image.convert("RGBA")
    return image if image.mode == "RGB" else image.convert("RGB")
