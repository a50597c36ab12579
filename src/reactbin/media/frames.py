"""Frames of animations and videos, decoded one at a time and reduced at once, under a deadline.

`sample_frames` gives a few evenly spaced frames (OCR reads captions from them); `timed_frames` gives the frames
shown at a steady rate from the start (previews are made from them). Neither ever holds more than the frame being
decoded plus what the caller keeps.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

from PIL import Image, ImageOps, ImageSequence

from reactbin.errors import ImageTooLarge, InvalidImage, InvalidVideo, MediaTimeout
from reactbin.media.formats import FORMATS
from reactbin.media.still import DECODE_ERRORS
from reactbin.media.video import open_video

DEFAULT_MAX_PIXELS = 64_000_000
"""Frames larger than this are refused by FFmpeg's decoders (stored files passed the upload's own limit)."""
DECODE_SECONDS = 30.0
"""Longest a walk through one file's frames may take before it is given up as a MediaTimeout."""
SAMPLE_BOX = 1600
"""Sampled frames are reduced to fit this box: enough for OCR of a caption, bounded in memory."""


def sample_frames(
    path: Path, mime_type: str, count: int, max_pixels: int = DEFAULT_MAX_PIXELS
) -> Iterator[Image.Image]:
    """Up to `count` frames spread evenly over an animation or video, first and last included (one for a still).

    Frames come as upright RGB images, transparency laid over white (dark captions on a transparent background
    stay visible), decoded one at a time and reduced to fit `SAMPLE_BOX`; the walk stops with MediaTimeout after
    `DECODE_SECONDS`.

    Raises:
        InvalidImage, InvalidVideo, MediaTimeout, ImageTooLarge (a frame larger than `max_pixels`).
    """
    count = max(1, count)
    if FORMATS[mime_type].family == "video":
        yield from _video_samples(path, mime_type, count, SAMPLE_BOX, max_pixels)
    else:
        yield from _image_samples(path, mime_type, count, SAMPLE_BOX, max_pixels)


def timed_frames(
    path: Path, mime_type: str, *, fps: float, max_seconds: float, box: int
) -> Iterator[tuple[Image.Image, int]]:
    """The frames shown every 1/`fps` s during the first `max_seconds`, each with how long it shows (ms).

    Raises:
        InvalidImage, InvalidVideo, MediaTimeout.
    """
    step = 1.0 / fps
    if FORMATS[mime_type].family == "video":
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


def _video_frames(
    path: Path, mime_type: str, box: int, max_pixels: int = DEFAULT_MAX_PIXELS
) -> Iterator[tuple[float, Image.Image]]:
    """(presentation time in s, reduced RGB image) of every frame from the start."""
    import av

    deadline = _deadline()
    try:
        with open_video(path, FORMATS[mime_type], max_pixels, DECODE_SECONDS) as container:
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


def _video_samples(path: Path, mime_type: str, count: int, box: int, max_pixels: int) -> Iterator[Image.Image]:
    import av

    with open_video(path, FORMATS[mime_type], max_pixels, DECODE_SECONDS) as container:
        seconds = (container.duration or 0) / av.time_base
    targets = [seconds * (i + 0.5) / count for i in range(count)] if count > 1 else [0.0]
    index = 0
    last: Image.Image | None = None
    for at, image in _video_frames(path, mime_type, box, max_pixels):
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
    pillow = FORMATS[mime_type].pillow
    if pillow is None:
        raise InvalidImage()
    try:
        return Image.open(path, formats=[pillow])
    except DECODE_ERRORS as exc:
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


def _image_samples(path: Path, mime_type: str, count: int, box: int, max_pixels: int) -> Iterator[Image.Image]:
    deadline = _deadline()
    with _open_image(path, mime_type) as image:
        width, height = image.size
        if width * height > max_pixels:
            raise ImageTooLarge(f"{width}x{height} is more pixels than allowed")
        if image.format == "JPEG":
            # Decode at reduced size straight away (DCT scaling): a 12 MP photo costs a fraction of a full decode.
            image.draft("RGB", (box, box))
        total = getattr(image, "n_frames", 1)
        if total <= count:
            wanted = list(range(total))
        else:
            wanted = sorted({round(i * (total - 1) / (count - 1)) for i in range(count)}) if count > 1 else [0]
        try:
            for index, frame in enumerate(ImageSequence.Iterator(image)):
                _check(deadline)
                if index in wanted:
                    yield _flattened(ImageOps.exif_transpose(frame) if index == 0 else frame, box)
                if index >= wanted[-1]:
                    return
        except DECODE_ERRORS as exc:
            raise InvalidImage() from exc


def _flattened(frame: Image.Image, box: int) -> Image.Image:
    """RGB with transparency over white, reduced to fit `box`."""
    if frame.mode in ("RGBA", "LA", "P", "PA"):
        rgba = frame.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
    else:
        flat = frame.convert("RGB")
    if max(flat.size) > box:
        flat.thumbnail((box, box), Image.Resampling.LANCZOS)
    return flat
