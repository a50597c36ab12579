"""`/metrics`: Prometheus text (see `reactbin.metrics`), and the JSON 404 of unknown API paths."""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated

from litestar import Response, get, route
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import PathParameter

from reactbin import metrics as measured
from reactbin.domain.resources import Resources
from reactbin.domain.thumbnail_jobs import job_statistics
from reactbin.errors import ReactbinError

log = logging.getLogger(__name__)
_QUERY_TIMEOUT = 2.0


@get("/metrics", include_in_schema=False, cache_control=None)
async def metrics(res: NamedDependency[Resources]) -> Response[bytes]:
    """Job gauges come from PostgreSQL at scrape time (workers may run elsewhere); a database outage leaves them."""
    try:
        async with asyncio.timeout(_QUERY_TIMEOUT):
            stats = await job_statistics(res)
    except (ReactbinError, TimeoutError):
        log.warning("metrics: job statistics unavailable")
    else:
        for state, count in stats.by_state.items():
            measured.JOBS.labels(state).set(count)
        measured.QUEUE_DEPTH.set(stats.queue_depth)
    return Response(
        await asyncio.to_thread(measured.exposition),
        media_type=measured.CONTENT_TYPE,
        headers={"cache-control": "no-store"},
    )


@route(
    "/api/{path:path}",
    http_method=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
    include_in_schema=False,
    sync_to_thread=False,
)
def unknown_api_path(path: Annotated[str, PathParameter()]) -> None:
    """Any path under /api/ that no route matches: a JSON 404, never the single-page UI."""
    raise NotFoundException("No such API route")
