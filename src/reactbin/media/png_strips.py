"""Large PNGs decoded a strip of rows at a time, box-reduced as they go.

PNG has no draft mode: Pillow holds the whole image at 4 bytes per pixel (a 4096² upload costs 64 MiB). Here the
deflate stream is inflated strip by strip; each strip is handed to Pillow's own PNG row decoder (which undoes the
row filters) as a small stored-deflate stream that begins with the previous strip's last row, unfiltered, so the
"up", "average" and "paeth" filters see the row they refer to. Each decoded strip is box-reduced at once.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Iterator
from typing import IO

from PIL import Image, ImageFile

from reactbin.errors import InvalidImage

_STRIP_BYTES = 1024 * 1024
_STRIPPABLE_RAWMODES = {"RGB": 3, "RGBA": 4, "L": 1, "LA": 2, "P": 1}
_STRIP_MIN_PIXELS = 4_000_000


def reduce_factor(size: tuple[int, int], target: tuple[int, int]) -> int:
    """The largest integer box reduction that keeps at least twice the target's pixels in each direction."""
    return max(1, min(size[0] // (2 * max(1, target[0])), size[1] // (2 * max(1, target[1]))))


def strippable(image: Image.Image) -> str | None:
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


def png_reduced(image: ImageFile.ImageFile, rawmode: str, factor: int) -> Image.Image:
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
