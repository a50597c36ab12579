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

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    url: str
    bucket: str
    database_url: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def api(self) -> str:
        return f"{self.url}/api/v1"

    async def reset(self) -> None:
        """An empty library (the database is shared with the rest of the suite)."""
        conn = await asyncpg.connect(self.database_url)
        try:
            await conn.execute("TRUNCATE images CASCADE")
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

    async def get(self, path: str) -> httpx.Response:
        async with httpx.AsyncClient(base_url=self.api, timeout=30) as client:
            return await client.get(path)


@contextlib.contextmanager
def run_server(
    database_url: str,
    s3: S3Server,
    ui_dir: Path,
    log_dir: Path,
    *,
    bucket: str | None = None,
    public_base_url: str | None = None,
    extra_env: dict[str, str] | None = None,
) -> Iterator[Server]:
    """`reactbin serve` in a subprocess on a free port (and a new bucket unless given); stopped with SIGTERM."""
    port = free_port()
    bucket = bucket or s3.new_bucket()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "STORAGE_BACKEND": "s3",
        "S3_ENDPOINT_URL": s3.endpoint_url,
        "S3_BUCKET_NAME": bucket,
        "S3_ACCESS_KEY_ID": s3.access_key,
        "S3_SECRET_ACCESS_KEY": s3.secret_key,
        **({"UI_DIR": str(ui_dir)} if ui_dir is not None else {}),
        # The tests upload far more than a person would in a minute, all from 127.0.0.1.
        "RATE_LIMIT_UPLOADS": "0",
        "RUN_WORKER": "false",
    }
    env.pop("API_TOKENS", None)
    env.update(extra_env or {})
    env.pop("S3_PUBLIC_BASE_URL", None)
    if public_base_url:
        env["S3_PUBLIC_BASE_URL"] = public_base_url
    env.update(extra_env or {})
    log = log_dir / f"server-{port}.log"
    command = [str(Path(sys.executable).parent / "reactbin"), "serve", "--host", "127.0.0.1", "--port", str(port)]
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=REPO)
    server = Server(f"http://127.0.0.1:{port}", bucket, database_url, process, log)
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                pytest.fail(f"reactbin serve exited with {process.returncode}:\n{log.read_text()[-4000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{server.api}/health", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                pytest.fail(f"reactbin serve did not start in 30 s:\n{log.read_text()[-4000:]}")
            time.sleep(0.05)
        yield server
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
