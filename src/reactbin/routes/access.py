"""Who may do what, how often, and the security headers every response carries (ASGI middleware)."""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable, Iterable
from typing import Any, Literal

from litestar import Litestar, Request
from litestar.enums import ScopeType
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from reactbin.domain.principals import ANONYMOUS, SESSION_COOKIE, Authenticator, Principal
from reactbin.domain.ratelimit import RateLimiter, Verdict
from reactbin.errors import CsrfFailed, DatabaseUnavailable, Forbidden, ReactbinError, Unauthorized
from reactbin.routes.schemas import ErrorBody
from reactbin.routes.telemetry import plain_template

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SERVICE_WORKER_PATH = "/sw.js"
SIGNED_PREFIX = "/api/v1/integrations/"
"""Chat platforms sign their requests (verified by each handler); no token, key or cookie authenticates them."""
# Routes that create work: each one is limited per client.
_LIMITED = frozenset({("POST", "/api/v1/images"), ("POST", "/api/v1/thumbnails"), ("POST", "/api/v1/thumbnails/")})


Access = Literal["public", "read", "use", "favourite", "self", "write", "upload", "admin"]
"""Who may call a route (set with `access(...)` as the handler's `opt`; default: `read` for GET/HEAD, else `write`):

- `public`: anyone, always (health, sign-in, setup, the UI's files);
- `read`: anyone while `PUBLIC_READ` is true (or the library is open), else any signed-in user or full key;
- `use`: any role (viewers record uses); `favourite`, `self`: a real user (not an `API_TOKENS` token);
- `write`: members and admins (`delete` of another's upload is refused by the domain); `upload`: the same, and
  the only thing an `upload`-scoped key may do (besides routes marked `upload_key=True`: the lookup by hash an
  importer makes before sending a file);
- `admin`: admins (and `API_TOKENS` tokens).
"""

_ROLES_ALLOWED: dict[str, frozenset[str]] = {
    "use": frozenset({"admin", "member", "viewer"}),
    "favourite": frozenset({"admin", "member", "viewer"}),
    "self": frozenset({"admin", "member", "viewer"}),
    "write": frozenset({"admin", "member"}),
    "upload": frozenset({"admin", "member"}),
    "admin": frozenset({"admin"}),
}


def access(level: Access, **opt: Any) -> dict[str, Any]:
    """A handler's `opt` that declares who may call it."""
    return {"access": level, **opt}


def access_of(handler: Any, method: str) -> Access:
    level: Access | None = (handler.opt or {}).get("access")
    if level is not None:
        return level
    return "read" if method in _SAFE_METHODS else "write"


def principal_of(request: Request[Any, Any, Any]) -> Principal:
    """The principal `AccessControl` resolved for this request (anonymous for public routes that did not ask)."""
    principal: Principal | None = request.scope.get("state", {}).get(_PRINCIPAL)
    return principal if principal is not None else ANONYMOUS


def authenticator_of(request: Request[Any, Any, Any]) -> Authenticator:
    """The app's authenticator, for the few public routes that look at credentials themselves (`/limits`)."""
    authenticator: Authenticator = request.app.state.authenticator
    return authenticator


def document_access(prefix: str, handlers: list[Any]) -> list[Any]:
    """Add the answers of the access layers to each handler's OpenAPI responses and return the handlers.

    `AccessControl` decides who may call what, outside every route; this is the one place that tells the schema so:
    a 401 and 403 wherever a principal is checked (403 `csrf_failed` too on writes), a 503 where credentials are
    looked up, and a 429 where `_LIMITED` lists the route (`UploadRateLimit`). A new route needs nothing but its
    `access(...)` and to be listed in the API router.
    """
    for handler in handlers:
        if not isinstance(handler, HTTPRouteHandler):
            continue
        added: dict[int, ResponseSpec] = {}
        for method in handler.http_methods:
            level = access_of(handler, method)
            if level != "public":
                added[401] = _access_response(
                    "Sign-in or an API key is needed (reads: only when PUBLIC_READ=false); a bearer key or token "
                    "that is not valid"
                )
                added[403] = _access_response(
                    "`forbidden`: the role or key scope does not allow this; `csrf_failed`: a signed-in browser "
                    "write without X-CSRF-Token or from another site"
                )
                added[503] = _access_response("The database is unavailable, try again shortly")
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


_PRINCIPAL = "reactbin_principal"


class AccessControl:
    """Resolve who is asking, once per request, and decide whether they may call the route (after routing, so the
    handler's `access` is known).

    A cookie-authenticated write must carry the session's `X-CSRF-Token`; any write not authenticated by a bearer
    key or token must not come from another site's page (`Origin`). Cookies never authenticate the chat integration
    routes, which verify their own signatures.
    """

    def __init__(
        self, app: ASGIApp, authenticator: Callable[[], Authenticator | None], public_read: bool, public_url: str | None
    ) -> None:
        self._app = app
        self._authenticator = authenticator  # opened by the lifespan, so looked up per request
        self._public_read = public_read
        self._public_url = public_url.encode() if public_url else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self._app(scope, receive, send)
            return
        method = scope["method"]
        handler = scope.get("route_handler")
        level: Access = "public" if scope["path"].startswith("/api/docs") else access_of(handler, method)
        if level == "public" and not (handler.opt or {}).get("principal"):
            await self._app(scope, receive, send)
            return
        authenticator = self._authenticator()
        if authenticator is None:  # not started (or stopping): refuse rather than let anyone in
            await _drain(receive)
            raise DatabaseUnavailable()
        headers = _headers(scope)
        cookie = None if scope["path"].startswith("/api/v1/integrations/") else _cookie(headers, SESSION_COOKIE)
        try:
            principal = await authenticator.resolve(cookie=cookie, authorization=headers.get(b"authorization"))
            if method not in _SAFE_METHODS:
                self._check_forgery(principal, headers)
            if level != "public":
                self._authorise(principal, level, handler)
        except ReactbinError:
            # Read the body first: a browser still sending an upload that is answered and cut off sees a network
            # error, not the 401/403 that tells it what to do.
            await _drain(receive)
            raise
        scope.setdefault("state", {})[_PRINCIPAL] = principal
        await self._app(scope, receive, send)

    def _check_forgery(self, principal: Principal, headers: dict[bytes, bytes]) -> None:
        if principal.auth in ("key", "token"):
            return  # a bearer credential is never sent by a browser on its own
        origin = headers.get(b"origin")
        if origin is not None and not self._same_site(origin, headers.get(b"host", b"")):
            raise CsrfFailed("Writes from another site's page are refused")
        if principal.auth == "session":
            sent = headers.get(b"x-csrf-token", b"")
            expected = (principal.csrf_token or "").encode()
            if not sent or not hmac.compare_digest(sent, expected):
                raise CsrfFailed()

    def _same_site(self, origin: bytes, host: bytes) -> bool:
        if self._public_url is not None and origin.lower() == self._public_url:
            return True
        # Without PUBLIC_URL (or behind a proxy that keeps the Host), the page's origin names this very host.
        _, _, netloc = origin.partition(b"://")
        return bool(host) and netloc.lower() == host.lower()

    def _authorise(self, principal: Principal, level: Access, handler: Any) -> None:
        if principal.scope == "upload" and level != "upload" and not (handler.opt or {}).get("upload_key"):
            raise Forbidden("This API key may only upload images")
        if principal.role is None:
            if level == "read" and self._public_read:
                return
            if level == "read":
                raise Unauthorized("This library is private: sign in, or send Authorization: Bearer <API key>")
            raise Unauthorized()
        if level == "read":
            return
        if level in ("favourite", "self") and principal.user_id is None:
            raise Forbidden("This needs a signed-in user: favourites and keys belong to a person")
        if principal.role not in _ROLES_ALLOWED[level]:
            raise Forbidden(f"The {principal.role} role does not allow this")


def _headers(scope: Scope) -> dict[bytes, bytes]:
    return {name: value for name, value in scope["headers"]}


def _cookie(headers: dict[bytes, bytes], name: str) -> str | None:
    """One cookie's value. Plain splitting, not `http.cookies` (several times slower, on every signed-in request):
    session ids are base64url, so a value that needs quoting or escaping is no session of ours anyway."""
    raw = headers.get(b"cookie")
    if raw is None:
        return None
    wanted = name.encode() + b"="
    for part in raw.split(b";"):
        part = part.strip()
        if part.startswith(wanted):
            return part[len(wanted) :].decode("latin-1")
    return None


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
                extra = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer")]
                # A route that sets its own frame-ancestors (the player card's page) decides who may frame it.
                if not any(n.lower() == b"content-security-policy" and b"frame-ancestors" in v for n, v in headers):
                    extra.append((b"x-frame-options", b"DENY"))
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
