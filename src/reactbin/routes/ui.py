"""The single-page UI: hashed assets cached for a year, index.html revalidated, deep links get index.html.

The build writes a brotli (`.br`) and a gzip (`.gz`) copy next to each text file (ui/vite.config.ts); a client that
accepts one gets it as is, with `Content-Encoding`, so nothing is compressed per request.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Annotated, Any

from litestar import Request, Response, post, route
from litestar.exceptions import NotFoundException
from litestar.params import PathParameter
from litestar.response import File, Redirect

from reactbin.routes.access import access
from reactbin.routes.compression import preferred_encoding

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
_SUFFIXES = {"br": ".br", "gzip": ".gz"}

FIRST_PAGE = "/api/v1/images?limit=30"
"""The library's first request (ui/src/components/Library.tsx, PAGE_SIZE): the page at `/` tells the browser to fetch
it at once, alongside the script instead of after it (one round trip less before the first thumbnails; Lighthouse's
LCP on a throttled phone went from 2.04 to 1.64 s). It must stay byte-for-byte what the UI asks for, or it is
fetched twice."""


def _static(
    path: Path, request: Request[Any, Any, Any], cache_control: str, extra: dict[str, str] | None = None
) -> File:
    """`path` as a file response, or its precompressed copy when the client takes that encoding."""
    headers = {"cache-control": cache_control, "vary": "accept-encoding", **(extra or {})}
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    encoding = preferred_encoding(request.headers.get("accept-encoding", ""))
    if encoding is not None and request.method != "HEAD":
        packed = path.with_name(path.name + _SUFFIXES[encoding])
        if packed.is_file():
            path = packed
            headers["content-encoding"] = encoding
    return File(path, content_disposition_type="inline", media_type=media_type, headers=headers)


def ui_handlers(ui_dir: Path | None) -> list[Any]:
    """Routes that serve the built UI from `ui_dir` (or a placeholder page when it has not been built)."""
    root = ui_dir.resolve() if ui_dir is not None and (ui_dir / "index.html").is_file() else None

    def index(request: Request[Any, Any, Any], *, library: bool = False) -> Response[Any]:
        if root is not None:
            preload = {"link": f"<{FIRST_PAGE}>; rel=preload; as=fetch; crossorigin"} if library else None
            return _static(root / "index.html", request, "no-cache", preload)
        return Response(_PLACEHOLDER, media_type="text/html", headers={"cache-control": "no-cache"})

    # Two handlers, not one with two paths: Litestar 2.25 registers a multi-path handler once per path and wraps a
    # sync_to_thread function twice, so every call returned an un-awaited coroutine (a 500).
    # HEAD too: load balancers and uptime checks often probe the page that way.
    @route("/", http_method=["GET", "HEAD"], include_in_schema=False, sync_to_thread=True, opt=access("public"))
    def spa_root(request: Request[Any, Any, Any]) -> Response[Any]:
        # Only the plain library: a search's first request differs.
        return index(request, library=not request.url.query)

    @route(
        "/{path:path}", http_method=["GET", "HEAD"], include_in_schema=False, sync_to_thread=True, opt=access("public")
    )
    def spa(request: Request[Any, Any, Any], path: Annotated[str, PathParameter()]) -> Response[Any]:
        relative = path.lstrip("/")
        if relative.startswith("api/") or relative.rstrip("/") in NOT_PAGES:
            raise NotFoundException()
        if root is not None and relative:
            candidate = (root / relative).resolve()
            if candidate.is_relative_to(root) and candidate.is_file():
                hashed = candidate.is_relative_to(root / "assets")
                return _static(candidate, request, "public, max-age=31536000, immutable" if hashed else "no-cache")
            if "." in relative.rsplit("/", 1)[-1]:
                raise NotFoundException()
        return index(request)

    @post(SHARE_TARGET, include_in_schema=False, status_code=303, opt=access("public"))
    async def share_target() -> Redirect:
        # The service worker answers the share sheet's POST itself (it keeps the files for the upload screen); this is
        # reached only before it is installed. The body is left unread: the upload screen says to share again.
        return Redirect("/upload?shared=unavailable", status_code=303)

    return [spa_root, spa, share_target]
