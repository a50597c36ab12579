"""The single-page UI: hashed assets cached for a year, index.html revalidated, deep links get index.html."""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Annotated, Any

from litestar import Response, post, route
from litestar.exceptions import NotFoundException
from litestar.params import PathParameter
from litestar.response import File, Redirect

_PLACEHOLDER = b"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>reactbin</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><h1>reactbin</h1><p>The API is running at <a href="/api/v1/images">/api/v1/images</a>
(OpenAPI at <a href="/api/docs">/api/docs</a>). The web UI has not been built.</p></body></html>
"""


SHARE_TARGET = "/share-target"
"""The web app manifest's share target (ui/public/manifest.webmanifest)."""

# Operational paths: a probe or scraper must get their real answer or a 404, never the page.
NOT_PAGES = frozenset({"api", "metrics", "healthz", "readyz"})


def ui_handlers(ui_dir: Path | None) -> list[Any]:
    """Routes that serve the built UI from `ui_dir` (or a placeholder page when it has not been built)."""
    root = ui_dir.resolve() if ui_dir is not None and (ui_dir / "index.html").is_file() else None

    def index() -> Response[bytes]:
        body = (root / "index.html").read_bytes() if root is not None else _PLACEHOLDER
        return Response(body, media_type="text/html", headers={"cache-control": "no-cache"})

    # Two handlers, not one with two paths: Litestar 2.25 registers a multi-path handler once per path and wraps a
    # sync_to_thread function twice, so every call returned an un-awaited coroutine (a 500).
    # HEAD too: load balancers and uptime checks often probe the page that way.
    @route("/", http_method=["GET", "HEAD"], include_in_schema=False, sync_to_thread=True)
    def spa_root() -> Response[Any]:
        return index()

    @route("/{path:path}", http_method=["GET", "HEAD"], include_in_schema=False, sync_to_thread=True)
    def spa(path: Annotated[str, PathParameter()]) -> Response[Any]:
        relative = path.lstrip("/")
        if relative.startswith("api/") or relative.rstrip("/") in NOT_PAGES:
            raise NotFoundException()
        if root is not None and relative:
            candidate = (root / relative).resolve()
            if candidate.is_relative_to(root) and candidate.is_file():
                hashed = candidate.is_relative_to(root / "assets")
                return File(
                    candidate,
                    content_disposition_type="inline",
                    media_type=mimetypes.guess_type(candidate.name)[0] or "application/octet-stream",
                    headers={"cache-control": "public, max-age=31536000, immutable" if hashed else "no-cache"},
                )
            if "." in relative.rsplit("/", 1)[-1]:
                raise NotFoundException()
        return index()

    @post(SHARE_TARGET, include_in_schema=False, status_code=303)
    async def share_target() -> Redirect:
        # The service worker answers the share sheet's POST itself (it keeps the files for the upload screen); this is
        # reached only before it is installed. The body is left unread: the upload screen says to share again.
        return Redirect("/upload?shared=unavailable", status_code=303)

    return [spa_root, spa, share_target]
