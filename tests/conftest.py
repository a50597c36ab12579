"""Real PostgreSQL and a real S3 server for the whole session; a fresh bucket and empty tables per test.

`DATABASE_URL` / `S3_ENDPOINT_URL` (+ `S3_ACCESS_KEY_ID`, `S3_SECRET_ACCESS_KEY`) point the suite at
servers that already run; otherwise it starts embedded PostgreSQL and SeaweedFS on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from reactbin.app import create_app
from reactbin.db.migrations import migrate
from reactbin.embedded import EmbeddedPostgres
from reactbin.media.ocr import CaptionReader
from reactbin.settings import S3Settings, Settings
from reactbin.storage import Storage, open_storage
from tests.support.database import truncate
from tests.support.seaweedfs import EmbeddedSeaweedFS

FIXTURES = Path(__file__).parent / "fixtures" / "images"
MEDIA = Path(__file__).parent / "fixtures" / "media"
REPO = Path(__file__).resolve().parents[1]
S3_ACCESS_KEY = "reactbin-test-access"
S3_SECRET_KEY = "reactbin-test-secret-0123456789"
_UNTRACKED = pytest.StashKey[set[str] | None]()


class S3Server:
    def __init__(self, endpoint_url: str, access_key: str, secret_key: str, server: EmbeddedSeaweedFS | None) -> None:
        self.endpoint_url = endpoint_url
        self.access_key = access_key
        self.secret_key = secret_key
        self.server = server

    def settings(self, bucket: str, /, **overrides: Any) -> S3Settings:
        """Settings for `bucket` on this server; `overrides` may replace any field (e.g. a proxy's endpoint_url)."""
        fields: dict[str, Any] = {
            "bucket": bucket,
            "endpoint_url": self.endpoint_url,
            "region": "us-east-1",
            "access_key_id": self.access_key,
            "secret_access_key": self.secret_key,
        }
        return S3Settings(**(fields | overrides))

    @functools.cached_property
    def _client(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name="us-east-1",
        )

    def new_bucket(self) -> str:
        name = f"test-{uuid.uuid4().hex[:12]}"
        self._client.create_bucket(Bucket=name)
        return name


@contextlib.contextmanager
def server_dir(name: str) -> Iterator[Path]:
    """A data directory outside pytest's tmp tree: a second pytest run resets that tree to 0700, which cuts
    off a PostgreSQL that runs as its own unprivileged user."""
    path = Path(tempfile.mkdtemp(prefix=f"reactbin-{name}-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def untracked_files(repo: Path) -> set[str] | None:
    """Files in the checkout that git neither tracks nor ignores (None outside a git checkout)."""
    done = subprocess.run(
        ["git", "-C", str(repo), "ls-files", "--others", "--exclude-standard"],
        capture_output=True,
        text=True,
        check=False,
    )
    return set(done.stdout.splitlines()) if done.returncode == 0 else None


def _is_xdist_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def pytest_sessionstart(session: pytest.Session) -> None:
    """Note the checkout's untracked files once, in the process that runs the whole session (pytest-xdist's
    controller when `make test` spreads the suite over workers, which would each see the others' files)."""
    if not _is_xdist_worker(session.config):
        session.config.stash[_UNTRACKED] = untracked_files(REPO)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """No test or command it runs may leave files in the checkout (a stray `pid2` once got committed that way)."""
    if _is_xdist_worker(session.config):
        return
    before = session.config.stash.get(_UNTRACKED, None)
    after = untracked_files(REPO)
    if before is not None and after is not None and (new := sorted(after - before)):
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_sep("=", f"the test session left files in the repository: {new}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session")
def postgres() -> Iterator[EmbeddedPostgres | None]:
    """The embedded server, or None when the suite runs against DATABASE_URL."""
    if os.environ.get("DATABASE_URL"):
        yield None
        return
    with server_dir("postgres") as data_dir:
        server = EmbeddedPostgres(data_dir, durable=False)
        server.start()
        try:
            yield server
        finally:
            server.stop()


async def _worker_database(url: str, worker: str) -> str:
    """`url` with a database of this pytest-xdist worker's own beside it (created when missing): the workers
    share the server given in DATABASE_URL, never each other's tables."""
    parts = urlsplit(url)
    name = f"{parts.path.lstrip('/') or 'postgres'}_{worker}"
    conn = await asyncpg.connect(url)
    try:
        with contextlib.suppress(asyncpg.DuplicateDatabaseError):
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return urlunsplit(parts._replace(path=f"/{name}"))


@pytest.fixture(scope="session")
async def database_url(postgres: EmbeddedPostgres | None, worker_id: str) -> str:
    """A migrated database for this session (each pytest-xdist worker starts its own embedded server)."""
    url = os.environ.get("DATABASE_URL") or (postgres.create_database("reactbin_test") if postgres else "")
    if os.environ.get("DATABASE_URL") and worker_id != "master":
        url = await _worker_database(url, worker_id)
    conn = await asyncpg.connect(url)
    try:
        await migrate(conn)
    finally:
        await conn.close()
    return url


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    if endpoint := os.environ.get("S3_ENDPOINT_URL"):
        yield S3Server(endpoint, os.environ["S3_ACCESS_KEY_ID"], os.environ["S3_SECRET_ACCESS_KEY"], None)
        return
    with server_dir("seaweedfs") as data_dir:
        server = EmbeddedSeaweedFS(data_dir, S3_ACCESS_KEY, S3_SECRET_KEY)
        server.start()
        try:
            yield S3Server(server.endpoint_url, S3_ACCESS_KEY, S3_SECRET_KEY, server)
        finally:
            server.stop()


@pytest.fixture(scope="session")
def caption_reader() -> Iterator[CaptionReader]:
    """One OCR process for the session: the model loads once (at the first read) and every OCR test shares it."""
    reader = CaptionReader(threads=1, frames=3, max_pixels=64_000_000)
    try:
        yield reader
    finally:
        reader.close()


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection to the test database, whose image, job and queue tables start empty."""
    conn = await asyncpg.connect(database_url)
    try:
        await truncate(
            conn,
            *("images", "thumbnail_jobs", "pgqueuer", "pgqueuer_log", "rate_limit_windows", "tag_aliases"),
            *("tag_implications", "users", "setup_codes", "oidc_logins", "chat_requests"),
        )
        yield conn
    finally:
        await conn.close()


AppFactory = Callable[..., contextlib.AbstractAsyncContextManager[AsyncTestClient[Any]]]


@pytest.fixture
def make_client(db: asyncpg.Connection, database_url: str, s3_server: S3Server, tmp_path: Path) -> AppFactory:
    """Start the real app on the test database and a fresh bucket (or directory) and give an HTTP client."""

    @contextlib.asynccontextmanager
    async def make(backend: str = "s3", **overrides: Any) -> AsyncIterator[AsyncTestClient[Any]]:
        s3_overrides = overrides.pop("s3", {})
        caption_reader = overrides.pop("caption_reader", None)
        # No job worker unless the test asks for one (`run_worker=True`), and OCR jobs only where a test asks for
        # them (tests/integration/test_ocr_jobs.py): elsewhere jobs stay queued.
        overrides = {"run_worker": False, "run_ocr": False} | overrides
        settings = Settings(
            database_url=database_url,
            storage_backend="s3" if backend == "s3" else "filesystem",
            storage_dir=tmp_path / "objects",
            s3=s3_server.settings(s3_server.new_bucket(), **s3_overrides) if backend == "s3" else None,
            **overrides,
        )
        async with AsyncTestClient(create_app(settings, caption_reader=caption_reader)) as client:
            yield client

    return make


@pytest.fixture
async def client(make_client: AppFactory) -> AsyncIterator[AsyncTestClient[Any]]:
    async with make_client() as client:
        yield client


@pytest.fixture
async def worker_client(make_client: AppFactory) -> AsyncIterator[AsyncTestClient[Any]]:
    """A client of an app that also runs the in-process job worker (previews, thumbnail jobs)."""
    async with make_client(run_worker=True) as client:
        yield client


def settings_of(client: AsyncTestClient[Any]) -> Settings:
    settings: Settings = client.app.state.resources.settings
    return settings


@contextlib.asynccontextmanager
async def storage_of(client: AsyncTestClient[Any]) -> AsyncIterator[Storage]:
    """A second connection to the app's store, on the test's event loop, to look at what really got stored."""
    async with open_storage(settings_of(client)) as storage:
        yield storage


async def stored_keys(client: AsyncTestClient[Any]) -> list[str]:
    async with storage_of(client) as storage:
        return sorted([key async for key in storage.list_keys("")])


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


async def upload(
    client: AsyncTestClient[Any],
    name: str,
    data: bytes | None = None,
    *,
    tags: str | None = None,
    content_type: str = "application/octet-stream",
) -> Any:
    files = {"file": (name, fixture_bytes(name) if data is None else data, content_type)}
    form = {"tags": tags} if tags is not None else None
    return await client.post("/api/v1/images", files=files, data=form)


FAST_S3 = {"connect_timeout": 0.5, "read_timeout": 0.5}
"""S3 timeouts for tests that make storage fail: errors come in about a second."""


@contextlib.contextmanager
def storage_hung(s3_server: S3Server) -> Iterator[None]:
    """SIGSTOP the S3 server: connections are accepted by the kernel but nothing ever answers."""
    if s3_server.server is None:
        pytest.skip("needs the embedded S3 server")
    s3_server.server.pause()
    try:
        yield
    finally:
        s3_server.server.resume()
