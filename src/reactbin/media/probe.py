"""What an upload is: the type from its bytes, then its kind, size, duration, frames and sound, within limits.

Images are checked by `reactbin.imaging` (Pillow) and their animation timeline read from the container. Videos are
opened with PyAV (FFmpeg inside its wheel) with only the demuxer their first bytes name, so no other FFmpeg demuxer
ever sees user bytes; the MP4 box tree or the WebM element tree must cover the file exactly (a cut file, a file
with no `moov`, or one with an HTML tail is refused before FFmpeg runs). Every FFmpeg call runs under a deadline.
"""

from __future__ import annotations

import struct
import time
from pathlib import Path
from typing import IO, Literal

import av
import msgspec
from av.container import InputContainer
from av.video.stream import VideoStream
from PIL import Image

from reactbin.errors import (
    EmptyFile,
    ImageTooLarge,
    InvalidVideo,
    MediaTimeout,
    UnsupportedMediaType,
    VideoTooLong,
)
from reactbin.imaging import sniff_mime_type
from reactbin.media.animation import read_timeline

Kind = Literal["still", "animated", "video"]

SNIFF_BYTES = 64
PROBE_SECONDS = 5.0
"""Longest a probe (opening the container, reading stream headers, decoding the first frame) may take."""

VIDEO_TYPES = frozenset({"video/mp4", "video/webm"})
VIDEO_CODECS = {"video/mp4": frozenset({"h264", "av1"}), "video/webm": frozenset({"vp8", "vp9", "av1"})}
"""Accepted video codecs per container, as FFmpeg names them (AV1 may decode through `libdav1d`)."""
_DEMUXERS = {"video/mp4": "mp4", "video/webm": "webm"}
_MP4_BRANDS = frozenset(
    {
        b"isom",
        b"iso2",
        b"iso4",
        b"iso5",
        b"iso6",
        b"iso8",
        b"mp41",
        b"mp42",
        b"avc1",
        b"av01",
        b"dash",
        b"M4V ",
        b"mmp4",
    }
)
_AVIF_BRANDS = frozenset({b"avif"})
# Top-level MP4 boxes a video may have; anything else (an HTML or ZIP tail) makes the file a polyglot.
_MP4_TOP_LEVEL = frozenset(
    {b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"uuid", b"udta", b"meta", b"moof", b"mfra", b"sidx",
     b"styp", b"pdin", b"prft", b"emsg"}
)  # fmt: skip


class MediaInfo(msgspec.Struct, frozen=True, kw_only=True):
    """An accepted upload, as displayed."""

    mime_type: str
    kind: Kind
    width: int
    height: int
    duration_ms: int | None = None
    frame_count: int | None = None
    has_audio: bool = False


def sniff_media_type(head: bytes) -> str:
    """The accepted type named by a file's first bytes (at least `SNIFF_BYTES` of them when the file has them).

    Raises:
        EmptyFile: nothing was sent.
        UnsupportedMediaType: anything but JPEG, PNG, GIF, WebP, AVIF, MP4 and WebM (MOV, MKV, AVI, FLV, HEIC ...).
    """
    if not head:
        raise EmptyFile()
    if head[4:8] == b"ftyp" and len(head) >= 16:
        size = struct.unpack(">I", head[:4])[0]
        brands = [head[8:12]] + [head[i : i + 4] for i in range(16, min(size, len(head)) - 3, 4)]
        if brands[0] in _AVIF_BRANDS or (brands[0] == b"mif1" and _AVIF_BRANDS & set(brands)):
            return "image/avif"
        if brands[0] in _MP4_BRANDS:
            return "video/mp4"
        raise UnsupportedMediaType()  # QuickTime (`qt  `), 3GP, HEIC, AVIF sequences ...
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        doc_type = _ebml_doc_type(head)
        if doc_type == b"webm":
            return "video/webm"
        raise UnsupportedMediaType()  # Matroska (MKV) and anything else in EBML
    return sniff_mime_type(head)


def probe_file(path: Path, max_pixels: int, max_video_seconds: float) -> MediaInfo:
    """Sniff and check a video or read an image's animation timeline; the pixels of images are checked elsewhere.

    Raises:
        EmptyFile, UnsupportedMediaType, InvalidImage, InvalidVideo, ImageTooLarge, VideoTooLong, MediaTimeout.
    """
    with path.open("rb") as handle:
        mime_type = sniff_media_type(handle.read(SNIFF_BYTES))
        if mime_type in VIDEO_TYPES:
            _check_video_container(handle, mime_type)
        elif mime_type != "image/avif":
            timeline = read_timeline(handle, mime_type, max_pixels)
            animated = timeline.frame_count > 1
            return MediaInfo(
                mime_type=mime_type,
                kind="animated" if animated else "still",
                width=0,
                height=0,
                duration_ms=timeline.duration_ms if animated else None,
                frame_count=timeline.frame_count,
            )
    if mime_type == "image/avif":
        return MediaInfo(mime_type=mime_type, kind="still", width=0, height=0, frame_count=1)
    return probe_video(path, mime_type, max_pixels, max_video_seconds)


def open_video(path: Path, mime_type: str, max_pixels: int, seconds: float) -> InputContainer:
    """Open a video with the one demuxer its type names; FFmpeg's decoders refuse frames over `max_pixels`.

    Raises:
        InvalidVideo, MediaTimeout.
    """
    deadline = time.monotonic() + seconds
    try:
        # max_pixels reaches the decoders that read stream info: a header declaring 16000x16000 frames is refused
        # before a frame buffer is allocated (without it: 8 s and 700 MB here).
        return av.open(str(path), format=_DEMUXERS[mime_type], timeout=seconds, options={"max_pixels": str(max_pixels)})
    except av.FFmpegError as exc:
        _raise_if_late(deadline)
        raise InvalidVideo() from exc


def probe_video(path: Path, mime_type: str, max_pixels: int, max_video_seconds: float) -> MediaInfo:
    """Open a video with its own demuxer only and check codec, size and duration, then decode its first frame."""
    return analyse_video(path, mime_type, max_pixels, max_video_seconds)[0]


def analyse_video(
    path: Path, mime_type: str, max_pixels: int, max_video_seconds: float, poster_box: int = 400
) -> tuple[MediaInfo, Image.Image]:
    """Probe a video and return it with its first frame reduced to fit `poster_box` (its poster).

    Raises:
        UnsupportedMediaType, InvalidVideo, ImageTooLarge, VideoTooLong, MediaTimeout.
    """
    deadline = time.monotonic() + PROBE_SECONDS
    container = open_video(path, mime_type, max_pixels, PROBE_SECONDS)
    with container:
        if not container.streams.video:
            raise UnsupportedMediaType("The file has no video track (audio-only files are not accepted)")
        stream = container.streams.video[0]
        codec = stream.codec_context.codec.canonical_name  # `av1`, whichever decoder (libdav1d) serves it
        if codec not in VIDEO_CODECS[mime_type]:
            raise UnsupportedMediaType(f"Video codec {codec!r} is not accepted in {mime_type}")
        width, height = stream.codec_context.width, stream.codec_context.height
        if width <= 0 or height <= 0:
            raise InvalidVideo()
        if width * height > max_pixels:
            raise ImageTooLarge(f"The video is {width}x{height} pixels; at most {max_pixels} pixels are allowed")
        seconds = _declared_seconds(container, stream)
        if seconds is None:
            raise InvalidVideo("The video does not say how long it is")
        if seconds > max_video_seconds:
            raise VideoTooLong(f"The video is {seconds:.1f} s long; at most {max_video_seconds:g} s are allowed")
        frame = first_frame(container, stream, max_pixels, deadline)
        rotation = _rotation(frame)
        frames = stream.frames or None
        if frames is None and stream.average_rate:
            frames = max(1, round(seconds * float(stream.average_rate)))
        shown = (frame.height, frame.width) if rotation in (90, 270) else (frame.width, frame.height)
        scale = min(1.0, poster_box / max(frame.width, frame.height))
        poster = frame.reformat(
            width=max(2, round(frame.width * scale)), height=max(2, round(frame.height * scale)), format="rgb24"
        ).to_image()  # type: ignore[no-untyped-call]
        if rotation:
            poster = poster.rotate(rotation, expand=True)
        info = MediaInfo(
            mime_type=mime_type,
            kind="video",
            width=shown[0],
            height=shown[1],
            duration_ms=round(seconds * 1000),
            frame_count=frames,
            has_audio=bool(container.streams.audio),
        )
        return info, poster


def first_frame(container: InputContainer, stream: VideoStream, max_pixels: int, deadline: float) -> av.VideoFrame:
    """The first decodable frame of `stream`, checked against `max_pixels`, decoded before `deadline`."""
    try:
        for packet in container.demux(stream):
            _raise_if_late(deadline)
            for frame in packet.decode():
                if frame.width * frame.height > max_pixels:
                    raise ImageTooLarge(f"A frame is {frame.width}x{frame.height} pixels")
                return frame
    except av.FFmpegError as exc:
        _raise_if_late(deadline)
        raise InvalidVideo() from exc
    raise InvalidVideo("The video has no decodable frame")


def _raise_if_late(deadline: float) -> None:
    if time.monotonic() > deadline:
        raise MediaTimeout()


def _rotation(frame: object) -> int:
    rotation = getattr(frame, "rotation", 0) or 0
    return int(rotation) % 360


def _declared_seconds(container: InputContainer, stream: VideoStream) -> float | None:
    candidates = []
    if container.duration is not None and container.duration > 0:
        candidates.append(container.duration / av.time_base)
    if stream.duration is not None and stream.duration > 0 and stream.time_base is not None:
        candidates.append(float(stream.duration * stream.time_base))
    return max(candidates) if candidates else None


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


def _check_video_container(handle: IO[bytes], mime_type: str) -> None:
    end = handle.seek(0, 2)
    handle.seek(0)
    if mime_type == "video/mp4":
        _walk_mp4(handle, end)
    else:
        _walk_webm(handle, end)


def _walk_mp4(handle: IO[bytes], end: int) -> None:
    seen: set[bytes] = set()
    position = 0
    while position < end:
        handle.seek(position)
        header = handle.read(8)
        if len(header) < 8:
            raise InvalidVideo("The file ends inside an MP4 box")
        size, kind = struct.unpack(">I4s", header)
        if size == 1:
            large = handle.read(8)
            if len(large) < 8:
                raise InvalidVideo("The file ends inside an MP4 box")
            size = struct.unpack(">Q", large)[0]
        elif size == 0:
            size = end - position
        if kind not in _MP4_TOP_LEVEL:
            raise InvalidVideo("The file has data that is not part of the video")
        if size < 8 or position + size > end:
            raise InvalidVideo("The file ends inside an MP4 box (truncated)")
        seen.add(kind)
        position += size
    if b"moov" not in seen and b"moof" not in seen:
        raise InvalidVideo("The MP4 file has no movie header (moov); it is truncated or incomplete")


def _read_vint(handle: IO[bytes], *, keep_marker: bool) -> tuple[int, int] | None:
    first = handle.read(1)
    if not first:
        return None
    byte = first[0]
    length = 1
    mask = 0x80
    while length <= 8 and not byte & mask:
        mask >>= 1
        length += 1
    if length > 8:
        raise InvalidVideo()
    rest = handle.read(length - 1)
    if len(rest) != length - 1:
        raise InvalidVideo("The file ends inside a WebM element")
    value = byte if keep_marker else byte & (mask - 1)
    for b in rest:
        value = (value << 8) | b
    return value, length


_EBML_HEADER = 0x1A45DFA3
_SEGMENT = 0x18538067
_VOID = 0xEC


def _walk_webm(handle: IO[bytes], end: int) -> None:
    """The EBML header and one Segment (plus Void padding) must make up the whole file."""
    position = 0
    segments = 0
    while position < end:
        handle.seek(position)
        element = _read_vint(handle, keep_marker=True)
        size = _read_vint(handle, keep_marker=False)
        if element is None or size is None:
            raise InvalidVideo("The file ends inside a WebM element")
        (element_id, _), (length, size_bytes) = element, size
        if element_id not in (_EBML_HEADER, _SEGMENT, _VOID):
            raise InvalidVideo("The file has data that is not part of the video")
        data_start = handle.tell()
        if length == (1 << (7 * size_bytes)) - 1:  # unknown size: runs to the end of the file
            length = end - data_start
        if data_start + length > end:
            raise InvalidVideo("The file ends inside a WebM element (truncated)")
        segments += element_id == _SEGMENT
        position = data_start + length
    if segments != 1:
        raise InvalidVideo("The WebM file must hold exactly one segment")
