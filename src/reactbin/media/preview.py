"""Looping animated WebP previews of animations and videos: small, short, capped in frames and bytes."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import msgspec
from PIL import Image

from reactbin.errors import ReactbinError
from reactbin.media.frames import timed_frames

PREVIEW_BOX = 320
PREVIEW_FPS = 10.0
PREVIEW_SECONDS = 4.0
PREVIEW_MAX_FRAMES = 40
PREVIEW_MAX_BYTES = 1024 * 1024
_QUALITIES = (60, 35)


class PreviewTooLarge(ReactbinError):
    status_code = 422
    code = "preview_too_large"
    detail = "The preview came out larger than allowed"


class Preview(msgspec.Struct, frozen=True):
    data: bytes
    sha256: str
    width: int
    height: int
    frame_count: int
    duration_ms: int


def make_preview(path: Path, mime_type: str) -> Preview:
    """Encode the first `PREVIEW_SECONDS` of an animation or video, at `PREVIEW_FPS`, within `PREVIEW_BOX` px.

    Source frames are decoded one at a time and reduced at once; only the (small) preview frames are kept.

    Raises:
        InvalidImage, InvalidVideo, MediaTimeout: the source cannot be decoded in time.
        PreviewTooLarge: even the lowest quality exceeds `PREVIEW_MAX_BYTES`.
    """
    frames: list[Image.Image] = []
    durations: list[int] = []
    for image, duration in timed_frames(path, mime_type, fps=PREVIEW_FPS, max_seconds=PREVIEW_SECONDS, box=PREVIEW_BOX):
        frames.append(image)
        durations.append(duration)
        if len(frames) == PREVIEW_MAX_FRAMES:
            break
    if not frames:
        raise PreviewTooLarge("The file has no frame to preview")
    size = frames[0].size
    frames = [frame if frame.size == size else frame.resize(size) for frame in frames]
    for quality in _QUALITIES:
        out = io.BytesIO()
        frames[0].save(
            out,
            "WEBP",
            save_all=True,
            append_images=frames[1:],
            duration=durations,
            loop=0,
            quality=quality,
            method=2,
            minimize_size=False,
        )
        data = out.getvalue()
        if len(data) <= PREVIEW_MAX_BYTES:
            return Preview(
                data=data,
                sha256=hashlib.sha256(data).hexdigest(),
                width=size[0],
                height=size[1],
                frame_count=len(frames),
                duration_ms=sum(durations),
            )
    raise PreviewTooLarge()
