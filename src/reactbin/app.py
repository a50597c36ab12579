"""`create_app(settings)`: the Litestar application wired together — routes, error handlers, middleware, lifespan.

Nothing is decided here: routes are listed in `routes.api`, errors mapped in `routes.errors`, access rules and
headers in `routes.access`, telemetry in `routes.telemetry`; the lifespan opens `domain.resources`.
"""

from __future__ import annotations

import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from litestar.middleware import DefineMiddleware

from reactbin.domain import accounts
from reactbin.domain.oidc import OidcClient
from reactbin.domain.principals import Authenticator
from reactbin.domain.principals import listening as following_accounts
from reactbin.domain.ratelimit import MemoryRateLimiter, PostgresRateLimiter, RateLimiter
from reactbin.domain.resources import Resources, open_resources
from reactbin.errors import DatabaseUnavailable
from reactbin.media.ocr import CaptionReader
from reactbin.routes.access import AccessControl, AccurateAllow, SecurityHeaders, UploadRateLimit
from reactbin.routes.api import OPENAPI, close_request_schemas, route_handlers
from reactbin.routes.compression import Compression
from reactbin.routes.errors import EXCEPTION_HANDLERS
from reactbin.routes.multipart import FORM_OVERHEAD
from reactbin.routes.telemetry import PoolGauges, RequestTelemetry, RouteLabels
from reactbin.settings import RateLimit, Settings
from reactbin.worker import periodic_maintenance, running_worker

log = logging.getLogger(__name__)


def create_app(settings: Settings, *, caption_reader: CaptionReader | None = None, freeze_gc: bool = False) -> Litestar:
    """Build the application for `settings`; resources open when it starts and close when it stops.

    `caption_reader` lets the in-process worker share an OCR process (and its loaded model) with others.
    `freeze_gc` is for the real server (`reactbin serve`/`dev`): everything built at start-up (the app, botocore's
    models: ~135k objects) lives until shutdown, and moving it out of the collector's reach took full collections
    from 50-60 ms pauses under load to almost none (list p99 69 -> 46 ms in bench/). Test apps skip it.
    """

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            resources = await stack.enter_async_context(open_resources(settings))
            app.state.resources = resources
            app.state.rate_limiter = _rate_limiter(settings.upload_rate_limit, settings, resources)
            app.state.use_limiter = _rate_limiter(settings.use_rate_limit, settings, resources)
            authenticator = Authenticator(resources.pool, settings)
            if settings.database_url:
                await stack.enter_async_context(
                    following_accounts(authenticator, settings.database_url, settings.db_connect_timeout)
                )
            app.state.authenticator = authenticator
            app.state.oidc = OidcClient(settings.oidc) if settings.oidc is not None else None
            await _offer_setup(resources)
            if settings.run_worker:
                # The one-process set-up (`reactbin dev`) runs its jobs here; it stops before the pool closes.
                await stack.enter_async_context(
                    running_worker(resources, concurrency=settings.worker_concurrency, reader=caption_reader)
                )
            else:
                await stack.enter_async_context(periodic_maintenance(resources))
            if freeze_gc:
                gc.collect()
                gc.freeze()
            yield

    def provide_resources(state: State) -> Resources:
        resources: Resources = state.resources
        return resources

    started: list[Litestar] = []
    app = Litestar(
        route_handlers=route_handlers(settings, settings.ui_dir if settings.ui_dir is not None else _default_ui_dir()),
        lifespan=[lifespan],
        # After routing, so each handler's `access` is known (routes/access.py).
        middleware=[
            DefineMiddleware(
                AccessControl,
                authenticator=lambda: getattr(started[0].state, "authenticator", None) if started else None,
                public_read=settings.public_read,
                public_url=settings.public_url,
            )
        ],
        dependencies={"res": Provide(provide_resources, sync_to_thread=False)},
        exception_handlers=EXCEPTION_HANDLERS,
        request_max_body_size=settings.max_upload_bytes + FORM_OVERHEAD,
        openapi_config=OPENAPI,
        logging_config=None,
    )
    started.append(app)
    close_request_schemas(app)
    # Telemetry wraps the rest, so that 404s of unknown paths, 401s and 429s carry the same headers as everything else;
    # compression wraps it all, so every answer with a text body can be compressed (its time is inside telemetry's).
    app.asgi_handler = RequestTelemetry(
        SecurityHeaders(
            UploadRateLimit(AccurateAllow(app.asgi_handler, app), lambda: getattr(app.state, "rate_limiter", None)),
            settings.public_base_url,
        ),
        RouteLabels(app),
        with_metrics=settings.metrics,
        with_access_log=settings.access_log,
        after_request=PoolGauges(app),
    )
    app.asgi_handler = Compression(app.asgi_handler)
    return app


async def _offer_setup(resources: Resources) -> None:
    """With no admin yet, log the one-time URL of the setup screen (each serving process logs its own code)."""
    try:
        code = await accounts.offer_setup(resources)
    except DatabaseUnavailable:
        log.warning("the database is unavailable: no setup code was made; restart once it is up")
        return
    if code is not None:
        origin = resources.settings.public_url or ""
        log.warning(
            "This library has no admin yet. Create one at %s/setup?code=%s (a one-time code: it stops working once "
            "an admin exists), or run `reactbin users create NAME --role admin`.",
            origin,
            code,
        )


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
