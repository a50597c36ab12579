"""What an upload may be: the one table of accepted formats, the limits that apply to all of them, and sniffing.

A file's format is decided here, once, from its first bytes (never from its name or the client's Content-Type),
and the resulting `Format` travels with the upload through stripping, probing and thumbnailing, so no later step
looks at the first bytes again.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Literal

import msgspec

from reactbin.errors import EmptyFile, UnsupportedMediaType

Family = Literal["image", "video"]
Strip = Literal["exif", "mp4"]
Kind = Literal["still", "animated", "video"]


class Format(msgspec.Struct, frozen=True, kw_only=True):
    """An accepted file format and how the pipeline treats it."""

    mime_type: str
    family: Family
    pillow: str | None = None
    """The only Pillow decoder allowed to open it (images); exotic plugins never see user bytes."""
    demuxer: str | None = None
    """The only FFmpeg demuxer allowed to open it (videos)."""
    codecs: frozenset[str] = frozenset()
    """Accepted video codecs, as FFmpeg names them (AV1 may decode through `libdav1d`)."""
    walk: bool = False
    """Whether its container is walked for frames, durations and completeness (GIF, PNG/APNG, WebP)."""
    strip: Strip | None = None
    """How identifying metadata (location, serial numbers) is removed from it, if it can carry any."""


FORMATS: dict[str, Format] = {
    fmt.mime_type: fmt
    for fmt in (
        Format(mime_type="image/jpeg", family="image", pillow="JPEG", strip="exif"),
        Format(mime_type="image/png", family="image", pillow="PNG", walk=True, strip="exif"),
        Format(mime_type="image/gif", family="image", pillow="GIF", walk=True),
        Format(mime_type="image/webp", family="image", pillow="WEBP", walk=True, strip="exif"),
        Format(mime_type="image/avif", family="image", pillow="AVIF"),
        Format(mime_type="video/mp4", family="video", demuxer="mp4", codecs=frozenset({"h264", "av1"}), strip="mp4"),
        Format(mime_type="video/webm", family="video", demuxer="webm", codecs=frozenset({"vp8", "vp9", "av1"})),
    )
}
"""Every accepted format (APNG is `image/png`, AVIF sequences are `image/avif`); what `GET /limits` lists."""

ACCEPTED_TYPES = tuple(FORMATS)

SNIFF_BYTES = 64
"""Bytes read from the start of a file to decide its format (an MP4/AVIF `ftyp` box lists its brands there)."""
MAX_FRAMES = 3000
"""Most frames an animation may have: a 10,000-frame GIF of 1x1 pixels is tiny on disk and huge to process."""
PROBE_SECONDS = 5.0
"""Longest a video probe (opening the container, reading stream headers, decoding the first frame) may take."""
THUMBNAIL_BOX = 400
"""Library thumbnails (and video posters) fit this box."""


class Limits(msgspec.Struct, frozen=True):
    """The per-deployment limits every upload is checked against (MAX_IMAGE_PIXELS, MAX_VIDEO_SECONDS)."""

    max_pixels: int
    max_video_seconds: float = 60.0


class MediaInfo(msgspec.Struct, frozen=True, kw_only=True):
    """What an accepted upload is, as displayed (after EXIF orientation or video rotation)."""

    mime_type: str
    kind: Kind
    width: int
    height: int
    duration_ms: int | None = None
    frame_count: int | None = None
    has_audio: bool = False


_MP4_BRANDS = frozenset(
    {b"isom", b"iso2", b"iso4", b"iso5", b"iso6", b"iso8", b"mp41", b"mp42", b"avc1", b"av01", b"dash", b"M4V ",
     b"mmp4"}
)  # fmt: skip
_AVIF_BRANDS = frozenset({b"avif", b"avis"})


def sniff(head: bytes) -> Format:
    """The accepted format named by a file's first bytes (at least `SNIFF_BYTES` of them when the file has them).

    Raises:
        EmptyFile: nothing was sent.
        UnsupportedMediaType: anything but JPEG, PNG, GIF, WebP, AVIF, MP4 and WebM (MOV, MKV, AVI, HEIC, TIFF ...).
    """
    if not head:
        raise EmptyFile()
    if head.startswith(b"\xff\xd8\xff"):
        return FORMATS["image/jpeg"]
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return FORMATS["image/png"]
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return FORMATS["image/gif"]
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return FORMATS["image/webp"]
    if head[4:8] == b"ftyp" and len(head) >= 16:
        size = struct.unpack(">I", head[:4])[0]
        brands = [head[8:12]] + [head[i : i + 4] for i in range(16, min(size, len(head)) - 3, 4)]
        if brands[0] in _AVIF_BRANDS or (brands[0] in (b"mif1", b"msf1") and _AVIF_BRANDS & set(brands)):
            return FORMATS["image/avif"]
        if brands[0] in _MP4_BRANDS:
            return FORMATS["video/mp4"]
        raise UnsupportedMediaType()  # QuickTime (`qt  `), 3GP, HEIC ...
    if head.startswith(b"\x1a\x45\xdf\xa3") and _ebml_doc_type(head) == b"webm":
        return FORMATS["video/webm"]
    raise UnsupportedMediaType()  # Matroska (MKV), TIFF, PSD, SVG, PDF, ...


def sniff_file(path: Path) -> Format:
    """`sniff` of the first bytes of the file at `path`."""
    with path.open("rb") as handle:
        return sniff(handle.read(SNIFF_BYTES))


def _ebml_doc_type(head: bytes) -> bytes | None:
    """The DocType of an EBML header (`webm`, `matroska`), read from the first bytes."""
    at = head.find(b"\x42\x82")
    if at < 0 or at + 3 > len(head):
        return None
    size_byte = head[at + 2]
    if not size_byte & 0x80:
        return None
    size = size_byte & 0x7F
    return head[at + 3 : at + 3 + size]
