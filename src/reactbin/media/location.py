"""Location and identifying metadata removed from uploads, losslessly, before anything is stored.

Photos: JPEG (APP1 "Exif"), WebP (the "EXIF" chunk) and PNG (the "eXIf" chunk) lose GPS and the tags that name a
person or a device; only the metadata block is rewritten, the pixel data is copied byte for byte, orientation and
every other tag are kept. Clips: phones record where an MP4 was filmed in the movie's user data (`©xyz`, an ISO
6709 string, or 3GPP `loci`); such a box becomes a zero-filled `free` box of the same size, so every size and
offset stays valid (players skip `free` boxes) and the media data is untouched. A file that carries none of this
is left exactly as it was. CPU and file work: callers run it off the event loop.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import struct
import tempfile
import zlib
from pathlib import Path
from typing import IO

from PIL import Image

from reactbin.media.formats import Format


def strip_location(path: Path, fmt: Format) -> tuple[str, int] | None:
    """Remove location and identifying metadata from the file at `path` in place.

    Returns:
        The new SHA-256 and size when the file changed, else None (the file is untouched).
    """
    if fmt.strip == "exif":
        changed = _strip_exif(path, fmt.mime_type)
    elif fmt.strip == "mp4":
        changed = _strip_mp4(path)
    else:
        changed = False
    return file_digest(path) if changed else None


_GPS_IFD = 0x8825
_EXIF_IFD = 0x8769
# Tags that name a person or a device: serial numbers, the owner, unique ids, and maker notes (which often
# carry serial numbers in a vendor format nobody can clean selectively).
_IDENTIFYING_IFD0 = frozenset({0x013B})  # Artist
_IDENTIFYING_EXIF = frozenset({0xA430, 0xA431, 0xA435, 0xA420, 0x927C})
_EXIF_PREFIX = b"Exif\x00\x00"
_COPY_CHUNK = 1024 * 1024
_LOCATION_BOXES = frozenset({b"\xa9xyz", b"loci"})
_CONTAINERS = frozenset({b"moov", b"trak", b"udta", b"mdia", b"minf", b"meta", b"ilst"})
_MAX_MOOV = 64 * 1024 * 1024


def clean_exif(raw: bytes) -> bytes | None:
    """The EXIF block without GPS and identifying tags, or None when there is nothing to remove.

    `raw` may start with the `Exif\\0\\0` prefix (JPEG) or be a bare TIFF structure (WebP, PNG); the result
    has the same shape.
    """
    prefixed = raw.startswith(_EXIF_PREFIX)
    exif = Image.Exif()
    try:
        exif.load(raw if prefixed else _EXIF_PREFIX + raw)
        sub = exif.get_ifd(_EXIF_IFD)
    except Exception:  # unparseable metadata is left alone; the image checks decide
        return None
    remove_ifd0 = [tag for tag in exif if tag == _GPS_IFD or tag in _IDENTIFYING_IFD0]
    remove_sub = [tag for tag in sub if tag in _IDENTIFYING_EXIF]
    if not remove_ifd0 and not remove_sub:
        return None
    for tag in remove_ifd0:
        del exif[tag]
    for tag in remove_sub:
        del sub[tag]
    try:
        cleaned = exif.tobytes()
    except Exception:  # an entry of the wrong type (a resolution written as text) cannot be written back
        cleaned = _writable_part(exif)
    if not cleaned.startswith(_EXIF_PREFIX):
        cleaned = _EXIF_PREFIX + cleaned
    return cleaned if prefixed else cleaned[len(_EXIF_PREFIX) :]


def _writable_part(exif: Image.Exif) -> bytes:
    """The first-level entries of `exif` that can be written back one by one; sub-directories are dropped.

    Used only for blocks Pillow cannot serialise whole: the location is gone either way, and the entries that
    matter for display (orientation) survive.
    """
    kept = Image.Exif()
    for tag, value in exif.items():
        if tag in (_EXIF_IFD, _GPS_IFD, 0xA005):  # pointers to sub-directories (EXIF, GPS, interoperability)
            continue
        single = Image.Exif()
        single[tag] = value
        try:
            single.tobytes()
        except Exception:  # noqa: S112 - a malformed entry is dropped; the image checks decide about the file
            continue
        kept[tag] = value
    return kept.tobytes()


def _strip_exif(path: Path, mime_type: str) -> bool:
    """Rewrite `path` without GPS and identifying EXIF; return whether anything changed."""
    rewrite = {"image/jpeg": _rewrite_jpeg, "image/webp": _rewrite_webp, "image/png": _rewrite_png}.get(mime_type)
    if rewrite is None:
        return False
    with path.open("rb") as source:
        plan = rewrite(source)
        if plan is None:
            return False
        head, resume_at = plan
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".strip-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(head)
                source.seek(resume_at)
                shutil.copyfileobj(source, out, _COPY_CHUNK)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return True


def file_digest(path: Path) -> tuple[str, int]:
    """SHA-256 and size of a file."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(_COPY_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


# Each rewriter reads only the metadata part of the file and returns (new bytes up to a point, offset in the old
# file from which the rest is copied unchanged), or None when the file needs no change.
Plan = tuple[bytes, int] | None


def _rewrite_jpeg(source: IO[bytes]) -> Plan:
    if source.read(2) != b"\xff\xd8":
        return None
    head = bytearray(b"\xff\xd8")
    changed = False
    while True:
        segment_start = source.tell()
        marker = source.read(2)
        if len(marker) < 2 or marker[0] != 0xFF or marker[1] in (0xDA, 0xD9):
            break  # start of scan (or something odd): the metadata segments are over
        length_bytes = source.read(2)
        if len(length_bytes) < 2:
            return None
        (length,) = struct.unpack(">H", length_bytes)
        if length < 2:  # a length that does not even cover itself: not a JPEG to rewrite
            return None
        payload = source.read(length - 2)
        if len(payload) < length - 2:
            return None
        if marker[1] == 0xE1 and payload.startswith(_EXIF_PREFIX):
            cleaned = clean_exif(payload)
            if cleaned is not None and len(cleaned) + 2 <= 0xFFFF:
                payload = cleaned
                changed = True
        head += marker + struct.pack(">H", len(payload) + 2) + payload
    return (bytes(head), segment_start) if changed else None


def _rewrite_webp(source: IO[bytes]) -> Plan:
    header = source.read(12)
    if len(header) < 12 or header[:4] != b"RIFF" or header[8:12] != b"WEBP":
        return None
    while True:
        chunk_start = source.tell()
        chunk_header = source.read(8)
        if len(chunk_header) < 8:
            return None
        kind, size = chunk_header[:4], struct.unpack("<I", chunk_header[4:])[0]
        padded = size + (size & 1)
        if kind != b"EXIF":
            source.seek(padded, os.SEEK_CUR)
            continue
        cleaned = clean_exif(source.read(size))
        if cleaned is None:
            return None
        after = chunk_start + 8 + padded
        new_chunk = b"EXIF" + struct.pack("<I", len(cleaned)) + cleaned + b"\x00" * (len(cleaned) & 1)
        source.seek(12)
        before = source.read(chunk_start - 12)
        total = source.seek(0, os.SEEK_END) - (after - chunk_start) + len(new_chunk)
        return b"RIFF" + struct.pack("<I", total - 8) + b"WEBP" + before + new_chunk, after


def _rewrite_png(source: IO[bytes]) -> Plan:
    if source.read(8) != b"\x89PNG\r\n\x1a\n":
        return None
    while True:
        chunk_header = source.read(8)
        if len(chunk_header) < 8:
            return None
        length, kind = struct.unpack(">I4s", chunk_header)
        if kind in (b"IDAT", b"IEND"):
            return None  # eXIf must come before the image data
        if kind != b"eXIf":
            source.seek(length + 4, os.SEEK_CUR)
            continue
        body = source.read(length)
        cleaned = clean_exif(body)
        if cleaned is None:
            return None
        source.seek(4, os.SEEK_CUR)
        after = source.tell()
        start = after - 12 - length
        source.seek(0)
        before = source.read(start)
        crc = struct.pack(">I", zlib.crc32(b"eXIf" + cleaned) & 0xFFFFFFFF)
        return before + struct.pack(">I", len(cleaned)) + b"eXIf" + cleaned + crc, after


def _strip_mp4(path: Path) -> bool:
    """Turn every location box in the movie header of the MP4 at `path` into `free`; return whether anything changed."""
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
