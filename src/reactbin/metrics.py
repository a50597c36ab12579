"""Prometheus metrics: what is measured, and the text a scrape gets.

prometheus-client keeps its metrics in one registry per process. With several uvicorn workers, `reactbin serve`
sets `PROMETHEUS_MULTIPROC_DIR` before anything imports this module, so every worker writes its values to files
there and a scrape of any worker reads all of them (prometheus-client's multiprocess mode).
"""

from __future__ import annotations

import os

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, multiprocess
from prometheus_client import generate_latest as _generate_latest

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# The classic text format every Prometheus reads (the web framework adds `; charset=utf-8`).
CONTENT_TYPE = "text/plain; version=0.0.4"

REQUESTS = Counter(
    "reactbin_http_requests_total", "HTTP requests answered, by route template", ["route", "method", "status"]
)
REQUEST_SECONDS = Histogram(
    "reactbin_http_request_duration_seconds",
    "Time from request to the end of the response, by route template",
    ["route", "method"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
PROXY_BYTES = Counter("reactbin_proxy_bytes_sent_total", "Stored bytes sent by the proxy routes")
CACHE_LOOKUPS = Counter(
    "reactbin_content_cache_lookups_total", "Small-object cache lookups of the proxy, hit or miss", ["result"]
)
UPLOADS = Counter(
    "reactbin_uploads_total", "Image uploads by outcome (created, duplicate, or the error code)", ["outcome"]
)
# Recorded by the process that ran the job: `serve` with its in-process worker (a `reactbin worker` has no /metrics).
OCR_SECONDS = Histogram(
    "reactbin_ocr_seconds",
    "Time of one OCR read (an image's sampled frames), by outcome: text, none, unreadable, timeout, crashed",
    ["outcome"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)
PREVIEW_SECONDS = Histogram(
    "reactbin_preview_seconds",
    "Time to make one preview (decode and encode), by outcome: made or failed",
    ["outcome"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)
# Read from PostgreSQL at scrape time; every process would report the same value, so the newest one counts.
JOBS = Gauge("reactbin_jobs", "Thumbnail jobs by state", ["state"], multiprocess_mode="mostrecent")
QUEUE_DEPTH = Gauge("reactbin_job_queue_depth", "Queue entries waiting for a worker", multiprocess_mode="mostrecent")
DB_POOL_IN_USE = Gauge(
    "reactbin_db_pool_connections_in_use", "Database connections checked out of the pool", multiprocess_mode="livesum"
)
DB_POOL_SIZE = Gauge(
    "reactbin_db_pool_connections", "Database connections open in the pool", multiprocess_mode="livesum"
)


def exposition() -> bytes:
    """The Prometheus text of this process, or of every worker process in multiprocess mode."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return _generate_latest(registry)
    return _generate_latest(REGISTRY)
