"""Per-request telemetry (ASGI middleware): the request id, the access line, and the HTTP metrics."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from reactbin import metrics
from reactbin.logs import REQUEST_ID, request_id_from

access_log = logging.getLogger("reactbin.access")
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class RequestTelemetry:
    """Outermost layer: every answer, the 401s and 429s of the access layers included, is counted and logged.

    `X-Request-ID` is taken from the request when it is safe (at most 128 characters of `A-Za-z0-9._:@/+=-`) or
    generated, returned on the response, and set for every log line written while the request runs. Metrics are
    labelled by route template (`/api/v1/images/{image_id}`), never by raw path, so new routes need nothing.
    """

    def __init__(
        self,
        app: ASGIApp,
        route_of: Callable[[Scope], str],
        *,
        with_metrics: bool,
        with_access_log: bool,
        after_request: Callable[[], None] | None = None,
    ) -> None:
        self._app = app
        self._route_of = route_of
        self._metrics = with_metrics
        self._access_log = with_access_log
        self._after_request = after_request

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self._app(scope, receive, send)
            return
        sent = dict(scope["headers"]).get(b"x-request-id")
        request_id = request_id_from(sent)
        token = REQUEST_ID.set(request_id)
        started = time.perf_counter()
        status = 500  # a failure before the response started is answered with a 500 by the server

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self._app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            method = scope["method"] if scope["method"] in _METHODS else "OTHER"
            route = self._route_of(scope)
            if self._metrics:
                metrics.REQUESTS.labels(route, method, str(status)).inc()
                metrics.REQUEST_SECONDS.labels(route, method).observe(elapsed)
                if self._after_request is not None:
                    self._after_request()
            if self._access_log:
                access_log.info(
                    "%s %s %d %.1f ms",
                    method,
                    scope["path"],
                    status,
                    elapsed * 1000,
                    extra={
                        "method": method,
                        "path": scope["path"],
                        "route": route,
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 2),
                    },
                )
            REQUEST_ID.reset(token)
