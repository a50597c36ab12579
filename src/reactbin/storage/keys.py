"""The one place that names objects in the store.

Keys are content-addressed and end in the real extension (Cloudflare caches by extension);
thumbnail keys carry a version so a new thumbnail recipe never collides with cached old ones.
"""

from __future__ import annotations

import secrets

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


PRIVATE_PREFIX = "private/"
"""Objects only the service reads: a CDN in front of the bucket must never serve this prefix (README, CDN)."""

JOB_SOURCE_PREFIX = f"{PRIVATE_PREFIX}job-sources/"


def job_source_key(job_id: str, mime_type: str) -> str:
    """Key of an image submitted to the job API, deleted when its job finishes.

    Under `private/`, with 128 random bits after the job id: even a CDN that serves the whole bucket cannot be
    asked for it, since nobody outside the service ever learns the key.
    """
    return f"{JOB_SOURCE_PREFIX}{job_id}-{secrets.token_hex(16)}.{EXTENSIONS[mime_type]}"
