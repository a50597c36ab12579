"""Liveness and readiness: under /api/v1 and, for Kubernetes probes, as /healthz and /readyz at the root."""

from __future__ import annotations

import asyncio
import logging

from litestar import Response, get
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec

from reactbin.domain.resources import Resources
from reactbin.errors import ReactbinError
from reactbin.routes.access import access
from reactbin.routes.schemas import Health, NotReady, Readiness

log = logging.getLogger(__name__)
_CHECK_TIMEOUT = 3.0


@get("/health", summary="The process is up", sync_to_thread=False, opt=access("public"))
def health() -> Health:
    return Health(status="ok")


@get(
    "/ready",
    opt=access("public"),
    summary="The database and the object store answer",
    responses={503: ResponseSpec(data_container=NotReady, description="A dependency is down", generate_examples=False)},
)
async def ready(res: NamedDependency[Resources]) -> Response[Readiness | NotReady]:
    return await _readiness(res)


@get("/healthz", summary="The process is up (liveness probe)", sync_to_thread=False, opt=access("public"))
def healthz() -> Health:
    return Health(status="ok")


@get(
    "/readyz",
    opt=access("public"),
    summary="The database and the object store answer (readiness probe)",
    responses={503: ResponseSpec(data_container=NotReady, description="A dependency is down", generate_examples=False)},
)
async def readyz(res: NamedDependency[Resources]) -> Response[Readiness | NotReady]:
    return await _readiness(res)


async def _readiness(res: Resources) -> Response[Readiness | NotReady]:
    database, storage = await asyncio.gather(_check_database(res), _check_storage(res))
    if database == "ok" and storage == "ok":
        return Response(Readiness(status="ready", database=database, storage=storage))
    down = " and ".join(name for name, state in (("database", database), ("storage", storage)) if state != "ok")
    body = NotReady(detail=f"Not ready: {down} unavailable", code="not_ready", database=database, storage=storage)
    return Response(body, status_code=503)


async def _check_database(res: NamedDependency[Resources]) -> str:
    try:
        async with asyncio.timeout(_CHECK_TIMEOUT), res.db() as conn:
            await conn.fetchval("SELECT 1")
    except (ReactbinError, TimeoutError):
        return "unavailable"
    return "ok"


async def _check_storage(res: NamedDependency[Resources]) -> str:
    try:
        async with asyncio.timeout(_CHECK_TIMEOUT):
            await res.storage.check()
    except (ReactbinError, TimeoutError):
        return "unavailable"
    return "ok"
