"""Who may write, how often, and the security headers every response carries (ASGI middleware)."""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable, Iterable
from typing import Any

from litestar import Litestar
from litestar.enums import ScopeType
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from reactbin.domain.ratelimit import RateLimiter, Verdict
from reactbin.routes.schemas import ErrorBody
from reactbin.routes.telemetry import plain_template

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SERVICE_WORKER_PATH = "/sw.js"
SIGNED_PREFIX = "/api/v1/integrations/"
"""Chat platforms sign their requests (verified by each handler); no token, key or cookie authenticates them."""
# Routes that create work: each one is limited per client.
_LIMITED = frozenset({("POST", "/api/v1/images"), ("POST", "/api/v1/thumbnails"), ("POST", "/api/v1/thumbnails/")})


def document_access(prefix: str, handlers: list[Any]) -> list[Any]:
    """Add the answers of the access layers to each handler's OpenAPI responses and return the handlers.

    The middleware below decides who may write and what is rate limited, outside every route; this is the one
    place that tells the schema so. Every handler under `prefix` gets a 401 on its write methods (`WriteAccess`)
    and a 429 where `_LIMITED` lists it (`UploadRateLimit`): a new route needs nothing but to be listed in the
    API router, and a new rate-limited route only its entry in `_LIMITED`.
    """
    for handler in handlers:
        if not isinstance(handler, HTTPRouteHandler):
            continue
        added: dict[int, ResponseSpec] = {}
        for method in handler.http_methods:
            if method in _SAFE_METHODS:
                continue
            if not any((prefix + path).startswith(SIGNED_PREFIX) for path in handler.paths):
                added[401] = _access_response("A write token is required (only when API_TOKENS is set)")
            if any((method, prefix + path) in _LIMITED for path in handler.paths):
                added[429] = _access_response("Too many requests from this client; see Retry-After")
        if added:
            handler.responses = {**added, **(handler.responses or {})}
    return handlers


def _access_response(description: str) -> ResponseSpec:
    return ResponseSpec(data_container=ErrorBody, description=description, generate_examples=False)


async def _send_error(
    send: Send, status: int, detail: str, code: str, headers: Iterable[tuple[bytes, bytes]] = ()
) -> None:
    body = json.dumps({"detail": detail, "code": code}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})


_DRAIN_LIMIT = 64 * 1024 * 1024


async def _drain(receive: Receive) -> None:
    received = 0
    while received <= _DRAIN_LIMIT:
        message = await receive()
        if message["type"] != "http.request":
            return
        received += len(message.get("body", b""))
        if not message.get("more_body", False):
            return


class WriteAccess:
    """With API tokens configured, every write under /api needs `Authorization: Bearer <token>`; reads stay public."""

    def __init__(self, app: ASGIApp, tokens: tuple[str, ...]) -> None:
        self._app = app
        self._tokens = [token.encode() for token in tokens]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            self._tokens
            and scope["type"] == ScopeType.HTTP
            and scope["method"] not in _SAFE_METHODS
            and scope["path"].startswith("/api/")
            and not scope["path"].startswith(SIGNED_PREFIX)
            and not self._authorised(scope)
        ):
            # Read the body first: a browser still sending an upload that is answered and cut off sees a network
            # error, not the 401 that tells it to ask for a token.
            await _drain(receive)
            await _send_error(
                send,
                401,
                "This server needs a write token: send Authorization: Bearer <token>",
                "unauthorized",
                [(b"www-authenticate", b'Bearer realm="reactbin"')],
            )
            return
        await self._app(scope, receive, send)

    def _authorised(self, scope: Scope) -> bool:
        authorization = b""
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value
        return token_accepted(authorization, self._tokens)


def token_accepted(authorization: bytes, tokens: list[bytes]) -> bool:
    """Whether an `Authorization` header value carries one of `tokens` as a Bearer token."""
    presented = authorization[7:].strip() if authorization[:7].lower() == b"bearer " else b""
    # Compare against every token, always: the time taken says nothing about which one nearly matched.
    matches = [hmac.compare_digest(presented, token) for token in tokens]
    return bool(presented) and any(matches)


class UploadRateLimit:
    """Limits uploads and job submissions per client address, with RateLimit headers on every answer."""

    def __init__(self, app: ASGIApp, limiter: Callable[[], RateLimiter | None]) -> None:
        self._app = app
        self._limiter = limiter  # opened by the lifespan, so looked up per request

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limiter = self._limiter()
        if scope["type"] != ScopeType.HTTP or limiter is None or (scope["method"], scope["path"]) not in _LIMITED:
            await self._app(scope, receive, send)
            return
        client = scope.get("client")
        verdict = await limiter.hit(f"uploads:{client[0] if client else 'unknown'}")
        headers = _rate_headers(verdict)
        if not verdict.allowed:
            await _send_error(
                send,
                429,
                f"Too many uploads: at most {verdict.limit} every {verdict.window} s; "
                f"try again in {verdict.reset_in} s",
                "rate_limited",
                [*headers, (b"retry-after", str(verdict.reset_in).encode())],
            )
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *headers]
            await send(message)

        await self._app(scope, receive, send_with_headers)


def _rate_headers(verdict: Verdict) -> list[tuple[bytes, bytes]]:
    return [
        (b"ratelimit-limit", str(verdict.limit).encode()),
        (b"ratelimit-remaining", str(verdict.remaining).encode()),
        (b"ratelimit-reset", str(verdict.reset_in).encode()),
        (b"ratelimit-policy", f"{verdict.limit};w={verdict.window}".encode()),
    ]


class SecurityHeaders:
    """Headers every response carries; pages get a strict CSP, other responses one that allows nothing."""

    def __init__(self, app: ASGIApp, public_base_url: str | None) -> None:
        self._app = app
        cdn = f" {public_base_url}" if public_base_url else ""
        # Videos play from the CDN too (media-src); "Copy image" fetches a still's bytes (connect-src), which
        # works from a CDN that answers CORS and otherwise falls back to copying the link.
        self._page_csp = (
            f"default-src 'self'; img-src 'self' data: blob:{cdn}; media-src 'self'{cdn}; "
            "style-src 'self' 'unsafe-inline'; script-src 'self'; "
            f"connect-src 'self'{cdn}; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
        ).encode()
        # The service worker's own policy governs what it may fetch: the API and the shell ('self') and thumbnails on
        # the CDN. Under the `default-src 'none'` of every other non-page response it could cache nothing.
        self._worker_csp = (
            f"default-src 'self'; connect-src 'self'{cdn}; img-src 'self' data: blob:{cdn}; script-src 'self'; "
            "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
        ).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self._app(scope, receive, send)
            return
        # The interactive API docs load their scripts from a CDN; they get the other headers only.
        docs = scope["path"].startswith("/api/docs")
        worker = scope["path"] == SERVICE_WORKER_PATH

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                extra = [
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"x-frame-options", b"DENY"),
                ]
                if not docs:
                    html = any(n.lower() == b"content-type" and v.startswith(b"text/html") for n, v in headers)
                    if html:
                        policy = self._page_csp
                    elif worker:
                        policy = self._worker_csp
                    else:
                        policy = b"default-src 'none'; frame-ancestors 'none'"
                    extra.append((b"content-security-policy", policy))
                message["headers"] = headers + [(n, v) for n, v in extra if n not in present]
            await send(message)

        await self._app(scope, receive, send_with_headers)


class AccurateAllow:
    """Answer OPTIONS with every method of the route.

    Litestar 2.25 builds a route's automatic OPTIONS handler when the route's first handler is registered and keeps
    it when more methods join the same path, so `Allow` named only some of them (found by schemathesis).
    """

    def __init__(self, app: ASGIApp, routes: Litestar) -> None:
        self._app = app
        self._routes = routes
        self._by_path: dict[str, set[str]] = {}

    def _methods_by_path(self) -> dict[str, set[str]]:
        if not self._by_path:
            for route in self._routes.routes:
                if hasattr(route, "methods"):
                    self._by_path[plain_template(route.path)] = set(route.methods)
        return self._by_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or scope["method"] != "OPTIONS":
            await self._app(scope, receive, send)
            return

        async def send_with_allow(message: Message) -> None:
            if message["type"] == "http.response.start":
                methods = self._methods_by_path().get(scope.get("path_template", ""))
                if methods:
                    allow = ", ".join(sorted(methods)).encode()
                    kept = [(n, v) for n, v in message.get("headers", []) if n.lower() != b"allow"]
                    message["headers"] = [*kept, (b"allow", allow)]
            await send(message)

        await self._app(scope, receive, send_with_allow)
