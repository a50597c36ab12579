"""The Litestar application: routes, error mapping, and the lifespan that owns every long-lived resource."""

from __future__ import annotations

import contextlib
import gc
import logging
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from litestar import Litestar, MediaType, Request, Response, Router
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import Schema

from reactbin import metrics as measured
from reactbin.domain.ratelimit import MemoryRateLimiter, PostgresRateLimiter, RateLimiter
from reactbin.domain.resources import Resources, open_resources
from reactbin.errors import ClientGone, RateLimited, ReactbinError
from reactbin.media.ocr import CaptionReader
from reactbin.routes import files, forms, health, images, integrations, jobs, metrics, share, tagrules, tags
from reactbin.routes.access import AccurateAllow, SecurityHeaders, UploadRateLimit, WriteAccess, document_access
from reactbin.routes.schemas import ImageUpdate
from reactbin.routes.telemetry import RequestTelemetry
from reactbin.routes.ui import ui_handlers
from reactbin.settings import RateLimit, Settings
from reactbin.worker import periodic_maintenance, running_worker

log = logging.getLogger(__name__)

_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "request_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


def _error(detail: str, code: str, status: int, headers: dict[str, str] | None = None) -> Response[Any]:
    return Response({"detail": detail, "code": code}, status_code=status, media_type=MediaType.JSON, headers=headers)


def _domain_error(request: Request[Any, Any, Any], exc: ReactbinError) -> Response[Any]:
    if isinstance(exc, ClientGone):
        log.info("client left during %s %s", request.method, request.url.path)
    headers = {"retry-after": str(exc.retry_after)} if isinstance(exc, RateLimited) else None
    return _error(exc.detail, exc.code, exc.status_code, headers=headers)


def _http_error(_: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    if isinstance(exc, ValidationException):
        problems = exc.extra if isinstance(exc.extra, list) else []
        parts = [
            f"{item.get('key')}: {item.get('message')}" if item.get("key") else str(item.get("message"))
            for item in problems
            if isinstance(item, dict)
        ]
        detail = "Invalid request" + (f" ({'; '.join(parts)})" if parts else "")
        return _error(detail, "validation_error", 400)
    status = exc.status_code
    if status >= 500:
        return _internal_error(_, exc)
    code = _STATUS_CODES.get(status, "client_error")
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail else code.replace("_", " ").capitalize()
    return _error(detail, code, status, headers=exc.headers)


def _internal_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return _error("Internal server error", "internal_error", 500)


def create_app(settings: Settings, *, caption_reader: CaptionReader | None = None) -> Litestar:
    """Build the application for `settings`; resources open when it starts and close when it stops.

    `caption_reader` lets the in-process worker share an OCR process (and its loaded model) with others.
    """

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            resources = await stack.enter_async_context(open_resources(settings))
            app.state.resources = resources
            app.state.rate_limiter = _rate_limiter(settings.upload_rate_limit, settings, resources)
            app.state.use_limiter = _rate_limiter(settings.use_rate_limit, settings, resources)
            if settings.run_worker:
                # The one-process set-up (`reactbin dev`) runs its jobs here; it stops before the pool closes.
                await stack.enter_async_context(
                    running_worker(resources, concurrency=settings.worker_concurrency, reader=caption_reader)
                )
            else:
                await stack.enter_async_context(periodic_maintenance(resources))
            # Everything built so far (the app, botocore's models: ~135k objects) lives until shutdown. Moving it
            # out of the collector's reach took full collections from 50-60 ms pauses under load to almost none
            # (list p99 69 -> 46 ms in bench/).
            gc.collect()
            gc.freeze()
            yield

    def provide_resources(state: State) -> Resources:
        resources: Resources = state.resources
        return resources

    api_handlers = document_access(
        "/api/v1",
        [
            images.upload_image,
            images.list_images,
            images.get_image,
            images.delete_image,
            images.replace_tags,
            images.update_image,
            share.image_by_hash,
            share.limits,
            share.sharex_config,
            share.oembed,
            files.image_file,
            files.image_thumbnail,
            files.image_preview,
            jobs.submit_thumbnail,
            jobs.list_jobs,
            jobs.get_job,
            jobs.get_job_thumbnail,
            jobs.job_thumbnail_file,
            images.record_use,
            tags.suggest_tags,
            tagrules.list_aliases,
            tagrules.create_alias,
            tagrules.delete_alias,
            tagrules.list_implications,
            tagrules.create_implication,
            tagrules.delete_implication,
            health.health,
            health.ready,
            integrations.discord_interaction,
            integrations.slack_command,
            integrations.slack_interaction,
        ],
    )
    api = Router("/api/v1", route_handlers=api_handlers)
    operations: list[Any] = [health.healthz, health.readyz, metrics.unknown_api_path]
    if settings.metrics:
        operations.append(metrics.metrics)
    ui_dir = settings.ui_dir if settings.ui_dir is not None else _default_ui_dir()
    app = Litestar(
        route_handlers=[api, *operations, share.share_page, share.share_page_without_id, *ui_handlers(ui_dir)],
        lifespan=[lifespan],
        dependencies={"res": Provide(provide_resources, sync_to_thread=False)},
        exception_handlers={
            ReactbinError: _domain_error,
            HTTPException: _http_error,
            Exception: _internal_error,
        },
        request_max_body_size=settings.max_upload_bytes + forms.FORM_OVERHEAD,
        openapi_config=OpenAPIConfig(
            title="reactbin",
            version="1.0.0",
            description="A self-hosted library of reaction images with a CDN-aware API.",
            path="/api/docs",
            render_plugins=[SwaggerRenderPlugin()],
        ),
        logging_config=None,
    )
    _close_request_schemas(app)
    # Outermost, so that 404s of unknown paths, 401s and 429s carry the same headers as everything else.
    methods_by_path: dict[str, set[str]] = {}

    def route_methods() -> dict[str, set[str]]:
        if not methods_by_path:
            # Routes are declared as /x/{id:str}; requests carry the template without the type, /x/{id}.
            for route in app.routes:
                if hasattr(route, "methods"):
                    methods_by_path[re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)] = set(route.methods)
        return methods_by_path

    labels: dict[str, str] = {}

    def route_of(scope: Any) -> str:
        """The route template of a request, also for answers given before routing (401, 429)."""
        template: str | None = scope.get("path_template")
        if template is None:
            try:
                template = app.asgi_router.handle_routing(path=scope["path"], method=scope["method"])[4]
            except Exception:  # no route: one label for every unknown path, so scanners cannot grow the series
                return "unmatched"
        label = labels.get(template)
        if label is None:
            label = labels[template] = re.sub(r"\{(\w+):\w+\}", r"{\1}", template)
        return label

    pool_seen = [0.0]

    def observe_pool() -> None:
        # At most a few times a second: the gauges only need to be fresh for the next scrape.
        now = time.monotonic()
        resources: Resources | None = getattr(app.state, "resources", None)
        if resources is not None and now - pool_seen[0] >= 0.25:
            pool_seen[0] = now
            size = resources.pool.get_size()
            measured.DB_POOL_SIZE.set(size)
            measured.DB_POOL_IN_USE.set(size - resources.pool.get_idle_size())

    app.asgi_handler = RequestTelemetry(
        SecurityHeaders(
            WriteAccess(
                UploadRateLimit(
                    AccurateAllow(app.asgi_handler, route_methods), lambda: getattr(app.state, "rate_limiter", None)
                ),
                settings.api_tokens,
            ),
            settings.public_base_url,
        ),
        route_of,
        with_metrics=settings.metrics,
        with_access_log=settings.access_log,
        after_request=observe_pool,
    )
    return app


_CLOSED_BODIES = (ImageUpdate,)
"""Request bodies decoded with `forbid_unknown_fields`: their schema must say so, or clients (and schemathesis)
may send extra properties the API then refuses."""


def _close_request_schemas(app: Litestar) -> None:
    """Litestar's schema of a msgspec Struct leaves out `forbid_unknown_fields`; add `additionalProperties: false`."""
    schemas = app.openapi_schema.components.schemas or {}
    for struct in _CLOSED_BODIES:
        schema = schemas.get(struct.__name__)
        if isinstance(schema, Schema):
            schema.additional_properties = False


def _rate_limiter(rule: RateLimit | None, settings: Settings, resources: Resources) -> RateLimiter | None:
    if rule is None:
        return None
    if settings.rate_limit_store == "postgres":
        return PostgresRateLimiter(rule, resources.pool)
    return MemoryRateLimiter(rule)


def _default_ui_dir() -> Path | None:
    """The built UI inside the installed package (a wheel), else next to the source tree (an editable install)."""
    for candidate in (Path(__file__).resolve().parent / "ui_dist", Path(__file__).resolve().parents[2] / "ui" / "dist"):
        if (candidate / "index.html").is_file():
            return candidate
    return None
