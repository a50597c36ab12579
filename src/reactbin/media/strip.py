"""Remove location from MP4 clips, losslessly: the boxes that hold it become zero-filled `free` boxes in place.

Phones record where a clip was filmed in the movie's user data: `©xyz` (an ISO 6709 string, Android and others)
or `loci` (3GPP). Turning such a box into a `free` box of the same size, its contents zeroed, keeps every size
and offset valid (players skip `free` boxes), and the media data is untouched. Callers run this off the event loop.
"""

from __future__ import annotations

import struct
from pathlib import Path

_LOCATION_BOXES = frozenset({b"\xa9xyz", b"loci"})
_CONTAINERS = frozenset({b"moov", b"trak", b"udta", b"mdia", b"minf", b"meta", b"ilst"})
_MAX_MOOV = 64 * 1024 * 1024


def strip_video_location(path: Path) -> bool:
    """Rename every location box in the movie header of the MP4 at `path`; return whether anything changed."""
    with path.open("r+b") as handle:
        end = handle.seek(0, 2)
        position = 0
        found: list[tuple[int, int]] = []
        while position + 8 <= end:
            handle.seek(position)
            size, kind = struct.unpack(">I4s", handle.read(8))
            header = 8
            if size == 1:
                size = struct.unpack(">Q", handle.read(8))[0]
                header = 16
            elif size == 0:
                size = end - position
            if size < header:
                return False
            if kind == b"moov" and size <= _MAX_MOOV:
                body = handle.read(size - header)
                found += [(position + header + at, box) for at, box in _location_boxes(body, 0, len(body))]
            position += size
        for at, box_size in found:
            handle.seek(at + 4)
            handle.write(b"free" + bytes(box_size - 8))
    return bool(found)


def _location_boxes(data: bytes, start: int, end: int) -> list[tuple[int, int]]:
    """(offset in `data`, size) of the location boxes between `start` and `end`, searched recursively."""
    found: list[tuple[int, int]] = []
    at = start
    while at + 8 <= end:
        size, kind = struct.unpack(">I4s", data[at : at + 8])
        header = 8
        if size == 1 and at + 16 <= end:
            size = struct.unpack(">Q", data[at + 8 : at + 16])[0]
            header = 16
        elif size == 0:
            size = end - at
        if size < header or at + size > end:
            return found
        if kind in _LOCATION_BOXES and header == 8:
            found.append((at, size))
        elif kind in _CONTAINERS:
            # `meta` is a full box (4 bytes of version and flags) in MP4, a plain container in QuickTime.
            inner = at + header
            if kind == b"meta" and data[inner : inner + 4] == b"\x00\x00\x00\x00":
                inner += 4
            found += _location_boxes(data, inner, at + size)
        at += size
    return found
