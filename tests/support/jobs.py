"""Helpers shared by the thumbnail job tests: submit, wait, look at rows, run workers in and out of process."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import msgspec
from litestar.testing import AsyncTestClient
from PIL import Image

from reactbin.db.migrations import migrate
from reactbin.domain.resources import Resources, open_resources
from reactbin.embedded import EmbeddedPostgres
from reactbin.settings import Settings
from tests.conftest import fixture_bytes, settings_of

# Workers that notice a dead peer in ~2-3 s and retry after 0.2 s, so the suite stays fast.
FAST_JOBS: dict[str, Any] = {"job_poll_interval": 0.5, "job_heartbeat_timeout": 2.0, "job_retry_delay": 0.2}
FINISHED = frozenset({"SUCCESS", "FAILURE"})


async def own_database(postgres: EmbeddedPostgres | None, name: str) -> str:
    """A migrated database for one test module's jobs.

    Every `reactbin serve` runs a job worker by default, and the e2e tests keep one running on the shared test
    database for the whole session: on that database it would take these tests' jobs. With an external
    `DATABASE_URL` there is no server to create databases on, so the shared one is used.
    """
    if postgres is None:
        return os.environ["DATABASE_URL"]
    url = postgres.create_database(name)
    conn = await asyncpg.connect(url)
    try:
        await migrate(conn)
    finally:
        await conn.close()
    return url


async def submit(
    client: AsyncTestClient[Any], name: str = "photo.jpg", data: bytes | None = None, **fields: object
) -> Any:
    files = {"image": (name, fixture_bytes(name) if data is None else data, "application/octet-stream")}
    form = {key: str(value) for key, value in fields.items()} or None
    return await client.post("/api/v1/thumbnails/", files=files, data=form)


async def submit_ok(client: AsyncTestClient[Any], name: str = "photo.jpg", **fields: object) -> str:
    response = await submit(client, name, **fields)
    assert response.status_code == 202, response.text
    job_id: str = response.json()["job_id"]
    return job_id


async def wait_for_job(
    client: AsyncTestClient[Any], job_id: str, statuses: frozenset[str] = FINISHED, timeout: float = 15.0
) -> dict[str, Any]:
    """Poll the API until the job reaches one of `statuses`."""
    deadline = time.monotonic() + timeout
    while True:
        response = await client.get(f"/api/v1/jobs/{job_id}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        if body["status"] in statuses:
            return body
        assert time.monotonic() < deadline, f"job {job_id} still {body['status']} after {timeout} s"
        await asyncio.sleep(0.05)


async def wait_for_row(db: asyncpg.Connection, job_id: str, condition: str, timeout: float = 15.0) -> asyncpg.Record:
    """Poll `thumbnail_jobs` until the job's row satisfies the SQL `condition`."""
    deadline = time.monotonic() + timeout
    while True:
        row = await db.fetchrow(f"SELECT * FROM thumbnail_jobs WHERE id = $1 AND ({condition})", job_id)  # noqa: S608
        if row is not None:
            return row
        assert time.monotonic() < deadline, f"job {job_id}: {condition} not reached after {timeout} s"
        await asyncio.sleep(0.05)


async def job_row(db: asyncpg.Connection, job_id: str) -> asyncpg.Record | None:
    return await db.fetchrow("SELECT * FROM thumbnail_jobs WHERE id = $1", job_id)


@contextlib.asynccontextmanager
async def resources_of(client: AsyncTestClient[Any], **overrides: Any) -> AsyncIterator[Resources]:
    """The app's pool and store opened again on the test's event loop (the app runs on its own)."""
    settings = msgspec.structs.replace(settings_of(client), **overrides)
    async with open_resources(settings) as res:
        yield res


def worker_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment a `reactbin worker` process needs to reach the app's database and bucket."""
    assert settings.s3 is not None
    assert settings.database_url is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith(("S3_", "JOB_", "WORKER_", "RUN_"))}
    env.update(
        DATABASE_URL=settings.database_url,
        STORAGE_BACKEND="s3",
        S3_BUCKET_NAME=settings.s3.bucket,
        S3_ENDPOINT_URL=settings.s3.endpoint_url or "",
        S3_ACCESS_KEY_ID=settings.s3.access_key_id or "",
        S3_SECRET_ACCESS_KEY=settings.s3.secret_access_key or "",
        JOB_HEARTBEAT_TIMEOUT="2",
        JOB_POLL_INTERVAL="0.5",
        JOB_RETRY_DELAY="0.2",
        **extra,
    )
    return env


class WorkerProcess:
    """A real `reactbin worker` process whose log goes to a file."""

    def __init__(self, env: dict[str, str], log_path: Path, concurrency: int = 1) -> None:
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            [str(Path(sys.executable).parent / "reactbin"), "worker", "--concurrency", str(concurrency)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    async def ready(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while "ready (concurrency" not in self.log():
            assert self.process.poll() is None, f"worker exited early:\n{self.log()}"
            assert time.monotonic() < deadline, f"worker not ready after {timeout} s:\n{self.log()}"
            await asyncio.sleep(0.05)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def terminate(self, timeout: float = 20.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def close(self) -> None:
        self.kill()
        self._log.close()


@contextlib.contextmanager
def worker_processes(
    count: int, env: dict[str, str], log_dir: Path, concurrency: int = 1
) -> Iterator[list[WorkerProcess]]:
    workers = [WorkerProcess(env, log_dir / f"worker-{i}.log", concurrency) for i in range(count)]
    try:
        yield workers
    finally:
        for worker in workers:
            worker.close()


def jpeg(width: int, height: int, seed: int = 0, quality: int = 90) -> bytes:
    """A JPEG with real detail (a gradient and noise), so it compresses and decodes like a photo."""
    gradient = Image.linear_gradient("L").resize((width, height))
    noise = Image.effect_noise((width, height), 40 + seed % 20)
    image = Image.merge("RGB", (gradient, noise, gradient.transpose(Image.Transpose.FLIP_LEFT_RIGHT)))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()
