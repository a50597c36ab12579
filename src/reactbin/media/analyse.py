"""Everything the upload request learns from a file: what it is, its thumbnail (a poster for videos), a placeholder
and a perceptual hash."""

from __future__ import annotations

import logging
from pathlib import Path

import msgspec

from reactbin.imaging import Thumbnail, analyse_upload
from reactbin.media.perceptual import safe_perceptual_hash
from reactbin.media.placeholder import placeholder_of
from reactbin.media.probe import VIDEO_TYPES, MediaInfo, probe_file
from reactbin.media.video import analyse_avif, video_with_poster

log = logging.getLogger(__name__)


class MediaAnalysis(msgspec.Struct, frozen=True):
    info: MediaInfo
    thumbnail: Thumbnail
    placeholder: str | None
    phash: str | None
    """The perceptual hash of the thumbnail (`media.perceptual`); None when it could not be made."""


def analyse_media(path: Path, max_pixels: int, max_video_seconds: float) -> MediaAnalysis:
    """Validate an upload completely, make its thumbnail, its placeholder and its perceptual hash.

    The placeholder and the hash are niceties: when one cannot be made it is None (fsck and `reindex --media` retry
    the placeholder; an image without a hash has no similar images), never an error. Previews are not made here;
    they are a queued job.

    Raises:
        EmptyFile, UnsupportedMediaType, InvalidImage, InvalidVideo, ImageTooLarge, VideoTooLong, MediaTimeout.
    """
    info = probe_file(path, max_pixels, max_video_seconds)
    if info.mime_type in VIDEO_TYPES:
        info, thumbnail = video_with_poster(path, info.mime_type, max_pixels, max_video_seconds)
    elif info.mime_type == "image/avif":
        width, height, thumbnail = analyse_avif(path, max_pixels)
        info = msgspec.structs.replace(info, width=width, height=height)
    else:
        still = analyse_upload(path, max_pixels)
        info = msgspec.structs.replace(info, width=still.width, height=still.height)
        thumbnail = still.thumbnail
    return MediaAnalysis(
        info=info,
        thumbnail=thumbnail,
        placeholder=safe_placeholder(thumbnail.data),
        phash=safe_perceptual_hash(thumbnail.data),
    )


def safe_placeholder(thumbnail: bytes) -> str | None:
    """The ThumbHash of a thumbnail, or None when it cannot be made."""
    try:
        return placeholder_of(thumbnail)
    except Exception:
        log.warning("could not make a placeholder", exc_info=True)
        return None
