"""The URL resolver: the one place that decides whether clients fetch bytes from the CDN or the proxy."""

from __future__ import annotations

import re
import uuid
from urllib.parse import quote, urlsplit

API_PREFIX = "/api/v1"
_SHARED_PAGE = re.compile(r"^/(?:i|images)/([0-9a-fA-F-]{32,36})/?$")


def share_page_path(image_id: uuid.UUID) -> str:
    """The server-rendered page with Open Graph tags that chat apps unfurl."""
    return f"/i/{image_id}"


def player_page_path(image_id: uuid.UUID) -> str:
    """The bare page a Twitter/X player card frames: the video alone, nothing else of the UI."""
    return f"/i/{image_id}/player"


def app_detail_path(image_id: uuid.UUID) -> str:
    """The web UI's page of one image."""
    return f"/images/{image_id}"


def oembed_path(page_url: str) -> str:
    return f"{API_PREFIX}/oembed?url={quote(page_url, safe='')}"


def absolute(url: str, origin: str) -> str:
    """`url` made absolute: CDN URLs already are; proxy paths get the service's public origin."""
    return url if urlsplit(url).scheme else f"{origin}{url}"


def image_id_of_page(url: str, origin: str) -> uuid.UUID | None:
    """The image a share page or UI detail URL of this service names; None for any other URL."""
    parts = urlsplit(url)
    if f"{parts.scheme}://{parts.netloc}".lower() != origin.lower():
        return None
    match = _SHARED_PAGE.match(parts.path)
    if match is None:
        return None
    try:
        return uuid.UUID(match[1])
    except ValueError:
        return None


class UrlResolver:
    """With a public base URL, objects are addressed on the CDN by key; without, through the API's proxy routes."""

    def __init__(self, public_base_url: str | None) -> None:
        self._base = public_base_url.rstrip("/") if public_base_url else None

    def _public(self, key: str) -> str | None:
        return None if self._base is None else f"{self._base}/{key.lstrip('/')}"

    def file_url(self, image_id: uuid.UUID, storage_key: str) -> str:
        return self._public(storage_key) or f"{API_PREFIX}/images/{image_id}/file"

    def thumbnail_url(self, image_id: uuid.UUID, thumbnail_key: str | None) -> str | None:
        if thumbnail_key is None:
            return None
        return self._public(thumbnail_key) or f"{API_PREFIX}/images/{image_id}/thumbnail"

    def preview_url(self, image_id: uuid.UUID, preview_key: str | None) -> str | None:
        if preview_key is None:
            return None
        return self._public(preview_key) or f"{API_PREFIX}/images/{image_id}/preview"

    def job_thumbnail_url(self, job_id: uuid.UUID, key: str) -> str:
        return self._public(key) or f"{API_PREFIX}/jobs/{job_id}/thumbnail/file"

    def job_url(self, job_id: uuid.UUID) -> str:
        """Where a job's status is polled (an API route in both modes)."""
        return f"{API_PREFIX}/jobs/{job_id}"
