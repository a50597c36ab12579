"""Perceptual hashes: a 64-bit picture of an image that survives resizing, recompression, re-encoding, light crops
and colour shifts, so copies of one reaction are found by Hamming distance.

pHash (`imagehash`, a DCT of the 32x32 greyscale image, each of the 64 lowest frequencies above or below their
median) of the library thumbnail: the first frame of animations, a video's poster, orientation applied, at most
400 px. An upload hashes the thumbnail's frame before it is encoded (no second decode); `reindex --media` hashes
the stored WebP, which differs from it by WebP's loss (0-2 bits in the measurements).

Chosen by measurement over dHash, wHash, a 256-bit pHash and PDQ (docs/benchmarks.md, "Near-duplicates"): at a
distance of at most `DUPLICATE_DISTANCE` bits it found 97.4% of 4,158 transformed copies
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


def hash_frame(frame: Image.Image) -> str:
    """The pHash of a decoded thumbnail frame as 64 characters of `0`/`1`, most significant first."""
    import imagehash

    if frame.mode in ("RGBA", "LA", "PA") or (frame.mode == "P" and "transparency" in frame.info):
        # Transparent pixels count as white, as the thumbnail shows them on the page.
        rgba = frame.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        frame = flat
    bits = imagehash.phash(frame.convert("RGB"), hash_size=8).hash.reshape(-1)
    return "".join("1" if bit else "0" for bit in bits)


def perceptual_hash(thumbnail: bytes) -> str:
    """The pHash of an encoded image (a stored library thumbnail).

    Raises:
        OSError, ValueError, SyntaxError, EOFError: the image cannot be decoded.
    """
    with Image.open(io.BytesIO(thumbnail), formats=["WEBP", "JPEG", "PNG"]) as image:
        image.load()
        return hash_frame(image)


def safe_hash_frame(frame: Image.Image) -> str | None:
    """`hash_frame`, or None when it cannot be made (the image then has no similar images)."""
    try:
        return hash_frame(frame)
    except Exception:
        log.warning("could not make a perceptual hash", exc_info=True)
        return None


def safe_perceptual_hash(thumbnail: bytes) -> str | None:
    """The pHash of a stored thumbnail, or None when it cannot be decoded or hashed (a corrupt frame)."""
    try:
        return perceptual_hash(thumbnail)
    except Exception:
        log.warning("could not make a perceptual hash", exc_info=True)
        return None


def hamming(a: str, b: str) -> int:
    """Bits that differ between two hashes of equal length."""
    return sum(x != y for x, y in zip(a, b, strict=True))
