"""Videos: the container checked, the file opened with its own demuxer under a deadline, its first frame decoded.

PyAV (FFmpeg inside its wheel) opens a video with only the demuxer its format names, so no other FFmpeg demuxer
ever sees user bytes. Every FFmpeg call runs under a deadline.
"""

from __future__ import annotations

import struct
import time
from pathlib import Path
from typing import IO

import av
from av.container import InputContainer
from av.video.stream import VideoStream
from PIL import Image

from reactbin.errors import ImageTooLarge, InvalidVideo, MediaTimeout, UnsupportedMediaType, VideoTooLong
from reactbin.media.formats import PROBE_SECONDS, THUMBNAIL_BOX, Format, Limits, MediaInfo

# Top-level MP4 boxes a video may have; anything else (an HTML or ZIP tail) makes the file a polyglot.
_MP4_TOP_LEVEL = frozenset(
    {b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"uuid", b"udta", b"meta", b"moof", b"mfra", b"sidx",
     b"styp", b"pdin", b"prft", b"emsg"}
)  # fmt: skip


def open_video(path: Path, fmt: Format, max_pixels: int, seconds: float) -> InputContainer:
    """Open a video with the one demuxer its type names; FFmpeg's decoders refuse frames over `max_pixels`.

    Raises:
        InvalidVideo, MediaTimeout.
    """
    deadline = time.monotonic() + seconds
    try:
        # max_pixels reaches the decoders that read stream info: a header declaring 16000x16000 frames is refused
        # before a frame buffer is allocated (without it: 8 s and 700 MB here).
        return av.open(str(path), format=fmt.demuxer, timeout=seconds, options={"max_pixels": str(max_pixels)})
    except av.FFmpegError as exc:
        _raise_if_late(deadline)
        raise InvalidVideo() from exc


def probe_video(
    path: Path, fmt: Format, limits: Limits, poster_box: int = THUMBNAIL_BOX
) -> tuple[MediaInfo, Image.Image]:
    """Check a video and return what it is with its poster: its first frame, upright, reduced to fit `poster_box`.

    The container's top-level structure is walked first (a cut file, a file with no `moov`, or one with an HTML
    tail is refused before FFmpeg runs); then the file is opened once, with its own demuxer only, and its first
    frame decoded once.

    Raises:
        UnsupportedMediaType, InvalidVideo, ImageTooLarge, VideoTooLong, MediaTimeout.
    """
    with path.open("rb") as handle:
        check_container(handle, fmt)
    deadline = time.monotonic() + PROBE_SECONDS
    max_pixels = limits.max_pixels
    container = open_video(path, fmt, max_pixels, PROBE_SECONDS)
    with container:
        if not container.streams.video:
            raise UnsupportedMediaType("The file has no video track (audio-only files are not accepted)")
        stream = container.streams.video[0]
        codec = stream.codec_context.codec.canonical_name  # `av1`, whichever decoder (libdav1d) serves it
        if codec not in fmt.codecs:
            raise UnsupportedMediaType(f"Video codec {codec!r} is not accepted in {fmt.mime_type}")
        width, height = stream.codec_context.width, stream.codec_context.height
        if width <= 0 or height <= 0:
            raise InvalidVideo()
        if width * height > max_pixels:
            raise ImageTooLarge(f"The video is {width}x{height} pixels; at most {max_pixels} pixels are allowed")
        seconds = _declared_seconds(container, stream)
        if seconds is None:
            raise InvalidVideo("The video does not say how long it is")
        if seconds > limits.max_video_seconds:
            raise VideoTooLong(f"The video is {seconds:.1f} s long; at most {limits.max_video_seconds:g} s are allowed")
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
            mime_type=fmt.mime_type,
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


def check_container(handle: IO[bytes], fmt: Format) -> None:
    """The MP4 box tree or the WebM element tree must cover the file exactly, with nothing foreign in it.

    Raises:
        InvalidVideo: cut short, incomplete, or carrying data that is not part of the video (a polyglot).
    """
    end = handle.seek(0, 2)
    handle.seek(0)
    if fmt.demuxer == "mp4":
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
