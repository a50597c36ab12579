"""Tests of the embedded PostgreSQL and SeaweedFS servers (real processes, no mocks)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ReadTimeoutError
from botocore.session import Session

from reactbin.embedded import EmbeddedPostgres, EmbeddedPostgresError
from tests.support.seaweedfs import EmbeddedSeaweedFS, EmbeddedSeaweedFSError

ACCESS_KEY = "embedded-test-key"
SECRET_KEY = "embedded-test-secret"


# ---------------------------------------------------------------------- PostgreSQL


@pytest.fixture
def scratch() -> Iterator[Path]:
    """A fresh empty directory directly in /tmp.

    Not ``tmp_path``: as root the server runs as another user that must traverse the parents of its data
    directory, and pytest resets ``/tmp/pytest-of-root`` to 0700 whenever any session starts, which would
    crash servers of concurrently running sessions.
    """
    path = Path(tempfile.mkdtemp(prefix="reactbin-embedded-test-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def pg(scratch: Path) -> Iterator[EmbeddedPostgres]:
    server = EmbeddedPostgres(scratch, durable=False)
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def fetchval(dsn: str, query: str) -> Any:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval(query)
    finally:
        await conn.close()


async def test_postgres_accepts_queries_over_tcp(pg: EmbeddedPostgres) -> None:
    assert pg.dsn == f"postgresql://postgres@127.0.0.1:{pg.port}/postgres"
    assert pg.is_running()
    assert await fetchval(pg.dsn, "SELECT 1") == 1
    assert await fetchval(pg.dsn, "SELECT current_setting('server_encoding')") == "UTF8"
    assert await fetchval(pg.dsn, "SELECT current_setting('fsync')") == "off"


async def test_postgres_stop_and_start_keeps_port_and_data(pg: EmbeddedPostgres) -> None:
    conn = await asyncpg.connect(pg.dsn)
    try:
        await conn.execute("CREATE TABLE kept (v text)")
        await conn.execute("INSERT INTO kept VALUES ('still here')")
    finally:
        await conn.close()
    port, dsn = pg.port, pg.dsn

    pg.stop()
    assert not pg.is_running()
    with pytest.raises(ConnectionRefusedError):
        await asyncpg.connect(dsn, timeout=2)

    pg.start()
    assert pg.port == port
    assert pg.dsn == dsn
    assert await fetchval(dsn, "SELECT v FROM kept") == "still here"


def wait_until_stopped(server: EmbeddedPostgres, timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while server.is_running():
        assert time.monotonic() < deadline, "the killed server did not go away"
        time.sleep(0.01)


async def test_postgres_restarts_after_being_killed(pg: EmbeddedPostgres) -> None:
    pid = int((pg.data_dir / "postmaster.pid").read_text().split()[0])
    os.kill(pid, signal.SIGKILL)
    wait_until_stopped(pg)
    assert (pg.data_dir / "postmaster.pid").exists()  # stale lock file left by the killed server

    pg.start()
    assert await fetchval(pg.dsn, "SELECT 2") == 2


async def test_postgres_reuses_cluster_and_remembered_port(scratch: Path) -> None:
    first = EmbeddedPostgres(scratch, durable=False)
    with first:
        dsn = first.create_database("reactbin_test")
        assert first.create_database("reactbin_test") == dsn  # idempotent
        assert await fetchval(dsn, "SELECT current_database()") == "reactbin_test"
        port = first.port
    assert not first.is_running()

    second = EmbeddedPostgres(scratch, durable=False)
    with second:
        assert second.port == port
        assert await fetchval(second.dsn, "SELECT count(*) FROM pg_database WHERE datname = 'reactbin_test'") == 1


def test_postgres_busy_port_error_has_log_tail(scratch: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        server = EmbeddedPostgres(scratch, port=busy.getsockname()[1], durable=False)
        with pytest.raises(EmbeddedPostgresError, match="Address already in use") as failure:
            server.start()
    assert "server log tail" in str(failure.value)
    assert not server.is_running()


# ---------------------------------------------------------------------- SeaweedFS


@pytest.fixture(scope="module")
def seaweed() -> Iterator[EmbeddedSeaweedFS]:
    path = Path(tempfile.mkdtemp(prefix="reactbin-embedded-test-"))
    server = EmbeddedSeaweedFS(path, ACCESS_KEY, SECRET_KEY)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(path, ignore_errors=True)


def make_client(server: EmbeddedSeaweedFS, *, read_timeout: float = 10, secret_key: str = SECRET_KEY) -> Any:
    return Session().create_client(
        "s3",
        endpoint_url=server.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=secret_key,
        config=Config(
            s3={"addressing_style": "path"},
            retries={"total_max_attempts": 1},
            connect_timeout=1,
            read_timeout=read_timeout,
        ),
    )


def test_seaweedfs_binds_loopback_only(seaweed: EmbeddedSeaweedFS) -> None:
    ports = seaweed.ports
    assert seaweed.endpoint_url == f"http://127.0.0.1:{ports.s3}"
    assert len({ports.master, ports.volume, ports.filer, ports.s3, ports.admin}) == 5
    assert seaweed.log_path.exists()


def test_seaweedfs_object_round_trip(seaweed: EmbeddedSeaweedFS) -> None:
    seaweed.create_bucket("roundtrip")
    seaweed.create_bucket("roundtrip")  # already owned: no error
    s3 = make_client(seaweed)

    s3.put_object(Bucket="roundtrip", Key="images/a.jpg", Body=b"\xff\xd8 bytes", ContentType="image/jpeg")
    got = s3.get_object(Bucket="roundtrip", Key="images/a.jpg")
    assert got["Body"].read() == b"\xff\xd8 bytes"
    assert got["ContentType"] == "image/jpeg"

    s3.delete_object(Bucket="roundtrip", Key="images/a.jpg")
    with pytest.raises(ClientError) as head_missing:
        s3.head_object(Bucket="roundtrip", Key="images/a.jpg")
    assert head_missing.value.response["Error"]["Code"] == "404"
    with pytest.raises(ClientError) as get_missing:
        s3.get_object(Bucket="roundtrip", Key="images/a.jpg")
    assert get_missing.value.response["Error"]["Code"] == "NoSuchKey"


def test_seaweedfs_rejects_bad_signature(seaweed: EmbeddedSeaweedFS) -> None:
    with pytest.raises(ClientError):
        make_client(seaweed, secret_key="wrong").list_buckets()


def test_seaweedfs_pause_and_resume(seaweed: EmbeddedSeaweedFS) -> None:
    seaweed.create_bucket("paused")
    s3 = make_client(seaweed, read_timeout=0.3)
    seaweed.pause()
    try:
        with pytest.raises(ReadTimeoutError):
            s3.list_objects_v2(Bucket="paused")
    finally:
        seaweed.resume()
    assert s3.list_objects_v2(Bucket="paused")["KeyCount"] == 0


def test_seaweedfs_stop_and_start_keep_endpoint_and_data(seaweed: EmbeddedSeaweedFS) -> None:
    endpoint = seaweed.endpoint_url
    seaweed.create_bucket("kept")
    make_client(seaweed).put_object(Bucket="kept", Key="k", Body=b"v")

    seaweed.stop()
    assert not seaweed.is_running()
    with pytest.raises(EmbeddedSeaweedFSError):
        seaweed.pause()

    seaweed.start()  # leaves the shared server running for any later test
    assert seaweed.endpoint_url == endpoint
    assert make_client(seaweed).get_object(Bucket="kept", Key="k")["Body"].read() == b"v"
