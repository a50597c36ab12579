"""Everything an upload request learns from a file, in one pass: what it is, its thumbnail, its placeholder, its
perceptual hash.

The caller sniffs the file once (`formats.sniff_file`) and hands the `Format` in; here an image's container is
walked once and its pixels decoded once (reduced, straight into the thumbnail, whose frame also gives the
placeholder), and a video is opened once and its first frame decoded once (the poster). Previews are not made
here; they are a queued job.

Everything here is CPU-bound and synchronous; callers run it off the event loop.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import IO

import msgspec
from PIL import Image

from reactbin.errors import InvalidImage, UnsupportedMediaType
from reactbin.media import thumbnail
from reactbin.media.animation import Timeline, read_timeline, sequence_timeline
from reactbin.media.formats import THUMBNAIL_BOX, Format, Limits, MediaInfo, sniff_file
from reactbin.media.perceptual import safe_hash_frame
from reactbin.media.placeholder import placeholder_of_image
from reactbin.media.still import decode_reduced, displayed_size, open_image, orientation
from reactbin.media.thumbnail import Thumbnail
from reactbin.media.video import probe_video

log = logging.getLogger(__name__)

JOB_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
"""What the thumbnail job API accepts: the still-image formats of its original contract."""


class MediaAnalysis(msgspec.Struct, frozen=True):
    info: MediaInfo
    thumbnail: Thumbnail
    placeholder: str | None
    phash: str | None = None
    """The perceptual hash of the thumbnail's frame (`media.perceptual`); None when it could not be made."""


def analyse_upload(path: Path, fmt: Format, limits: Limits) -> MediaAnalysis:
    """Validate an upload completely, make its thumbnail, its placeholder and its perceptual hash.

    The placeholder and the hash are niceties: when one cannot be made it is None (fsck and `reindex --media` retry
    the placeholder; an image without a hash has no similar images), never an error.

    Raises:
        EmptyFile, UnsupportedMediaType, InvalidImage, InvalidVideo, ImageTooLarge, VideoTooLong, MediaTimeout.
    """
    if fmt.family == "video":
        info, frame = probe_video(path, fmt, limits)
    else:
        info, frame = _analyse_image(path, fmt, limits.max_pixels)
    return MediaAnalysis(
        info=info,
        thumbnail=thumbnail.encode(frame),
        placeholder=safe_placeholder(frame),
        phash=safe_hash_frame(frame),
    )


def analyse_stored(path: Path, limits: Limits) -> MediaAnalysis:
    """`analyse_upload` of a file already in the library (fsck, reindex): its format is sniffed here.

    Raises:
        Every error `analyse_upload` raises: a file stored before today's checks may fail them.
    """
    return analyse_upload(path, sniff_file(path), limits)


def _analyse_image(path: Path, fmt: Format, max_pixels: int) -> tuple[MediaInfo, Image.Image]:
    with path.open("rb") as handle:
        timeline = read_timeline(handle, fmt, max_pixels) if fmt.walk else None
        with open_image(handle, fmt, max_pixels) as image:
            if timeline is None:
                timeline = _sequence_timeline(handle, image)
            turn = orientation(image)
            width, height = displayed_size(image, turn)
            frame = thumbnail.reduce(image, turn, (THUMBNAIL_BOX, THUMBNAIL_BOX))
    animated = timeline.frame_count > 1
    info = MediaInfo(
        mime_type=fmt.mime_type,
        kind="animated" if animated else "still",
        width=width,
        height=height,
        duration_ms=timeline.duration_ms if animated else None,
        frame_count=timeline.frame_count,
    )
    return info, frame


def _sequence_timeline(handle: IO[bytes], image: Image.Image) -> Timeline:
    """The timeline of a format Pillow counts the frames of (AVIF): one frame, or a sequence's movie header."""
    frames = getattr(image, "n_frames", 1)
    return sequence_timeline(handle, frames) if frames > 1 else Timeline(frame_count=1, duration_ms=0)


def safe_placeholder(frame: Image.Image) -> str | None:
    """The ThumbHash of a reduced frame, or None when it cannot be made."""
    try:
        return placeholder_of_image(frame)
    except Exception:
        log.warning("could not make a placeholder", exc_info=True)
        return None


def check_job_image(path: Path, max_pixels: int) -> tuple[Format, int, int]:
    """Check a file submitted to the thumbnail job API completely, without making anything from it.

    Same checks as an upload's: format from the bytes, container walked, declared size against `max_pixels`
    before any pixel is decoded, then a full decode (JPEG at 1/8 scale, which still reads every scan) so truncated
    or corrupt files are rejected at submit.

    Returns:
        The format and the displayed width and height.

    Raises:
        EmptyFile, UnsupportedMediaType, ImageTooLarge, InvalidImage.
    """
    fmt = sniff_file(path)
    if fmt.mime_type not in JOB_TYPES:
        raise UnsupportedMediaType("Thumbnail jobs accept JPEG, PNG, GIF and WebP images")
    with path.open("rb") as handle:
        if fmt.walk:
            read_timeline(handle, fmt, max_pixels)
        with open_image(handle, fmt, max_pixels) as image:
            turn = orientation(image)
            width, height = displayed_size(image, turn)
            decode_reduced(image, (max(1, image.width // 16), max(1, image.height // 16)))
    return fmt, width, height


def render_job_thumbnail(
    path: Path,
    fmt: Format,
    max_pixels: int,
    *,
    width: int,
    height: int,
    fit: thumbnail.Fit,
    encoding: thumbnail.Encoding,
) -> Thumbnail:
    """A thumbnail of a checked job image: within (or covering) `width`x`height`, in `encoding`.

    Raises:
        InvalidImage: the file changed or cannot be decoded after all.
    """
    if fmt.pillow is None:
        raise InvalidImage()
    with path.open("rb") as handle, open_image(handle, fmt, max_pixels) as image:
        frame = thumbnail.reduce(image, orientation(image), (width, height), fit)
    return thumbnail.encode(frame, encoding)
