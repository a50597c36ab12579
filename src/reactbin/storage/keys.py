"""The one place that names objects in the store.

Keys are content-addressed and end in the real extension (Cloudflare caches by extension);
thumbnail keys carry a version so a new thumbnail recipe never collides with cached old ones.
"""

from __future__ import annotations

THUMBNAIL_VERSION = "v1"
PREVIEW_VERSION = "v1"

EXTENSIONS = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/gif": "gif",
    "image/webp": "webp",
    "image/avif": "avif",
    "video/mp4": "mp4",
    "video/webm": "webm",
}


def original_key(sha256: str, mime_type: str) -> str:
    """Key of an uploaded original, e.g. `images/<sha256>.jpg`."""
    return f"images/{sha256}.{EXTENSIONS[mime_type]}"


def thumbnail_key(sha256: str) -> str:
    """Key of the library thumbnail of the original with this hash."""
    return f"thumbnails/{THUMBNAIL_VERSION}/{sha256}.webp"


def preview_key(sha256: str) -> str:
    """Key of the looping animated WebP preview of an animation or video with this hash."""
    return f"previews/{PREVIEW_VERSION}/{sha256}.webp"


def job_thumbnail_key(job_id: str, mime_type: str) -> str:
    """Key of a thumbnail made by the job API."""
    return f"jobs/{job_id}.{EXTENSIONS[mime_type]}"


def job_source_key(job_id: str, mime_type: str) -> str:
    """Key of the image submitted to the job API, kept until its job finishes."""
    return f"jobs/sources/{job_id}.{EXTENSIONS[mime_type]}"
