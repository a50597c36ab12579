"""Absolute public URLs for chat posts: the CDN's when there is one, else `PUBLIC_URL` + the proxy path.

Discord and Slack fetch what a post links to from the internet, so a path alone would never unfurl. The settings
refuse an integration with neither `PUBLIC_URL` nor `S3_PUBLIC_BASE_URL`; `origin` (the address the platform
called) only stands in for tests and set-ups built without `Settings.from_env`.
"""

from __future__ import annotations

from urllib.parse import urlencode

from reactbin.db.images import ImageRow
from reactbin.urls import UrlResolver, absolute, share_page_path


class Links:
    def __init__(self, urls: UrlResolver, public_url: str | None, origin: str) -> None:
        self._urls = urls
        self.origin = (public_url or origin).rstrip("/")

    def file(self, image: ImageRow) -> str:
        """The original: GIFs stay animated and MP4s play where the platform unfurls them."""
        return absolute(self._urls.file_url(image.id, image.storage_key), self.origin)

    def picture(self, image: ImageRow) -> str | None:
        """A picture of the image for an embed: the original for stills and animations; a video's looping preview
        (or its poster), since embeds show pictures, not videos."""
        if image.kind != "video":
            return self.file(image)
        url = self._urls.preview_url(image.id, image.preview_key) or self._urls.thumbnail_url(
            image.id, image.thumbnail_key
        )
        return absolute(url, self.origin) if url else None

    def page(self, image: ImageRow) -> str:
        """The share page, which opens the image in the web UI."""
        return f"{self.origin}{share_page_path(image.id)}"

    def library(self, query: str) -> str:
        """The web UI's results for a query."""
        return f"{self.origin}/" + (f"?{urlencode({'q': query})}" if query.strip() else "")


def title_of(image: ImageRow) -> str:
    """What a post calls the image: its caption when it has one (also its alt text), else its filename."""
    return " ".join((image.text or "").split()) or image.filename
