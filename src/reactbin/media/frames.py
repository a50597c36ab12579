"""Frames of animations and videos, decoded one at a time and reduced at once, under a deadline.

`sample_frames` gives a few evenly spaced frames (OCR reads captions from them); `timed_frames` gives the frames
shown at a steady rate from the start (previews are made from them). Neither ever holds more than the frame being
decoded plus what the caller keeps.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

from PIL import Image, ImageOps

from reactbin.errors import InvalidImage, InvalidVideo, MediaTimeout
from reactbin.imaging import PIL_FORMATS
from reactbin.media.probe import open_video

DEFAULT_MAX_PIXELS = 64_000_000
"""Frames larger than this are refused by FFmpeg's decoders (stored files passed the upload's own limit)."""
DECODE_SECONDS = 30.0
"""Longest a walk through one file's frames may take before it is given up as a MediaTimeout."""
SAMPLE_BOX = 1280
"""Sampled frames are reduced to fit this box: enough for OCR of a caption, bounded in memory."""
_VIDEO_DEMUXERS = {"video/mp4": "mp4", "video/webm": "webm"}
_IMAGE_FORMATS = PIL_FORMATS | {"image/avif": "AVIF"}


def sample_frames(path: Path, mime_type: str, count: int) -> Iterator[Image.Image]:
    """Up to `count` evenly spaced frames of an animation or video (one frame for a still), as RGB images.

    Frames are decoded one at a time and reduced to fit `SAMPLE_BOX`; the walk stops with MediaTimeout after
    `DECODE_SECONDS`.

    Raises:
        InvalidImage, InvalidVideo, MediaTimeout.
    """
    count = max(1, count)
    if mime_type in _VIDEO_DEMUXERS:
        yield from _video_samples(path, mime_type, count, SAMPLE_BOX)
    else:
        yield from _image_samples(path, mime_type, count, SAMPLE_BOX)


def timed_frames(
    path: Path, mime_type: str, *, fps: float, max_seconds: float, box: int
) -> Iterator[tuple[Image.Image, int]]:
    """The frames shown every 1/`fps` s during the first `max_seconds`, each with how long it shows (ms).

    Raises:
        InvalidImage, InvalidVideo, MediaTimeout.
    """
    step = 1.0 / fps
    if mime_type in _VIDEO_DEMUXERS:
        source: Iterator[tuple[float, Image.Image]] = _video_frames(path, mime_type, box)
    else:
        source = _animation_frames(path, mime_type, box)
    pending: tuple[Image.Image, float] | None = None
    next_time = 0.0
    for at, image in source:
        if at >= max_seconds:
            break
        if at + 1e-6 < next_time:
            continue
        if pending is not None:
            yield pending[0], max(20, round((at - pending[1]) * 1000))
        pending = (image, at)
        next_time = at + step
    if pending is not None:
        yield pending[0], max(20, round(step * 1000))


def _deadline() -> float:
    return time.monotonic() + DECODE_SECONDS


def _check(deadline: float) -> None:
    if time.monotonic() > deadline:
        raise MediaTimeout()


def _fit(width: int, height: int, box: int) -> tuple[int, int]:
    scale = min(1.0, box / max(width, height))
    # Even sizes: some pixel formats (yuv420p) cannot be reformatted to odd ones.
    return max(2, round(width * scale) // 2 * 2), max(2, round(height * scale) // 2 * 2)


def _video_frames(path: Path, mime_type: str, box: int) -> Iterator[tuple[float, Image.Image]]:
    """(presentation time in s, reduced RGB image) of every frame from the start."""
    import av

    deadline = _deadline()
    try:
        with open_video(path, mime_type, DEFAULT_MAX_PIXELS, DECODE_SECONDS) as container:
            stream = container.streams.video[0]
            base = float(stream.start_time * stream.time_base) if stream.start_time and stream.time_base else 0.0
            for frame in container.decode(stream):
                _check(deadline)
                at = (frame.time or 0.0) - base
                width, height = _fit(frame.width, frame.height, box)
                image = frame.reformat(width=width, height=height, format="rgb24").to_image()  # type: ignore[no-untyped-call]
                rotation = int(getattr(frame, "rotation", 0) or 0) % 360
                if rotation:
                    image = image.rotate(rotation, expand=True)
                yield at, image
    except av.FFmpegError as exc:
        _check(deadline)
        raise InvalidVideo() from exc


def _video_samples(path: Path, mime_type: str, count: int, box: int) -> Iterator[Image.Image]:
    import av

    with open_video(path, mime_type, DEFAULT_MAX_PIXELS, DECODE_SECONDS) as container:
        seconds = (container.duration or 0) / av.time_base
    targets = [seconds * (i + 0.5) / count for i in range(count)] if count > 1 else [0.0]
    index = 0
    last: Image.Image | None = None
    for at, image in _video_frames(path, mime_type, box):
        last = image
        if at + 1e-6 >= targets[index]:
            yield image
            index += 1
            last = None
            if index == len(targets):
                return
    if last is not None:
        yield last


def _open_image(path: Path, mime_type: str) -> Image.Image:
    try:
        return Image.open(path, formats=[_IMAGE_FORMATS[mime_type]])
    except (OSError, SyntaxError, ValueError, EOFError, KeyError) as exc:
        raise InvalidImage() from exc


def _animation_frames(path: Path, mime_type: str, box: int) -> Iterator[tuple[float, Image.Image]]:
    """(time the frame starts, reduced RGBA image) of every frame, decoded one at a time."""
    deadline = _deadline()
    with _open_image(path, mime_type) as image:
        at = 0.0
        index = 0
        try:
            while True:
                _check(deadline)
                image.seek(index)
                frame = image.convert("RGBA")
                frame.thumbnail((box, box), Image.Resampling.BILINEAR)
                yield at, frame
                delay = image.info.get("duration") or 0
                at += (100 if delay < 20 else delay) / 1000
                index += 1
        except EOFError:
            return
        except (OSError, SyntaxError, ValueError) as exc:
            raise InvalidImage() from exc


def _image_samples(path: Path, mime_type: str, count: int, box: int) -> Iterator[Image.Image]:
    deadline = _deadline()
    with _open_image(path, mime_type) as image:
        total = getattr(image, "n_frames", 1)
        wanted = sorted({min(total - 1, (total * (2 * i + 1)) // (2 * count)) for i in range(count)})
        if total <= 1:
            wanted = [0]
        try:
            for index in wanted:
                _check(deadline)
                image.seek(index)
                frame = ImageOps.exif_transpose(image.convert("RGB")) if index == 0 else image.convert("RGB")
                frame.thumbnail((box, box), Image.Resampling.BILINEAR)
                yield frame
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise InvalidImage() from exc
