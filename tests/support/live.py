"""`reactbin serve` as a real subprocess on a free loopback port, for tests that need real HTTP connections."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.conftest import S3Server
from tests.support.database import truncate

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# Variables `reactbin serve` reads; none may leak into the subprocess from the developer's shell.
_SERVICE_VARS = (
    "DATABASE_URL",
    "STORAGE_",
    "S3_",
    "DB_",
    "MAX_UPLOAD_BYTES",
    "MAX_IMAGE_PIXELS",
    "CACHE_BYTES",
    "RUN_WORKER",
    "RUN_OCR",
    "OCR_",
    "WORKER_",
    "JOB_",
    "API_TOKENS",
    "RATE_LIMIT_",
    "SHUTDOWN_GRACE_SECONDS",
    "ACCESS_LOG",
    "LOG_FORMAT",
    "METRICS",
    "PROMETHEUS_MULTIPROC_DIR",
    "UI_DIR",
    "PUBLIC_URL",
    "PUBLIC_READ",
    "SESSION_TTL",
    "OIDC_",
    "AUTH_CACHE",
    "DISCORD_",
    "SLACK_",
)


@dataclass
class Server:
    url: str
    port: int
    bucket: str
    database_url: str
    process: subprocess.Popen[bytes]
    log: Path
    spool: Path
    """The server's TMPDIR: each of its processes keeps its temp files in its own directory under `reactbin/`."""

    @property
    def api(self) -> str:
        return f"{self.url}/api/v1"

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def spooled(self) -> list[str]:
        """The upload spools of every process of the server."""
        return sorted(path.name for path in self.spool.glob("reactbin*/*/reactbin-upload-*"))

    def process_dirs(self) -> list[str]:
        """The per-process temp directories under the server's TMPDIR (`<pid>-<start time>`)."""
        return sorted(path.name for path in self.spool.glob("reactbin*/*") if path.is_dir())

    async def reset(self) -> None:
        """An empty library (the database is shared with the rest of the suite)."""
        conn = await asyncpg.connect(self.database_url)
        try:
            await truncate(conn, "images", "tag_aliases", "tag_implications", "users", "setup_codes")
            # The server caches who may sign in and whether the library is open; a TRUNCATE notifies nobody.
            await conn.execute("SELECT pg_notify('reactbin_accounts_changed', '*')")
        finally:
            await conn.close()

    async def upload_raw(self, name: str, data: bytes, tags: str = "") -> httpx.Response:
        async with httpx.AsyncClient(base_url=self.api, timeout=30) as client:
            return await client.post("/images", files={"file": (name, data)}, data={"tags": tags})

    async def upload(self, name: str, data: bytes, tags: str = "") -> dict[str, Any]:
        response = await self.upload_raw(name, data, tags)
        assert response.status_code in (200, 201), response.text
        body: dict[str, Any] = response.json()
        return body

    async def get(self, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
        async with httpx.AsyncClient(base_url=self.api, timeout=30) as client:
            return await client.get(path, headers=headers)


@contextlib.contextmanager
def run_server(
    database_url: str,
    s3: S3Server,
    ui_dir: Path | None,
    log_dir: Path,
    *,
    bucket: str | None = None,
    endpoint_url: str | None = None,
    public_base_url: str | None = None,
    args: tuple[str, ...] = (),
    extra_env: dict[str, str] | None = None,
    reactbin: Path | None = None,
    cwd: Path = REPO,
    tmpdir: Path | None = None,
) -> Iterator[Server]:
    """`reactbin serve` on a free port with a new bucket (unless given) and its own TMPDIR (unless `tmpdir`, e.g.
    one that several servers share); always stopped.

    The tests upload far more than a person would in a minute, all from 127.0.0.1, so there is no rate limit;
    jobs are left to the job tests' own workers. `reactbin` is the command to run (default: this venv's), `cwd`
    where it runs.
    """
    port = free_port()
    bucket = bucket or s3.new_bucket()
    spool = tmpdir or log_dir / f"spool-{port}"
    spool.mkdir(exist_ok=True)
    env = {key: value for key, value in os.environ.items() if not key.startswith(_SERVICE_VARS)}
    env |= {
        "DATABASE_URL": database_url,
        "STORAGE_BACKEND": "s3",
        "S3_ENDPOINT_URL": endpoint_url or s3.endpoint_url,
        "S3_BUCKET_NAME": bucket,
        "S3_ACCESS_KEY_ID": s3.access_key,
        "S3_SECRET_ACCESS_KEY": s3.secret_key,
        "RATE_LIMIT_UPLOADS": "0",
        "RUN_WORKER": "false",
        "TMPDIR": str(spool),
        "PYTHONUNBUFFERED": "1",
        **({"UI_DIR": str(ui_dir)} if ui_dir is not None else {}),
        **({"S3_PUBLIC_BASE_URL": public_base_url} if public_base_url else {}),
        **(extra_env or {}),
    }
    log = log_dir / f"server-{port}.log"
    command = [
        str(reactbin or Path(sys.executable).parent / "reactbin"),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        *args,
    ]
    with log.open("wb") as out:
        # Its own process group, so that uvicorn's worker processes (--workers) are cleaned up with it.
        process = subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=cwd, start_new_session=True
        )
    server = Server(f"http://127.0.0.1:{port}", port, bucket, database_url, process, log, spool)
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                pytest.fail(f"reactbin serve exited with {process.returncode}:\n{server.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{server.api}/health", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                pytest.fail(f"reactbin serve did not start in 30 s:\n{server.log_tail()}")
            time.sleep(0.05)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # any worker process left behind
