"""Faults proven against the real service: S3 that stalls, resets or refuses; clients that vanish; SIGTERM;
racing uploads; PostgreSQL restarted underneath.

The first group runs the app in-process (`make_client`) behind `tests.support.faultproxy`. Everything that needs real
sockets between client and server (aborted downloads, cut uploads, graceful shutdown, truly parallel uploads)
runs `reactbin serve` as a subprocess on 127.0.0.1, configured only through its environment.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import io
import json
import signal
import socket
import struct
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import httpx
import pytest
from PIL import Image

from reactbin.embedded import EmbeddedPostgres
from tests.conftest import AppFactory, S3Server, fixture_bytes, settings_of, stored_keys, upload
from tests.support import faultproxy
from tests.support.faultproxy import FaultProxy
from tests.support.live import Server, run_server

fault_proxy = faultproxy.fault_proxy  # the fixture, offered to this module's tests

T = TypeVar("T")
HOST = "127.0.0.1"
CONNECT_TIMEOUT = 0.3
READ_TIMEOUT = 0.3
FAST_S3 = {"connect_timeout": CONNECT_TIMEOUT, "read_timeout": READ_TIMEOUT}
# S3Storage bounds every call by 2 * (connect + read timeout); a failed upload makes two calls (the write and
# the clean-up delete of what it may have written).
CALL_BOUND = 2 * (CONNECT_TIMEOUT + READ_TIMEOUT)
READ_FAILS_WITHIN = CALL_BOUND + 1.0
UPLOAD_FAILS_WITHIN = 2 * CALL_BOUND + 1.5
RETRIEVE_ERROR = {"detail": "Failed to retrieve image content", "code": "storage_error"}
STORE_ERROR = {"detail": "Failed to store image content", "code": "storage_error"}
DB_DOWN = {"detail": "The database is unavailable, try again shortly", "code": "database_unavailable"}
BOUNDARY = "reactbin-fault-test-boundary"


def apply_fault(proxy: FaultProxy, fault: str) -> None:
    faults: dict[str, Callable[[], None]] = {
        "stall": proxy.stall,
        "reset": proxy.reset,
        "refuse": proxy.refuse,
        "blackhole": proxy.blackhole,
    }
    faults[fault]()


@functools.cache
def noise_png(side: int, seed: int = 0) -> bytes:
    """An incompressible RGB PNG of about 3 * side² bytes (so its size is known and it streams from storage)."""
    pixels = hashlib.shake_256(f"{side}-{seed}".encode()).digest(side * side * 3)
    out = io.BytesIO()
    Image.frombytes("RGB", (side, side), pixels).save(out, "PNG", compress_level=0)
    return out.getvalue()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def timed(request: Awaitable[T]) -> tuple[T, float]:
    started = time.monotonic()
    result = await request
    return result, time.monotonic() - started


# --- in-process: the app behind the fault proxy ------------------------------------------------------------


@pytest.mark.parametrize("fault", ["stall", "reset", "refuse", "blackhole"])
async def test_storage_fault_fails_fast_and_leaves_nothing_half_written(
    make_client: AppFactory, fault_proxy: FaultProxy, db: asyncpg.Connection, fault: str
) -> None:
    """Reads and uploads answer 500 storage_error within the configured timeouts, then recover by themselves."""
    async with make_client(s3={"endpoint_url": fault_proxy.url, **FAST_S3}, run_worker=False) as client:
        stored = (await upload(client, "photo.jpg")).json()
        apply_fault(fault_proxy, fault)
        async with asyncio.timeout(30):  # a hang fails the test instead of stalling the suite
            read, read_elapsed = await timed(client.get(stored["file_url"]))
            failed_upload, upload_elapsed = await timed(upload(client, "alpha.png"))
        fault_proxy.passthrough()
        keys = await stored_keys(client)
        rows = await db.fetch("SELECT id::text FROM images")
        recovered = await client.get(stored["file_url"])

    assert read.status_code == 500
    assert read.json() == RETRIEVE_ERROR
    assert read_elapsed < READ_FAILS_WITHIN, f"read took {read_elapsed:.2f}s"
    assert failed_upload.status_code == 500
    assert failed_upload.json() == STORE_ERROR
    assert upload_elapsed < UPLOAD_FAILS_WITHIN, f"upload took {upload_elapsed:.2f}s"
    assert [row["id"] for row in rows] == [stored["id"]]
    assert keys == sorted([stored["storage_key"], stored["thumbnail_key"]])
    assert recovered.status_code == 200
    assert recovered.content == fixture_bytes("photo.jpg")


async def test_upload_whose_thumbnail_write_fails_deletes_the_written_original(
    make_client: AppFactory, fault_proxy: FaultProxy, db: asyncpg.Connection
) -> None:
    """The original reaches S3, the thumbnail write is reset: the original is removed again and no row stays."""
    async with make_client(s3={"endpoint_url": fault_proxy.url, **FAST_S3}, run_worker=False) as client:
        fault_proxy.reset(matching=b"/thumbnails/")
        async with asyncio.timeout(30):
            response = await upload(client, "photo.jpg")
        fault_proxy.passthrough()
        keys = await stored_keys(client)
    requests = list(fault_proxy.requests)

    assert response.status_code == 500
    assert response.json() == STORE_ERROR
    put_originals = [line for line in requests if line.startswith("PUT ") and "/images/" in line]
    assert put_originals, f"the original was never written: {requests}"
    assert any(line == put_originals[0].replace("PUT ", "DELETE ", 1) for line in requests), requests
    assert keys == []
    assert await db.fetchval("SELECT count(*) FROM images") == 0


@pytest.mark.parametrize(("read_timeout", "status"), [(0.2, 500), (3.0, 200)])
async def test_s3_read_timeout_is_the_configured_one(
    make_client: AppFactory, fault_proxy: FaultProxy, read_timeout: float, status: int
) -> None:
    """Every chunk to and from S3 is held 0.4 s: a 0.2 s read timeout gives up quickly, a 3 s one waits."""
    async with make_client(s3={"endpoint_url": fault_proxy.url, **FAST_S3}, run_worker=False) as client:
        stored = (await upload(client, "photo.jpg")).json()
        s3_settings = settings_of(client).s3
        assert s3_settings is not None
        bucket = s3_settings.bucket
    # A second app on the same bucket and rows, differing only in its read timeout.
    s3 = {"endpoint_url": fault_proxy.url, "bucket": bucket, "connect_timeout": 0.5, "read_timeout": read_timeout}
    async with make_client(s3=s3, run_worker=False) as client:
        fault_proxy.latency(per_chunk=0.4)
        started = time.monotonic()
        async with asyncio.timeout(30):
            response = await client.get(stored["file_url"])
        elapsed = time.monotonic() - started

    assert response.status_code == status
    if status == 500:
        assert response.json() == RETRIEVE_ERROR
        # Up to three attempts (botocore's max_attempts=2 counts retries) and back-offs, cut by the storage call's
        # deadline of 2 * (connect + read timeout).
        assert elapsed < 2 * (0.5 + read_timeout) + 0.5, f"took {elapsed:.2f}s"
    else:
        assert response.content == fixture_bytes("photo.jpg")


# --- `reactbin serve` as a subprocess ----------------------------------------------------------------------


@contextlib.contextmanager
def serve(
    database_url: str,
    s3: S3Server,
    workdir: Path,
    *,
    endpoint_url: str | None = None,
    args: tuple[str, ...] = (),
    **env: str,
) -> Iterator[Server]:
    """`reactbin serve` on a free port with a fresh bucket and its own TMPDIR; always stopped (then killed)."""
    with run_server(database_url, s3, None, workdir, endpoint_url=endpoint_url, args=args, extra_env=env) as server:
        yield server


def bucket_keys(s3: S3Server, bucket: str) -> list[str]:
    """Every key in `bucket`, asked of the S3 server directly (never through a proxy)."""
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=s3.endpoint_url,
        aws_access_key_id=s3.access_key,
        aws_secret_access_key=s3.secret_key,
        region_name="us-east-1",
    )
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


def multipart(data: bytes, *, tags: str = "", filename: str = "noise.png") -> bytes:
    tag_part = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="tags"\r\n\r\n{tags}\r\n' if tags else ""
    file_head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: image/png\r\n\r\n"
    )
    return (tag_part + file_head).encode() + data + f"\r\n--{BOUNDARY}--\r\n".encode()


def upload_head(port: int, length: int) -> bytes:
    return (
        f"POST /api/v1/images HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {length}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()


def get_head(port: int, path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nConnection: close\r\n\r\n".encode()


@contextlib.asynccontextmanager
async def raw_connection(port: int, *, receive_buffer: int | None = None) -> AsyncIterator[Connection]:
    """A plain TCP connection to the server, closed on exit (abruptly if `abort()` was called)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if receive_buffer is not None:
        # A small window keeps most of a download on the server side, so closing really cuts a live stream.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.setblocking(False)
    try:
        await asyncio.get_running_loop().sock_connect(sock, (HOST, port))
    except BaseException:
        sock.close()
        raise
    reader, writer = await asyncio.open_connection(sock=sock, limit=1 << 20)
    try:
        yield Connection(reader, writer)
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


@dataclass
class Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def read_head(self) -> tuple[int, dict[str, str]]:
        raw = await self.reader.readuntil(b"\r\n\r\n")
        status_line, *lines = raw.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines:
            name, _, value = line.partition(":")
            if name:
                headers[name.strip().lower()] = value.strip()
        return int(status_line.split()[1]), headers

    async def read_response(self) -> tuple[int, dict[str, str], bytes]:
        status, headers = await self.read_head()
        return status, headers, await self.reader.readexactly(int(headers.get("content-length", "0")))

    def abort(self) -> None:
        """Close with a TCP RST, as a client that crashes or loses its network does."""
        sock = self.writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.writer.transport.abort()


def port_accepts(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=1):
            return True
    except OSError:
        return False


async def wait_until(predicate: Any, timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(interval)
    return bool(predicate())


async def upload_bytes(service: Server, data: bytes, *, tags: str = "") -> httpx.Response:
    async with httpx.AsyncClient(base_url=service.api, timeout=30) as http:
        return await http.post("/images", files={"file": ("noise.png", data, "image/png")}, data={"tags": tags})


async def test_stalled_s3_body_cuts_the_download_within_the_read_timeout(
    database_url: str, s3_server: S3Server, fault_proxy: FaultProxy, db: asyncpg.Connection, tmp_path: Path
) -> None:
    """S3 stops sending mid-object: the client's response ends early (never hangs), and the next one is whole."""
    data = noise_png(900)  # ~2.4 MB: streamed from storage, not the small-object cache
    with serve(
        database_url, s3_server, tmp_path, endpoint_url=fault_proxy.url, S3_CONNECT_TIMEOUT="0.5", S3_READ_TIMEOUT="0.5"
    ) as service:
        image = (await upload_bytes(service, data)).json()
        fault_proxy.stall(after_bytes=300_000)
        received = 0
        started = time.monotonic()
        async with asyncio.timeout(20), raw_connection(service.port) as conn:
            await conn.send(get_head(service.port, f"/api/v1/images/{image['id']}/file"))
            status, headers = await conn.read_head()
            while chunk := await conn.reader.read(1 << 16):
                received += len(chunk)
        elapsed = time.monotonic() - started
        fault_proxy.passthrough()
        async with httpx.AsyncClient(base_url=service.api, timeout=10) as http:
            whole = await http.get(f"/images/{image['id']}/file")

    assert status == 200
    assert int(headers["content-length"]) == len(data)
    assert 0 < received < len(data), "the body should have been cut short"
    # Headers come at once; the body stops when one S3 read waits longer than S3_READ_TIMEOUT (plus one retry
    # at most for the first read).
    assert elapsed < 2 * (0.5 + 0.5) + 1.0, f"the cut took {elapsed:.2f}s"
    assert whole.status_code == 200
    assert whole.content == data


async def test_client_disconnects_mid_download_do_not_exhaust_the_s3_pool(
    database_url: str, s3_server: S3Server, db: asyncpg.Connection, tmp_path: Path
) -> None:
    """40 clients (10x the S3 pool) vanish mid-download; every one was served and later downloads are quick.

    A stream whose S3 body is not closed keeps its pooled connection: after 4 aborts every later request would
    wait for a connection until the storage deadline and fail.
    """
    data = noise_png(1400)  # ~5.9 MB: more than the sockets between server and client buffer
    with serve(
        database_url, s3_server, tmp_path, S3_MAX_POOL_CONNECTIONS="4", S3_CONNECT_TIMEOUT="1", S3_READ_TIMEOUT="2"
    ) as service:
        image = (await upload_bytes(service, data)).json()
        path = f"/api/v1/images/{image['id']}/file"

        async def abandon(index: int) -> tuple[int, float]:
            started = time.monotonic()
            async with raw_connection(service.port, receive_buffer=16 * 1024) as conn:
                await conn.send(get_head(service.port, path))
                status, _ = await conn.read_head()
                if status != 200:
                    return status, time.monotonic() - started
                await conn.reader.readexactly(4096)
                if index % 2:
                    conn.abort()  # half reset, half close with unread data
                return status, time.monotonic() - started

        async with asyncio.timeout(30):
            abandoned = []
            for wave in range(5):  # 8 at once: twice the pool, so some wait for a connection the others free
                abandoned += await asyncio.gather(*(abandon(wave * 8 + i) for i in range(8)))
            started = time.monotonic()
            async with httpx.AsyncClient(base_url=f"http://{HOST}:{service.port}", timeout=15) as http:
                downloads = await asyncio.gather(*(http.get(path) for _ in range(8)))
            elapsed = time.monotonic() - started

    assert [status for status, _ in abandoned] == [200] * 40
    slowest = max(seconds for _, seconds in abandoned)
    assert slowest < 2, f"an abandoned download waited {slowest:.2f}s for its first bytes"
    assert [response.status_code for response in downloads] == [200] * 8
    assert all(response.content == data for response in downloads)
    assert elapsed < 5, f"8 downloads after the aborts took {elapsed:.2f}s"


async def test_uploads_cut_mid_body_leave_no_temp_files_objects_or_rows(
    database_url: str, s3_server: S3Server, db: asyncpg.Connection, tmp_path: Path
) -> None:
    """Clients that stop mid-upload (closing or resetting) leave nothing behind: no spool file, object or row."""
    data = noise_png(1000)  # ~3 MB
    body = multipart(data, tags="cut")
    with serve(database_url, s3_server, tmp_path) as service:
        spool_seen = 0

        async def cut(index: int) -> None:
            nonlocal spool_seen
            # Cut inside the headers, inside the form fields, and (mostly) once the file is spooling on disk.
            stop_at = [200, len(body) // 2, len(body) - 100][index % 3]
            async with raw_connection(service.port) as conn:
                await conn.send(upload_head(service.port, len(body)) + body[: min(stop_at, 300)])
                await conn.send(body[min(stop_at, 300) : stop_at])
                if stop_at > 300 and await wait_until(lambda: service.spooled() != [], 5):
                    spool_seen += 1
                if index % 2:
                    conn.abort()

        async with asyncio.timeout(30):
            for wave in range(3):
                await asyncio.gather(*(cut(wave * 4 + i) for i in range(4)))
            emptied = await wait_until(lambda: service.spooled() == [], 5)
        left_behind = service.spooled()
        rows_after_cuts = await db.fetchval("SELECT count(*) FROM images")
        keys_after_cuts = bucket_keys(s3_server, service.bucket)
        whole = await upload_bytes(service, data, tags="whole")
        await wait_until(lambda: service.spooled() == [], 5)
        left_after_success = service.spooled()
        log = service.log_tail()

    assert spool_seen >= 4, "the cuts should have happened while the upload was spooling"
    assert emptied, f"temp files left behind: {left_behind}\n{log}"
    assert rows_after_cuts == 0
    assert keys_after_cuts == []
    assert whole.status_code == 201, whole.text
    assert left_after_success == []


async def test_sigterm_drains_in_flight_requests_and_cuts_the_rest_cleanly(
    database_url: str, s3_server: S3Server, db: asyncpg.Connection, tmp_path: Path
) -> None:
    """SIGTERM: no new connections; a download and an upload in flight finish; an upload still sending when the
    grace period ends is cut and leaves no row, object or temp file; the process exits soon after the grace."""
    grace = 2
    big = noise_png(1400)  # ~5.9 MB, read slowly
    finishing = multipart(noise_png(400, seed=1), tags="finishing")
    endless = multipart(noise_png(1000, seed=2), tags="endless")  # ~9 s at this pace: never done in time
    with serve(database_url, s3_server, tmp_path, SHUTDOWN_GRACE_SECONDS=str(grace)) as service:
        stored = (await upload_bytes(service, big)).json()
        sigterm = asyncio.Event()
        signalled_at = 0.0

        async def slow_download() -> bytes:
            async with raw_connection(service.port, receive_buffer=64 * 1024) as conn:
                await conn.send(get_head(service.port, f"/api/v1/images/{stored['id']}/file"))
                status, headers = await conn.read_head()
                assert status == 200
                body = bytearray()
                while len(body) < int(headers["content-length"]):
                    chunk = await conn.reader.read(256 * 1024)
                    if not chunk:
                        break
                    body += chunk
                    # Slow until SIGTERM (so most of the body is still to come), then well inside the grace period.
                    await asyncio.sleep(0.01 if sigterm.is_set() else 0.3)
                return bytes(body)

        async def slow_upload(body: bytes, *, pieces_after_sigterm: int) -> tuple[int | None, float]:
            """Send `body` in pieces; after SIGTERM only `pieces_after_sigterm` more, 0.1 s apart, then the rest."""
            async with raw_connection(service.port) as conn:
                await conn.send(upload_head(service.port, len(body)))
                piece = 32 * 1024
                offset, sent_after = 0, 0
                try:
                    while offset < len(body) - piece:
                        await conn.send(body[offset : offset + piece])
                        offset += piece
                        if sigterm.is_set():
                            sent_after += 1
                            if sent_after >= pieces_after_sigterm:
                                break
                        await asyncio.sleep(0.1)
                    await conn.send(body[offset:])
                    status, _, _ = await conn.read_response()
                    return status, time.monotonic() - signalled_at
                except (OSError, asyncio.IncompleteReadError):
                    return None, time.monotonic() - signalled_at

        async with asyncio.timeout(40):
            download = asyncio.create_task(slow_download())
            done_upload = asyncio.create_task(slow_upload(finishing, pieces_after_sigterm=5))
            cut_upload = asyncio.create_task(slow_upload(endless, pieces_after_sigterm=10_000))
            # All three are mid-flight: both uploads are spooling and the download has started.
            assert await wait_until(lambda: len(service.spooled()) == 2, 10), service.log_tail()
            await asyncio.sleep(0.3)
            service.process.send_signal(signal.SIGTERM)
            signalled_at = time.monotonic()
            sigterm.set()
            refused_while_busy = await wait_until(
                lambda: not port_accepts(service.port) and not done_upload.done() and not cut_upload.done(), 2
            )
            downloaded = await download
            done_status, _ = await done_upload
            cut_status, cut_after = await cut_upload
            await wait_until(lambda: service.process.poll() is not None, grace + 10)
            exited_after = time.monotonic() - signalled_at
        log = service.log_tail()
        spool_left = service.spooled()
    hashes = {row["hash"] for row in await db.fetch("SELECT hash FROM images")}
    keys = bucket_keys(s3_server, service.bucket)

    # uvicorn re-raises the SIGTERM it caught once it has shut down, so the process ends "killed by SIGTERM".
    assert service.process.returncode in (0, -signal.SIGTERM), log
    assert "Application shutdown complete" in log
    assert refused_while_busy, "new connections should be refused while in-flight requests finish"
    assert downloaded == big, "the download in flight was cut"
    assert done_status == 201, log
    assert cut_status is None, "the endless upload should have been cut"
    assert grace - 0.5 < cut_after < grace + 2, f"cut {cut_after:.2f}s after SIGTERM"
    assert exited_after < grace + 4, f"exited {exited_after:.2f}s after SIGTERM"
    assert "timeout graceful shutdown exceeded" in log
    assert spool_left == []
    assert hashes == {stored["hash"], sha256(noise_png(400, seed=1))}
    assert not [key for key in keys if sha256(noise_png(1000, seed=2)) in key]
    assert len(keys) == 4  # original and thumbnail of the stored image and of the finished upload


async def test_sigterm_grace_period_also_bounds_shutdown_with_several_workers(
    database_url: str, s3_server: S3Server, db: asyncpg.Connection, tmp_path: Path
) -> None:
    """`reactbin serve --workers 2` honours SHUTDOWN_GRACE_SECONDS too: a client that never finishes its upload
    cannot hold the shutdown (uvicorn's default is to wait for it forever)."""
    grace = 1
    body = multipart(noise_png(400, seed=3))
    workers = ("--workers", "2")
    with serve(database_url, s3_server, tmp_path, args=workers, SHUTDOWN_GRACE_SECONDS=str(grace)) as service:
        async with asyncio.timeout(20), raw_connection(service.port) as conn:
            await conn.send(upload_head(service.port, len(body)) + body[:200_000])
            assert await wait_until(lambda: service.spooled() != [], 5), service.log_tail()
            service.process.send_signal(signal.SIGTERM)
            signalled_at = time.monotonic()
            sent = 200_000
            while service.process.poll() is None and time.monotonic() - signalled_at < grace + 8:
                with contextlib.suppress(OSError):
                    await conn.send(body[sent : sent + 1000])  # a trickle that would never end in time
                    sent += 1000
                await asyncio.sleep(0.2)
            exited_after = time.monotonic() - signalled_at
        log = service.log_tail()
        spool_left = service.spooled()

    assert service.process.returncode is not None, "still running long after the grace period"
    assert exited_after < grace + 3, f"exited {exited_after:.2f}s after SIGTERM"
    assert "timeout graceful shutdown exceeded" in log
    assert spool_left == []
    assert await db.fetchval("SELECT count(*) FROM images") == 0


async def test_identical_parallel_uploads_make_one_image(
    database_url: str, s3_server: S3Server, db: asyncpg.Connection, tmp_path: Path
) -> None:
    """8 uploads of the same bytes released at the same instant: one image, one 201, seven duplicates, all tags."""
    data = noise_png(300)
    tags = [f"racer-{i}" for i in range(8)]
    bodies = [multipart(data, tags=tag) for tag in tags]
    with serve(database_url, s3_server, tmp_path) as service:
        async with contextlib.AsyncExitStack() as stack:
            conns = [await stack.enter_async_context(raw_connection(service.port)) for _ in bodies]
            # Everything but the closing boundary first, so that all 8 requests are complete at the same moment.
            for conn, body in zip(conns, bodies, strict=True):
                await conn.send(upload_head(service.port, len(body)) + body[:-20])
            await asyncio.sleep(0.3)
            async with asyncio.timeout(30):
                await asyncio.gather(*(conn.send(body[-20:]) for conn, body in zip(conns, bodies, strict=True)))
                responses = await asyncio.gather(*(conn.read_response() for conn in conns))
        async with httpx.AsyncClient(base_url=service.api, timeout=10) as http:
            listed = (await http.get("/images")).json()["items"]
        keys = bucket_keys(s3_server, service.bucket)

    assert sorted(status for status, _, _ in responses) == [200] * 7 + [201], [body for _, _, body in responses]
    results = [json.loads(body) for _, _, body in responses]
    assert len(listed) == 1
    image = listed[0]
    assert {result["id"] for result in results} == {image["id"]}
    assert sorted(result["duplicate"] for result in results) == [False] + [True] * 7
    assert sorted(image["tags"]) == sorted(tags)
    assert await db.fetchval("SELECT count(*) FROM images") == 1
    assert keys == sorted([image["storage_key"], image["thumbnail_key"]])


async def wait_for_postgres(database_url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            conn = await asyncpg.connect(database_url, timeout=2)
        except (TimeoutError, OSError, asyncpg.PostgresError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)
        else:
            await conn.close()
            return


async def test_database_restart_under_the_running_server(
    database_url: str, s3_server: S3Server, postgres: EmbeddedPostgres | None, tmp_path: Path
) -> None:
    """PostgreSQL stops under `reactbin serve`: quick 503s, liveness stays up, readiness says why, and the
    service recovers by itself when the database is back."""
    if postgres is None:
        pytest.skip("needs the embedded PostgreSQL")
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("TRUNCATE images CASCADE")
    finally:
        await conn.close()
    connect_timeout = 1.0
    with serve(
        database_url, s3_server, tmp_path, DB_CONNECT_TIMEOUT=str(connect_timeout), DB_COMMAND_TIMEOUT="2"
    ) as service:
        async with httpx.AsyncClient(base_url=service.api, timeout=15) as http:
            image = (await http.post("/images", files={"file": ("photo.jpg", fixture_bytes("photo.jpg"))})).json()
            assert (await http.get(f"/images/{image['id']}")).status_code == 200
            down: dict[str, tuple[httpx.Response, float]] = {}
            postgres.stop()
            try:
                for name, request in [
                    ("list", http.build_request("GET", "/images")),
                    ("get", http.build_request("GET", f"/images/{image['id']}")),
                    ("file", http.build_request("GET", f"/images/{image['id']}/file")),
                    ("health", http.build_request("GET", "/health")),
                    ("ready", http.build_request("GET", "/ready")),
                    ("upload", http.build_request("POST", "/images", files={"file": ("a.png", noise_png(64))})),
                ]:
                    started = time.monotonic()
                    down[name] = (await http.send(request), time.monotonic() - started)
                spool_while_down = service.spooled()
            finally:
                postgres.start()
                await wait_for_postgres(database_url)
            after = [(await http.get(f"/images/{image['id']}")).status_code for _ in range(2)]
            ready_after = await http.get("/ready")

    for name in ("list", "get", "file", "upload"):
        response, elapsed = down[name]
        assert response.status_code == 503, (name, response.text)
        assert response.json() == DB_DOWN, name
        assert elapsed < 2 * connect_timeout, f"{name} took {elapsed:.2f}s"
    assert down["health"][0].status_code == 200
    ready, elapsed = down["ready"]
    assert ready.status_code == 503
    assert ready.json()["database"] == "unavailable"
    assert ready.json()["storage"] == "ok"
    assert elapsed < 2 * connect_timeout
    assert spool_while_down == []
    assert 200 in after, after
    assert after[-1] == 200
    assert ready_after.status_code == 200
