"""The URL resolver: the one place that decides whether clients fetch bytes from the CDN or the proxy."""

from __future__ import annotations

import uuid

API_PREFIX = "/api/v1"


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
