"""Per-request telemetry (ASGI middleware): the request id, the access line, and the HTTP metrics."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from typing import Any

from litestar import Litestar
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
        self._series: dict[tuple[str, str, int], tuple[Any, Any]] = {}

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
                counted = self._series.get((route, method, status))
                if counted is None:
                    # prometheus-client's labels() takes a lock and checks its arguments; the set of series is
                    # small (route templates x methods x statuses), so each is looked up once.
                    counted = (
                        metrics.REQUESTS.labels(route, method, str(status)),
                        metrics.REQUEST_SECONDS.labels(route, method),
                    )
                    self._series[(route, method, status)] = counted
                counted[0].inc()
                counted[1].observe(elapsed)
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


_TYPED_PARAMETER = re.compile(r"\{(\w+):\w+\}")


def plain_template(path: str) -> str:
    """A route path as requests name it: routes are declared as /x/{id:str}, templates read /x/{id}."""
    return _TYPED_PARAMETER.sub(r"{\1}", path)


class RouteLabels:
    """The route template of a request, for metrics: also for answers given before routing (401, 429)."""

    def __init__(self, app: Litestar) -> None:
        self._app = app
        self._labels: dict[str, str] = {}

    def __call__(self, scope: Any) -> str:
        template: str | None = scope.get("path_template")
        if template is None:
            try:
                template = self._app.asgi_router.handle_routing(path=scope["path"], method=scope["method"])[4]
            except Exception:  # no route: one label for every unknown path, so scanners cannot grow the series
                return "unmatched"
        label = self._labels.get(template)
        if label is None:
            label = self._labels[template] = plain_template(template)
        return label


class PoolGauges:
    """Refreshes the database pool gauges after requests, at most a few times a second: the gauges only need to be
    fresh for the next scrape."""

    def __init__(self, app: Litestar, interval: float = 0.25) -> None:
        self._app = app
        self._interval = interval
        self._seen = 0.0

    def __call__(self) -> None:
        now = time.monotonic()
        resources = getattr(self._app.state, "resources", None)
        if resources is not None and now - self._seen >= self._interval:
            self._seen = now
            size = resources.pool.get_size()
            metrics.DB_POOL_SIZE.set(size)
            metrics.DB_POOL_IN_USE.set(size - resources.pool.get_idle_size())
