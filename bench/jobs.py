"""`python -m bench.jobs`: thumbnail job throughput and latency on the real stack.

Starts embedded PostgreSQL, SeaweedFS's S3 gateway, `reactbin serve` (RUN_WORKER=false, so it only takes
submissions) and `reactbin worker` processes, then measures:

- throughput: N jobs on 12 MP JPEG sources are queued with no worker running, then 1 (or 2) worker
  processes with `--concurrency 1` start; jobs/s = N / (last finish - first start), from the job rows;
- latency: one idle worker; each job is submitted only after the previous one finished; submit-to-SUCCESS
  is timed by the client (POST sent -> SUCCESS seen by polling GET /api/v1/jobs/{id} every 5 ms), and by the
  server (finished_at - created_at, i.e. without the upload and validation).

Every job uses the defaults (256x256 box, contain, WebP).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import io
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from PIL import Image, ImageFilter
from tests.support.seaweedfs import EmbeddedSeaweedFS

from reactbin.embedded import EmbeddedPostgres

BIN = Path(sys.executable).parent
ACCESS_KEY = "bench-jobs-access"
SECRET_KEY = "bench-jobs-secret-0123456789"
BUCKET = "reactbin-bench-jobs"
SOURCE_SIZE = (4000, 3000)  # 12 MP


class BenchError(RuntimeError):
    """The benchmark cannot go on; the message says why."""


def photo_like_jpeg(seed: int) -> bytes:
    """A 12 MP JPEG with photo-like detail (smooth shapes plus grain), about the size a phone writes."""
    width, height = SOURCE_SIZE
    small = Image.effect_noise((width // 16, height // 16), 64).convert("RGB")
    small = Image.merge("RGB", [small.getchannel(0), small.getchannel(0).rotate(90 * (seed % 4)), small.getchannel(0)])
    base = small.resize((width, height), Image.Resampling.BICUBIC).filter(ImageFilter.GaussianBlur(4))
    grain = Image.effect_noise((width, height), 12 + seed).convert("RGB")
    image = Image.blend(base, grain, 0.15)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def multipart(field: str, filename: str, data: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    return head + data + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


class Api:
    """A keep-alive HTTP/1.1 connection to `reactbin serve`."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=body, headers=headers or {})
                response = self.conn.getresponse()
                return response.status, response.read()
            except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
                # The server closes idle keep-alive connections after a few seconds: reconnect once.
                self.conn.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def submit(self, data: bytes) -> str:
        body, content_type = multipart("image", "photo.jpg", data)
        status, payload = self.request("POST", "/api/v1/thumbnails/", body, {"content-type": content_type})
        if status != 202:
            raise BenchError(f"submit answered {status}: {payload[:300]!r}")
        job_id: str = json.loads(payload)["job_id"]
        return job_id

    def status(self, job_id: str) -> dict[str, object]:
        status, payload = self.request("GET", f"/api/v1/jobs/{job_id}")
        if status != 200:
            raise BenchError(f"GET job answered {status}: {payload[:300]!r}")
        body: dict[str, object] = json.loads(payload)
        return body


class Proc:
    """A `reactbin` subprocess in its own session, logging to a file."""

    def __init__(self, args: list[str], env: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        with log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [str(BIN / "reactbin"), *args],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_for_log(self, text: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.log_path.read_text(errors="replace"):
            if self.process.poll() is not None:
                raise BenchError(f"{self.log_path.name}: exited with {self.process.returncode}")
            if time.monotonic() > deadline:
                raise BenchError(f"{self.log_path.name}: no {text!r} after {timeout} s")
            time.sleep(0.02)

    def stop(self, timeout: float = 30.0) -> None:
        if self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


@dataclass
class Stack:
    workdir: Path
    env: dict[str, str]
    api: Api
    database_url: str

    def worker(self, name: str, concurrency: int = 1) -> Proc:
        return Proc(["worker", "--concurrency", str(concurrency)], self.env, self.workdir / f"{name}.log")

    def query(self, sql: str, *args: object) -> list[asyncpg.Record]:
        async def run() -> list[asyncpg.Record]:
            conn = await asyncpg.connect(self.database_url)
            try:
                return await conn.fetch(sql, *args)
            finally:
                await conn.close()

        return asyncio.run(run())


@contextlib.contextmanager
def stack(workdir: Path) -> Iterator[Stack]:
    workdir.chmod(0o755)  # PostgreSQL runs as its own user when we are root and must reach its data directory
    postgres = EmbeddedPostgres(workdir / "postgres", durable=False)
    s3 = EmbeddedSeaweedFS(workdir / "seaweedfs", ACCESS_KEY, SECRET_KEY)
    postgres.start()
    server: Proc | None = None
    try:
        s3.start()
        s3.create_bucket(BUCKET)
        database_url = postgres.create_database("bench_jobs")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "S3_", "JOB_", "WORKER_", "RUN_"))}
        env.update(
            DATABASE_URL=database_url,
            STORAGE_BACKEND="s3",
            S3_ENDPOINT_URL=s3.endpoint_url,
            S3_BUCKET_NAME=BUCKET,
            S3_ACCESS_KEY_ID=ACCESS_KEY,
            S3_SECRET_ACCESS_KEY=SECRET_KEY,
            RUN_WORKER="false",
            RATE_LIMIT_UPLOADS="0",  # one client submits every job here
        )
        migrate = subprocess.run([str(BIN / "reactbin"), "migrate"], env=env, capture_output=True, text=True)
        if migrate.returncode != 0:
            raise BenchError(f"reactbin migrate failed: {migrate.stderr.strip()}")
        port = free_port()
        server = Proc(["serve", "--port", str(port)], env, workdir / "server.log")
        server.wait_for_log("Application startup complete")
        yield Stack(workdir, env, Api(port), database_url)
    finally:
        if server is not None:
            server.stop()
        s3.stop()
        postgres.stop()


def throughput(st: Stack, sources: list[bytes], jobs: int, workers: int) -> tuple[float, float]:
    """Queue `jobs` with no worker running, then let `workers` processes drain them; (jobs/s, seconds)."""
    ids = [st.api.submit(sources[i % len(sources)]) for i in range(jobs)]
    procs = [st.worker(f"throughput-{workers}-{i}") for i in range(workers)]
    try:
        deadline = time.monotonic() + 30 + jobs * 5
        while True:
            done = st.query(
                "SELECT count(*) AS n FROM thumbnail_jobs WHERE id = ANY($1::uuid[]) AND finished_at IS NOT NULL", ids
            )[0]["n"]
            if done == jobs:
                break
            if time.monotonic() > deadline:
                raise BenchError(f"only {done}/{jobs} jobs finished")
            time.sleep(0.1)
    finally:
        for proc in procs:
            proc.stop()
    row = st.query(
        """
        SELECT count(*) FILTER (WHERE status = 'SUCCESS') AS ok,
               extract(epoch FROM max(finished_at) - min(started_at)) AS span
        FROM thumbnail_jobs WHERE id = ANY($1::uuid[])
        """,
        ids,
    )[0]
    if row["ok"] != jobs:
        raise BenchError(f"{jobs - row['ok']} jobs failed; see {st.workdir}")
    span = float(row["span"])
    return jobs / span, span


def latency(st: Stack, sources: list[bytes], samples: int) -> tuple[list[float], list[float]]:
    """Submit one job at a time to an idle worker; (client submit-to-SUCCESS, server created-to-finished) in ms."""
    proc = st.worker("latency")
    client_ms: list[float] = []
    ids: list[str] = []
    try:
        proc.wait_for_log("ready (concurrency")
        time.sleep(1.0)
        for i in range(samples + 1):
            data = sources[i % len(sources)]
            started = time.perf_counter()
            job_id = st.api.submit(data)
            while st.api.status(job_id)["status"] not in ("SUCCESS", "FAILURE"):
                time.sleep(0.005)
            elapsed = (time.perf_counter() - started) * 1000
            if i:  # the first job warms the worker's connections and code paths
                client_ms.append(elapsed)
                ids.append(job_id)
            time.sleep(0.3)  # idle again
    finally:
        proc.stop()
    rows = st.query(
        "SELECT extract(epoch FROM finished_at - created_at) * 1000 AS ms, status FROM thumbnail_jobs "
        "WHERE id = ANY($1::uuid[])",
        ids,
    )
    if any(row["status"] != "SUCCESS" for row in rows):
        raise BenchError("a latency job failed")
    return client_ms, [float(row["ms"]) for row in rows]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.jobs", description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=40, help="jobs per throughput run (default 40)")
    parser.add_argument("--samples", type=int, default=15, help="latency samples (default 15)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)

    print("making 12 MP JPEG sources ...", flush=True)
    sources = [photo_like_jpeg(seed) for seed in range(4)]
    sizes = ", ".join(f"{len(s) / 1e6:.1f}" for s in sources)
    with tempfile.TemporaryDirectory(prefix="reactbin-bench-jobs-") as tmp, stack(Path(tmp)) as st:
        print("throughput, 1 worker ...", flush=True)
        one, one_span = throughput(st, sources, args.jobs, 1)
        print("throughput, 2 workers ...", flush=True)
        two, two_span = throughput(st, sources, args.jobs, 2)
        print("latency ...", flush=True)
        client_ms, server_ms = latency(st, sources, args.samples)

    figures = {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "source_mb": sizes,
        "jobs_per_run": args.jobs,
        "throughput_1_worker_jobs_per_s": round(one, 2),
        "throughput_2_workers_jobs_per_s": round(two, 2),
        "latency_samples": len(client_ms),
        "latency_client_median_ms": round(statistics.median(client_ms), 1),
        "latency_client_max_ms": round(max(client_ms), 1),
        "latency_server_median_ms": round(statistics.median(server_ms), 1),
    }
    print()
    print(f"thumbnail jobs on {figures['machine']}; 12 MP JPEG sources of {sizes} MB; 256 px WebP")
    print(f"  throughput, 1 worker process : {one:6.2f} jobs/s  ({args.jobs} jobs in {one_span:.1f} s)")
    print(f"  throughput, 2 worker processes: {two:6.2f} jobs/s  ({args.jobs} jobs in {two_span:.1f} s)")
    print(
        f"  submit-to-SUCCESS, idle worker: median {figures['latency_client_median_ms']} ms "
        f"(max {figures['latency_client_max_ms']} ms, {len(client_ms)} jobs; upload + validation included); "
        f"created-to-finished median {figures['latency_server_median_ms']} ms"
    )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
