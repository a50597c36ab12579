"""Stills made from videos and AVIF images: the library thumbnail (a poster frame for videos)."""

from __future__ import annotations

import hashlib
import io
import warnings
from pathlib import Path

from PIL import Image

from reactbin.errors import ImageTooLarge, InvalidImage
from reactbin.imaging import THUMBNAIL_BOX, Thumbnail
from reactbin.media.probe import MediaInfo, analyse_video


def video_with_poster(path: Path, mime_type: str, max_pixels: int, max_seconds: float) -> tuple[MediaInfo, Thumbnail]:
    """Probe a video and make its poster (first decodable frame) as a WebP thumbnail within `THUMBNAIL_BOX` px.

    Raises:
        UnsupportedMediaType, InvalidVideo, ImageTooLarge, VideoTooLong, MediaTimeout.
    """
    info, poster = analyse_video(path, mime_type, max_pixels, max_seconds, poster_box=THUMBNAIL_BOX)
    return info, encode_thumbnail(poster)


def analyse_avif(path: Path, max_pixels: int) -> tuple[int, int, Thumbnail]:
    """Width, height and thumbnail of an AVIF still, after checking its declared size.

    Raises:
        InvalidImage, ImageTooLarge.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(path, formats=["AVIF"])
    except Exception as exc:
        raise InvalidImage() from exc
    with image:
        width, height = image.size
        if width <= 0 or height <= 0:
            raise InvalidImage()
        if width * height > max_pixels:
            raise ImageTooLarge(f"The image is {width}x{height} pixels; at most {max_pixels} pixels are allowed")
        if getattr(image, "n_frames", 1) > 1:
            raise InvalidImage("Animated AVIF is not accepted; upload it as MP4 or WebM")
        try:
            image.load()
            still = image.convert("RGBA" if "A" in image.getbands() else "RGB")
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise InvalidImage() from exc
    still.thumbnail((THUMBNAIL_BOX, THUMBNAIL_BOX), Image.Resampling.LANCZOS)
    return width, height, encode_thumbnail(still)


def encode_thumbnail(image: Image.Image) -> Thumbnail:
    out = io.BytesIO()
    image.save(out, "WEBP", quality=80, method=4)
    data = out.getvalue()
    return Thumbnail(
        data=data,
        sha256=hashlib.sha256(data).hexdigest(),
        width=image.width,
        height=image.height,
        mime_type="image/webp",
    )
