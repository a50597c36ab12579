"""Operations: probes at the root, JSON 404s under /api, /metrics, request ids and JSON log lines."""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from litestar.testing import AsyncTestClient

from reactbin.logs import REQUEST_ID, configure_logging
from tests.conftest import AppFactory, S3Server, upload
from tests.support.live import Server, run_server


async def test_probes_at_the_root_answer_like_the_api_ones(client: AsyncTestClient[Any]) -> None:
    for path in ("/healthz", "/api/v1/health"):
        response = await client.get(path)
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}
    for path in ("/readyz", "/api/v1/ready"):
        response = await client.get(path)
        assert response.status_code == 200
        assert response.json() == {"status": "ready", "database": "ok", "storage": "ok"}
    # The catch-all for unknown API paths leaves the schema and its viewer alone.
    assert (await client.get("/api/docs/openapi.json")).json()["paths"]["/healthz"]
    assert (await client.get("/api/docs")).status_code == 200


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/nope"),
        ("GET", "/api/v1/nope"),
        ("GET", "/api/v2/images"),
        ("POST", "/api/v1/nope"),
        ("DELETE", "/api/whatever/deep/path"),
        ("PUT", "/api/v1/"),
        ("HEAD", "/api/v1/nope"),
    ],
)
async def test_unknown_api_paths_are_json_404s(client: AsyncTestClient[Any], method: str, path: str) -> None:
    response = await client.request(method, path)

    assert response.status_code == 404
    assert "text/html" not in response.headers.get("content-type", "")
    if method != "HEAD":
        assert response.json()["code"] == "not_found"
        assert set(response.json()) == {"detail", "code"}


async def test_operational_paths_are_never_the_page(make_client: AppFactory, tmp_path: Path) -> None:
    ui = tmp_path / "ui"
    ui.mkdir()
    (ui / "index.html").write_text("<!doctype html><title>the page</title>")
    async with make_client(ui_dir=ui, metrics=False) as client:
        assert "the page" in (await client.get("/some/deep/link")).text  # the SPA still has its deep links
        for path in ("/metrics", "/metrics/", "/api", "/api/"):
            response = await client.get(path)
            assert response.status_code == 404, path
            assert response.json()["code"] == "not_found"
        assert (await client.get("/healthz")).json() == {"status": "ok"}


def _samples(text: str, name: str) -> dict[str, float]:
    """`{labels: value}` of one metric in Prometheus text."""
    found = {}
    for line in text.splitlines():
        match = re.match(rf"^{name}(\{{.*\}})? (\S+)$", line)
        if match:
            found[match[1] or ""] = float(match[2])
    return found


async def test_metrics_count_requests_by_route_template_uploads_and_proxy_bytes(
    client: AsyncTestClient[Any], db: asyncpg.Connection
) -> None:
    before = (await client.get("/metrics")).text
    created = (await upload(client, "photo.jpg")).json()
    await upload(client, "photo.jpg")
    await upload(client, "not-an-image.txt")
    for _ in range(2):
        await client.get(f"/api/v1/images/{created['id']}")
    served = await client.get(f"/api/v1/images/{created['id']}/file")
    await client.get("/api/v1/images/00000000-0000-0000-0000-000000000000")

    response = await client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")

    def delta(name: str, labels: str) -> float:
        return _samples(response.text, name).get(labels, 0.0) - _samples(before, name).get(labels, 0.0)

    requests = "reactbin_http_requests_total"
    by_id = 'method="GET",route="/api/v1/images/{image_id}"'
    assert delta(requests, "{" + by_id + ',status="200"}') == 2
    assert delta(requests, "{" + by_id + ',status="404"}') == 1
    assert delta(requests, '{method="POST",route="/api/v1/images",status="201"}') == 1
    assert delta("reactbin_http_request_duration_seconds_count", "{" + by_id + "}") == 3
    assert delta("reactbin_uploads_total", '{outcome="created"}') == 1
    assert delta("reactbin_uploads_total", '{outcome="duplicate"}') == 1
    assert delta("reactbin_uploads_total", '{outcome="unsupported_media_type"}') == 1
    assert delta("reactbin_proxy_bytes_sent_total", "") == len(served.content)
    lookups = "reactbin_content_cache_lookups_total"
    assert delta(lookups, '{result="hit"}') + delta(lookups, '{result="miss"}') == 1
    assert set(_samples(response.text, "reactbin_jobs")) == {
        f'{{state="{state}"}}' for state in ("PENDING", "STARTED", "SUCCESS", "FAILURE")
    }
    # The new image's OCR job waits in the queue (this app reads no text), and is counted.
    queued = await db.fetchval("SELECT count(*) FROM pgqueuer WHERE status = 'queued'")
    assert queued >= 1
    assert _samples(response.text, "reactbin_job_queue_depth") == {"": float(queued)}
    assert _samples(response.text, "reactbin_db_pool_connections")[""] >= 1
    assert "reactbin_db_pool_connections_in_use" in response.text
    # Unknown paths share one label: a scanner cannot create a series per path.
    await client.get("/api/v1/scan-me-1")
    assert "scan-me" not in (await client.get("/metrics")).text


async def test_metrics_can_be_turned_off(make_client: AppFactory) -> None:
    async with make_client(metrics=False) as client:
        assert (await client.get("/metrics")).status_code == 404


async def test_request_ids_are_honoured_or_generated(client: AsyncTestClient[Any]) -> None:
    sent = await client.get("/healthz", headers={"x-request-id": "abc-123_DEF.4"})
    assert sent.headers["x-request-id"] == "abc-123_DEF.4"
    for bad in ("x" * 129, "has space", 'quote"d', "<script>"):
        response = await client.get("/healthz", headers={"x-request-id": bad})
        assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"]), bad
    generated = {(await client.get("/api/v1/nope")).headers["x-request-id"] for _ in range(3)}
    assert len(generated) == 3


@pytest.fixture(scope="module")
def served(database_url: str, s3_server: S3Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One real `reactbin serve --workers 2` with JSON logs and access lines, shared by the tests below."""
    env = {"LOG_FORMAT": "json", "ACCESS_LOG": "true"}
    with run_server(
        database_url, s3_server, None, tmp_path_factory.mktemp("ops"), args=("--workers", "2"), extra_env=env
    ) as server:
        yield server


def test_json_logs_carry_the_request_id_on_every_line(served: Server) -> None:
    """LOG_FORMAT=json: one JSON object per line, from every worker process; access lines carry id, route, status."""
    httpx.get(f"{served.url}/readyz", headers={"x-request-id": "probe-1"})
    httpx.post(f"{served.api}/images", files={"file": ("x.txt", b"not an image")}, headers={"x-request-id": "up-2"})
    time.sleep(0.2)  # the access line is written as the response ends
    lines = [json.loads(line) for line in served.log.read_text().splitlines() if line.strip()]  # every line is JSON
    assert all({"time", "level", "logger", "message", "request_id"} <= set(line) for line in lines)
    access = {line["request_id"]: line for line in lines if line["logger"] == "reactbin.access"}
    assert access["probe-1"]["route"] == "/readyz"
    assert access["probe-1"]["status"] == 200
    assert access["probe-1"]["duration_ms"] >= 0
    assert access["up-2"]["status"] == 415
    assert access["up-2"]["route"] == "/api/v1/images"
    assert sum("Started server process" in line["message"] for line in lines) >= 2  # uvicorn's lines too


def test_metrics_add_up_across_worker_processes(served: Server) -> None:
    """`reactbin serve --workers 2` sets up prometheus-client's multiprocess mode itself: any worker's scrape counts
    the requests every worker answered."""
    with httpx.Client(base_url=served.url) as http:
        for _ in range(30):
            # A new connection each time, so both workers get some of them.
            assert http.get("/healthz", headers={"connection": "close"}).status_code == 200
        totals = set()
        for _ in range(6):
            text = http.get("/metrics", headers={"connection": "close"}).text
            totals.add(_samples(text, "reactbin_http_requests_total")['{method="GET",route="/healthz",status="200"}'])
    workers = {
        line["message"] for line in map(json.loads, served.log.read_text().splitlines()) if "Started" in line["message"]
    }
    assert totals == {30.0}, served.log_tail()
    assert len(workers) >= 2  # two processes really answered (each logs its own pid)


def test_a_worker_that_died_leaves_the_live_gauges(served: Server) -> None:
    """uvicorn replaces a killed worker; its pool gauges (summed over live processes) stop counting it, while the
    counters keep what it counted (prometheus-client's `mark_process_dead`, called by our uvicorn supervisor)."""

    def gauge_pids() -> set[int]:
        files = served.spool.glob("reactbin*/*/metrics/gauge_livesum_*.db")
        return {int(path.stem.rsplit("_", 1)[1]) for path in files}

    def wait_for_gauges(wanted: Any, what: str) -> set[int]:
        deadline = time.monotonic() + 20
        while not wanted(pids := gauge_pids()):
            assert time.monotonic() < deadline, f"{what}: {pids}\n{served.log_tail()}"
            time.sleep(0.05)
        return pids

    workers = wait_for_gauges(lambda pids: len(pids) == 2, "two workers with gauges")
    victim = min(workers)
    os.kill(victim, signal.SIGKILL)
    after = wait_for_gauges(lambda pids: victim not in pids and len(pids) == 2, "a replacement")
    scrape = httpx.get(f"{served.url}/metrics")

    assert after - workers != set()  # a new worker took the victim's place
    assert scrape.status_code == 200
    assert "reactbin_db_pool_connections " in scrape.text
    assert served.spool.glob(f"reactbin*/*/metrics/counter_{victim}.db")


def test_json_log_lines_carry_the_exception_with_its_traceback() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.getLogger("reactbin.test").makeRecord(
            "reactbin.test", logging.ERROR, __file__, 1, "failed %s", ("here",), sys.exc_info()
        )
    token = REQUEST_ID.set("req-9")
    try:
        line = json.loads(_formatted(record))
    finally:
        REQUEST_ID.reset(token)

    assert line["message"] == "failed here"
    assert line["level"] == "ERROR"
    assert line["request_id"] == "req-9"
    assert "Traceback" in line["exception"]
    assert "ValueError: boom" in line["exception"]


def _formatted(record: logging.LogRecord) -> str:
    """The record as the handler `configure_logging("json")` installs writes it."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_logging("json")
        (handler,) = root.handlers
        handler.filter(record)
        return handler.format(record)
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)


async def test_answers_of_the_access_layers_are_counted_by_route_template(make_client: AppFactory) -> None:
    """401s are answered before routing; they still carry the route they were meant for."""
    async with make_client(api_tokens=("t" * 16,)) as client:
        refused = await client.delete("/api/v1/images/00000000-0000-0000-0000-000000000000")
        text = (await client.get("/metrics")).text

    assert refused.status_code == 401
    assert refused.headers["x-request-id"]
    series = _samples(text, "reactbin_http_requests_total")
    assert series['{method="DELETE",route="/api/v1/images/{image_id}",status="401"}'] >= 1
