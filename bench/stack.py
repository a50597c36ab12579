"""The real stack under test: embedded PostgreSQL, SeaweedFS's S3 gateway and `reactbin serve` as a subprocess."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
from tests.support import seaweedfs as seaweedfs_module
from tests.support.seaweedfs import EmbeddedSeaweedFS

from reactbin.embedded import EmbeddedPostgres

ACCESS_KEY = "bench-access-key"
SECRET_KEY = "bench-secret-key-0123456789"
BUCKET = "reactbin-bench"
REGION = "us-east-1"
BIN = Path(sys.executable).parent


class BenchError(RuntimeError):
    """The benchmark cannot go on; the message says why."""


def free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def _seaweed_bound_to(host: str) -> Iterator[None]:
    """Run `EmbeddedSeaweedFS` on another local address than 127.0.0.1 (`weed mini -ip.bind` takes one address).

    The embedded helper has no host option, so its module constant is swapped while the server starts.
    """
    if not hasattr(seaweedfs_module, "_HOST"):
        raise BenchError("tests.support.seaweedfs has no _HOST any more: update bench/stack.py")
    saved = seaweedfs_module._HOST
    seaweedfs_module._HOST = host
    try:
        yield
    finally:
        seaweedfs_module._HOST = saved


class Server:
    """`reactbin serve` in its own session, so a Ctrl-C in the terminal reaches only the benchmark."""

    def __init__(self, env: dict[str, str], host: str, log_path: Path) -> None:
        self.env = env
        self.host = host
        self.port = free_port(host)
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, timeout: float = 30.0) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [str(BIN / "reactbin"), "serve", "--host", self.host, "--port", str(self.port)],
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchError(f"reactbin serve exited with {self.process.returncode}; see {self.log_path}")
            with contextlib.suppress(OSError):
                status, _ = self.request("GET", "/api/v1/health")
                if status == 200:
                    return
            time.sleep(0.05)
        raise BenchError(f"reactbin serve did not answer /api/v1/health within {timeout} s; see {self.log_path}")

    def stop(self, timeout: float = 15.0) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def request(
        self, method: str, path: str, headers: dict[str, str] | None = None, timeout: float = 30.0
    ) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            conn.request(method, path, headers=headers or {})
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def processes(self) -> list[psutil.Process]:
        """The server and every child it has now."""
        root = psutil.Process(self.pid)
        return [root, *root.children(recursive=True)]

    def cpu_seconds(self) -> float:
        total = 0.0
        for proc in self.processes():
            with contextlib.suppress(psutil.Error):
                times = proc.cpu_times()
                total += times.user + times.system
        return total


class Stack:
    """One database, one SeaweedFS gateway and one API server, all listening on `host` (PostgreSQL on 127.0.0.1)."""

    def __init__(self, postgres: EmbeddedPostgres, workdir: Path, name: str, host: str) -> None:
        self.postgres = postgres
        self.workdir = workdir / name
        self.name = name
        self.host = host
        self.s3 = EmbeddedSeaweedFS(self.workdir / "seaweedfs", ACCESS_KEY, SECRET_KEY, region=REGION)
        self.s3_endpoint = ""
        self.database_url = ""
        self.server: Server | None = None
        self.cache_bytes: int | None = None
        self.extra_env: dict[str, str] = {}

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.database_url = self.postgres.create_database(f"bench_{self.name}")
        with _seaweed_bound_to(self.host):
            self.s3.start()
            self.s3_endpoint = self.s3.endpoint_url
            self.s3.create_bucket(BUCKET)
        migrate = subprocess.run(
            # A reused, seeded database (--pg-dir) may have new migrations to build indexes for on a million rows.
            [str(BIN / "reactbin"), "migrate"],
            env=self._env(),
            capture_output=True,
            text=True,
            timeout=3600,
        )
        if migrate.returncode != 0:
            raise BenchError(f"reactbin migrate failed: {migrate.stderr.strip()}")
        self.start_server()

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "S3_", "REACTBIN_"))}
        for name in (
            "DATABASE_URL",
            "STORAGE_BACKEND",
            "STORAGE_DIR",
            "CACHE_BYTES",
            "S3_PUBLIC_BASE_URL",
            "API_TOKENS",
        ):
            env.pop(name, None)
        env.update(
            DATABASE_URL=self.database_url,
            STORAGE_BACKEND="s3",
            S3_ENDPOINT_URL=self.s3_endpoint,
            S3_BUCKET_NAME=BUCKET,
            S3_ACCESS_KEY_ID=ACCESS_KEY,
            S3_SECRET_ACCESS_KEY=SECRET_KEY,
            S3_REGION=REGION,
            # The benchmark uploads a dozen images a minute from one address: keep the per-client limit out of it.
            RATE_LIMIT_UPLOADS="0",
            # OCR jobs (a child process with a ~300 MiB model) would blur the memory and throughput sections;
            # the OCR benchmark (bench/ocr.py) turns them on.
            RUN_OCR="false",
        )
        env.update(self.extra_env)
        if self.cache_bytes is not None:
            env["CACHE_BYTES"] = str(self.cache_bytes)
        return env

    def start_server(self, cache_bytes: int | None = None) -> Server:
        """(Re)start the API server; `cache_bytes=None` keeps the service's default small-object cache."""
        self.stop_server()
        self.cache_bytes = cache_bytes
        self.server = Server(self._env(), self.host, self.workdir / "server.log")
        self.server.start()
        return self.server

    def stop_server(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def stop(self) -> None:
        try:
            self.stop_server()
        finally:
            self.s3.stop()

    def api(self) -> Server:
        if self.server is None:
            raise BenchError("the API server is not running")
        return self.server

    def presigned_url(self, key: str) -> str:
        """A presigned GET straight from the S3 gateway, as a CDN-less client would load it."""
        import boto3
        from botocore.config import Config

        client = boto3.client(
            "s3",
            endpoint_url=self.s3_endpoint,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
        )
        url: str = client.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": key}, ExpiresIn=3600)
        return url

    def upload(self, path: Path, mime_type: str, tags: str, *, timeout: float = 120.0) -> dict[str, Any]:
        """POST one image through the API with the benchmark's client (a subprocess, so RSS sampling stays smooth)."""
        return run_client(
            [
                "upload",
                "--url",
                f"{self.api().base_url}/api/v1/images",
                "--file",
                str(path),
                "--filename",
                path.name,
                "--content-type",
                mime_type,
                "--tags",
                tags,
            ],
            timeout=timeout,
        )


CLIENT = Path(__file__).with_name("client.py")


def client_command(args: list[str]) -> list[str]:
    return [sys.executable, "-I", str(CLIENT), *args]


def run_client(args: list[str], *, timeout: float, prefix: list[str] | None = None) -> dict[str, Any]:
    """Run bench/client.py (optionally behind `prefix`, e.g. `ip netns exec NS`) and return its JSON."""
    result = subprocess.run(
        [*(prefix or []), *client_command(args)], capture_output=True, text=True, timeout=timeout, check=False
    )
    if result.returncode != 0:
        raise BenchError(f"client {args[0]} failed ({result.returncode}): {result.stderr.strip()[-2000:]}")
    parsed: dict[str, Any] = json.loads(result.stdout)
    return parsed
