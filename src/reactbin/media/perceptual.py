"""Perceptual hashes: a 64-bit picture of an image that survives resizing, recompression, re-encoding, light crops
and colour shifts, so copies of one reaction are found by Hamming distance.

pHash (`imagehash`, a DCT of the 32x32 greyscale image, each of the 64 lowest frequencies above or below their
median) of the library thumbnail: the first frame of animations, a video's poster, orientation applied, the same
400 px WebP for every kind. Chosen by measurement over dHash, wHash, a 256-bit pHash and PDQ (docs/benchmarks.md,
"Near-duplicates"): at a distance of at most `DUPLICATE_DISTANCE` bits it found 97.4% of 4,158 transformed copies
while 0.026% of 19,503 pairs of distinct images fell that close; about 1 ms of CPU per image.
"""

from __future__ import annotations

import io
import logging

from PIL import Image

log = logging.getLogger(__name__)

HASH_BITS = 64
DUPLICATE_DISTANCE = 10
"""Images whose hashes differ in at most this many bits show the same picture."""


def perceptual_hash(thumbnail: bytes) -> str:
    """The pHash of an encoded image (the library thumbnail) as 64 characters of `0`/`1`, most significant first.

    Raises:
        OSError, ValueError, SyntaxError, EOFError: the image cannot be decoded.
    """
    import imagehash

    with Image.open(io.BytesIO(thumbnail), formats=["WEBP", "JPEG", "PNG"]) as image:
        image.load()
        if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
            # Transparent pixels count as white, as the thumbnail shows them on the page.
            rgba = image.convert("RGBA")
            flat = Image.new("RGB", rgba.size, (255, 255, 255))
            flat.paste(rgba, mask=rgba.getchannel("A"))
            image_rgb = flat
        else:
            image_rgb = image.convert("RGB")
    bits = imagehash.phash(image_rgb, hash_size=8).hash.reshape(-1)
    return "".join("1" if bit else "0" for bit in bits)


def safe_perceptual_hash(thumbnail: bytes) -> str | None:
    """The pHash of a thumbnail, or None when it cannot be made (the image then has no similar images)."""
    try:
        return perceptual_hash(thumbnail)
    except Exception:
        log.warning("could not make a perceptual hash", exc_info=True)
        return None


def hamming(a: str, b: str) -> int:
    """Bits that differ between two hashes of equal length."""
    return sum(x != y for x, y in zip(a, b, strict=True))
