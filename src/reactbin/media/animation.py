"""Frame counts, durations and frame sizes of GIF, APNG, animated WebP and AVIF sequences, from the container alone.

This is the one walk of an image's container: besides the timeline it refuses files cut short (decoders only read
what they need, so a GIF cut after its first frame would otherwise be stored), frames outside the canvas, frames
larger than allowed and animations with too many frames. Nothing here decodes a pixel, so a 10,000-frame GIF or a
WebP frame that declares itself huge is refused in microseconds. Frame delays follow what browsers do: a GIF delay
under 20 ms plays at 100 ms.
"""

from __future__ import annotations

import io
import struct
from typing import IO

import msgspec

from reactbin.errors import ImageTooLarge, InvalidImage
from reactbin.media.formats import MAX_FRAMES, Format


class Timeline(msgspec.Struct, frozen=True):
    frame_count: int
    duration_ms: int


def read_timeline(handle: IO[bytes], fmt: Format, max_pixels: int) -> Timeline:
    """Frame count and total duration of a GIF, PNG/APNG or WebP; a still reports one frame and 0 ms.

    Raises:
        InvalidImage: the container is cut short or a frame lies outside the canvas.
        ImageTooLarge: too many frames, or a frame with more than `max_pixels` pixels.
    """
    handle.seek(0)
    if fmt.mime_type == "image/gif":
        return _gif(handle, max_pixels)
    if fmt.mime_type == "image/png":
        return _apng(handle, max_pixels)
    if fmt.mime_type == "image/webp":
        return _webp(handle, max_pixels)
    return Timeline(frame_count=1, duration_ms=0)


def sequence_timeline(handle: IO[bytes], frame_count: int) -> Timeline:
    """Frame count and duration of an AVIF image sequence (`avis`): one loop, from its track's media header.

    (The movie header's duration is "indefinite" in a sequence that loops forever.)

    Raises:
        InvalidImage: the sequence has no readable media header.
        ImageTooLarge: too many frames.
    """
    _check_frame(0, 0, 1, frame_count)
    box: tuple[int, int] | None = (0, handle.seek(0, io.SEEK_END))
    for kind in (b"moov", b"trak", b"mdia", b"mdhd"):
        box = _find_box(handle, box[0], box[1], kind) if box else None
    if box is None:
        raise InvalidImage("The AVIF sequence has no media header")
    handle.seek(box[0])
    version = _read(handle, 4)[0]
    if version == 1:
        _read(handle, 16)
        timescale, duration = struct.unpack(">IQ", _read(handle, 12))
    else:
        _read(handle, 8)
        timescale, duration = struct.unpack(">II", _read(handle, 8))
    if timescale == 0 or duration >= 0xFFFFFFFF:
        raise InvalidImage("The AVIF sequence does not say how long it is")
    return Timeline(frame_count=frame_count, duration_ms=round(1000 * duration / timescale))


def _find_box(handle: IO[bytes], start: int, end: int, wanted: bytes) -> tuple[int, int] | None:
    """(start, end) of the body of the first ISOBMFF box of type `wanted` between `start` and `end`."""
    position = start
    while position + 8 <= end:
        handle.seek(position)
        size, kind = struct.unpack(">I4s", _read(handle, 8))
        header = 8
        if size == 1:
            size = struct.unpack(">Q", _read(handle, 8))[0]
            header = 16
        elif size == 0:
            size = end - position
        if size < header or position + size > end:
            raise InvalidImage()
        if kind == wanted:
            return position + header, position + size
        position += size
    return None


def _read(handle: IO[bytes], size: int) -> bytes:
    data = handle.read(size)
    if len(data) != size:
        raise InvalidImage()
    return data


def _check_frame(width: int, height: int, max_pixels: int, frames: int) -> None:
    if width * height > max_pixels:
        raise ImageTooLarge(f"A frame is {width}x{height} pixels; at most {max_pixels} pixels are allowed")
    if frames > MAX_FRAMES:
        raise ImageTooLarge(f"The animation has more than {MAX_FRAMES} frames")


def _browser_delay(ms: int) -> int:
    return 100 if ms < 20 else ms


def _gif(handle: IO[bytes], max_pixels: int) -> Timeline:
    screen = _read(handle, 13)
    if screen[10] & 0x80:
        _read(handle, 3 << ((screen[10] & 7) + 1))
    frames = 0
    duration = 0
    delay = 0
    while True:
        introducer = _read(handle, 1)[0]
        if introducer == 0x3B:
            return Timeline(frame_count=max(frames, 1), duration_ms=duration if frames > 1 else 0)
        if introducer == 0x21:
            label = _read(handle, 1)[0]
            if label == 0xF9:  # graphic control: delay of the next frame, in 1/100 s
                block = _read(handle, 1)[0]
                body = _read(handle, block)
                if block >= 3:
                    delay = struct.unpack("<H", body[1:3])[0] * 10
            _skip_sub_blocks(handle)
        elif introducer == 0x2C:
            frames += 1
            descriptor = _read(handle, 9)
            width, height = struct.unpack("<HH", descriptor[4:8])
            _check_frame(width, height, max_pixels, frames)
            duration += _browser_delay(delay)
            delay = 0
            if descriptor[8] & 0x80:
                _read(handle, 3 << ((descriptor[8] & 7) + 1))
            _read(handle, 1)
            _skip_sub_blocks(handle)
        else:
            raise InvalidImage()


def _skip_sub_blocks(handle: IO[bytes]) -> None:
    while size := _read(handle, 1)[0]:
        _read(handle, size)


def _apng(handle: IO[bytes], max_pixels: int) -> Timeline:
    _read(handle, 8)
    declared = 1
    frames = 0
    duration = 0
    while True:
        length, kind = struct.unpack(">I4s", _read(handle, 8))
        if kind == b"IEND":
            if declared > 1 and frames != declared:
                raise InvalidImage()
            return Timeline(frame_count=declared, duration_ms=duration if declared > 1 else 0)
        if kind == b"acTL":
            declared = struct.unpack(">I", _read(handle, 4))[0]
            if declared < 1:
                raise InvalidImage()
            _check_frame(0, 0, max_pixels, declared)
            handle.seek(length - 4 + 4, io.SEEK_CUR)
            continue
        if kind == b"fcTL" and length >= 26:
            body = _read(handle, 26)
            width, height = struct.unpack(">II", body[4:12])
            delay_num, delay_den = struct.unpack(">HH", body[20:24])
            frames += 1
            _check_frame(width, height, max_pixels, frames)
            duration += _browser_delay(round(1000 * delay_num / (delay_den or 100)))
            handle.seek(length - 26 + 4, io.SEEK_CUR)
            continue
        end = handle.seek(length + 4, io.SEEK_CUR)
        if handle.seek(0, io.SEEK_END) < end:
            raise InvalidImage()
        handle.seek(end)


def _webp(handle: IO[bytes], max_pixels: int) -> Timeline:
    header = _read(handle, 12)
    declared_end = struct.unpack("<I", header[4:8])[0] + 8
    if handle.seek(0, io.SEEK_END) < declared_end:
        raise InvalidImage()
    handle.seek(12)
    canvas: tuple[int, int] | None = None
    frames = 0
    duration = 0
    while handle.tell() + 8 <= declared_end:
        kind, size = struct.unpack("<4sI", _read(handle, 8))
        start = handle.tell()
        if kind == b"VP8X" and size >= 10:
            body = _read(handle, 10)
            canvas = (int.from_bytes(body[4:7], "little") + 1, int.from_bytes(body[7:10], "little") + 1)
            _check_frame(*canvas, max_pixels, 1)
        elif kind == b"ANMF" and size >= 16:
            body = _read(handle, 16)
            x, y = 2 * int.from_bytes(body[0:3], "little"), 2 * int.from_bytes(body[3:6], "little")
            width, height = int.from_bytes(body[6:9], "little") + 1, int.from_bytes(body[9:12], "little") + 1
            frames += 1
            _check_frame(width, height, max_pixels, frames)
            if canvas is None or x + width > canvas[0] or y + height > canvas[1]:
                raise InvalidImage("An animation frame lies outside the image")
            duration += _browser_delay(int.from_bytes(body[12:15], "little"))
        handle.seek(start + size + (size & 1))
    if handle.tell() > declared_end:
        raise InvalidImage()
    return Timeline(frame_count=max(frames, 1), duration_ms=duration if frames > 1 else 0)
