"""The proxy: stored bytes streamed from storage, with strong ETags, immutable caching, 304 and Range.

`serve_content` is shared by every byte route (image files and thumbnails here, job thumbnails in `jobs`).
"""

from __future__ import annotations

import functools
from typing import Any, Protocol

import anyio
from litestar import Request, route
from litestar.openapi.datastructures import ResponseSpec
from litestar.types import ASGIApp, Receive, Scope, Send

from reactbin import metrics
from reactbin.domain.resources import Resources
from reactbin.domain.serving.content import Content, Variant, open_content
from reactbin.errors import RangeNotSatisfiable
from reactbin.routes.images import ImageId, errors, parse_image_id
from reactbin.storage import ObjectReader

IMMUTABLE = b"public, max-age=31536000, immutable"
# User bytes are only ever served as the stored type, never sniffed, never allowed to run script.
_FIXED_HEADERS = [
    (b"cache-control", IMMUTABLE),
    (b"x-content-type-options", b"nosniff"),
    (b"content-security-policy", b"default-src 'none'; sandbox"),
    (b"accept-ranges", b"bytes"),
]


class ContentResponse:
    """A raw ASGI response: bytes in one message, or an object streamed and closed even on disconnect."""

    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes | ObjectReader | None) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = self.body
        if body is None or isinstance(body, bytes):
            await send({"type": "http.response.start", "status": self.status, "headers": self.headers})
            await send({"type": "http.response.body", "body": body or b"", "more_body": False})
            if body:
                metrics.PROXY_BYTES.inc(len(body))
            return
        try:
            await send({"type": "http.response.start", "status": self.status, "headers": self.headers})
            async with anyio.create_task_group() as group:
                group.start_soon(_cancel_on_disconnect, receive, group.cancel_scope)
                async for chunk in body.chunks():
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                    metrics.PROXY_BYTES.inc(len(chunk))
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                group.cancel_scope.cancel()
        finally:
            # A body left open keeps its pooled S3 connection; a few aborted clients would then hang the pool.
            with anyio.CancelScope(shield=True):
                await body.aclose()


async def _cancel_on_disconnect(receive: Receive, scope: anyio.CancelScope) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            scope.cancel()
            return


def _response(content: Content) -> ContentResponse:
    headers = [(b"etag", content.etag.encode()), *_FIXED_HEADERS]
    if content.status == 304:
        return ContentResponse(304, headers, None)
    headers.append((b"content-type", content.mime_type.encode()))
    headers.append((b"content-length", str(content.length).encode()))
    if content.byte_range is not None:
        first, last = content.byte_range
        headers.append((b"content-range", f"bytes {first}-{last}/{content.size}".encode()))
    return ContentResponse(content.status, headers, content.body)


class ContentOpener(Protocol):
    """Decides what to send for one object given the request's conditional headers (see `open_stored`)."""

    async def __call__(
        self, *, if_none_match: str | None, range_header: str | None, if_range: str | None, with_body: bool
    ) -> Content: ...


async def _serve(request: Request[Any, Any, Any], image_id: str, variant: Variant) -> ASGIApp:
    res: Resources = request.app.state.resources
    return await serve_content(request, functools.partial(open_content, res, parse_image_id(image_id), variant))


async def serve_content(request: Request[Any, Any, Any], opener: ContentOpener) -> ASGIApp:
    """Answer a GET or HEAD for stored bytes: 200, 206, 304 or 416, with the proxy's caching headers."""
    headers = request.headers
    try:
        content = await opener(
            if_none_match=headers.get("if-none-match"),
            range_header=headers.get("range"),
            if_range=headers.get("if-range"),
            with_body=request.method != "HEAD",
        )
    except RangeNotSatisfiable as exc:
        # 416 carries the full size so the client can ask again; the body is the usual error JSON.
        return ContentResponse(
            416,
            [
                (b"content-type", b"application/json"),
                (b"content-range", f"bytes */{exc.size}".encode()),
                *_FIXED_HEADERS[1:],
            ],
            b'{"detail":"The requested range is not satisfiable","code":"range_not_satisfiable"}',
        )
    return _response(content)


FILE_RESPONSES: dict[int, ResponseSpec] = {
    200: ResponseSpec(data_container=bytes, media_type="image/*", description="The bytes", generate_examples=False),
    206: ResponseSpec(data_container=bytes, media_type="image/*", description="A byte range", generate_examples=False),
    304: ResponseSpec(data_container=None, description="Not modified"),
} | errors(404, 416, 500, 503)


@route(
    "/images/{image_id:str}/file",
    http_method=["GET", "HEAD"],
    summary="Download an image's original bytes",
    responses=FILE_RESPONSES,
    include_in_schema=True,
)
async def image_file(request: Request[Any, Any, Any], image_id: ImageId) -> ASGIApp:
    return await _serve(request, image_id, "file")


@route(
    "/images/{image_id:str}/preview",
    http_method=["GET", "HEAD"],
    summary="Download the looping animated WebP preview of an animation or video",
    responses=FILE_RESPONSES,
)
async def image_preview(request: Request[Any, Any, Any], image_id: ImageId) -> ASGIApp:
    return await _serve(request, image_id, "preview")


@route(
    "/images/{image_id:str}/thumbnail",
    http_method=["GET", "HEAD"],
    summary="Download an image's thumbnail (WebP)",
    responses=FILE_RESPONSES,
)
async def image_thumbnail(request: Request[Any, Any, Any], image_id: ImageId) -> ASGIApp:
    return await _serve(request, image_id, "thumbnail")
