"""A fault-injecting TCP proxy between the service and its S3 server, for tests.

The proxy listens on ``127.0.0.1:<free port>`` and forwards every connection to one upstream address. It runs
its own event loop in a background thread, so tests may block (subprocesses, sleeps, sync clients) without
freezing it. Faults can be switched at any time and apply to open (pooled, keep-alive) connections as well as
new ones:

- ``passthrough()``: forward everything (reopens a refused listener; connections holding stalled bytes are
  reset, as a path that stalled loses what it held, so a given-up request never lands late).
- ``latency(per_connection=, per_chunk=)``: wait before serving a new connection and/or before each chunk.
- ``stall(after_bytes=N)``: forward N more response bytes per connection, then stop forwarding in both
  directions while keeping the sockets open (N=0: requests never reach the server: a hung server).
- ``reset(matching=None)``: answer with a TCP RST (SO_LINGER 0); with ``matching``, only connections whose next
  request line contains those bytes (e.g. ``b"/thumbnails/"``), so other requests still succeed.
- ``refuse()``: close the listener and drop open connections; connects are refused until ``passthrough()``.
- ``blackhole()``: a listener whose accept queue is full, so a connect's SYN is dropped and the connect hangs
  (exercises connect timeouts); cleared by ``passthrough()``.

``requests`` lists the request lines seen (``"PUT /bucket/key"``), ``bytes_down`` counts the bytes forwarded
from the server to its clients, and ``open_connections`` counts live connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import re
import select
import socket
import struct
import threading
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Literal, TypeVar
from urllib.parse import urlsplit

import pytest

from tests.conftest import S3Server

Mode = Literal["pass", "stall", "reset", "refuse", "blackhole"]
T = TypeVar("T")

_HOST = "127.0.0.1"
_READ_SIZE = 64 * 1024
_REQUEST_LINE = re.compile(rb"^([A-Z]+) (\S+) HTTP/1\.[01]\r\n")


@dataclass(eq=False)
class _Connection:
    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter | None = None
    generation: int = -1
    sent_in_generation: int = 0
    held: bool = False  # bytes wait in a stall
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


class FaultProxy:
    """See the module docstring. Use as a context manager, or call `start()` and `close()`."""

    def __init__(self, upstream_url: str) -> None:
        parts = urlsplit(upstream_url)
        assert parts.hostname is not None, upstream_url
        assert parts.port is not None, upstream_url
        self._upstream = (parts.hostname, parts.port)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fault-proxy", daemon=True)
        self._server: asyncio.Server | None = None
        self._blackhole: list[socket.socket] = []
        self._connections: set[_Connection] = set()
        self._changed = asyncio.Event()
        self.port = 0
        self.mode: Mode = "pass"
        self._generation = 0
        self._stall_after = 0
        self._reset_matching: bytes | None = None
        self._connection_latency = 0.0
        self._chunk_latency = 0.0
        self.requests: list[str] = []
        self.bytes_down = 0

    # ------------------------------------------------------------------ lifecycle

    @property
    def url(self) -> str:
        return f"http://{_HOST}:{self.port}"

    @property
    def open_connections(self) -> int:
        return len(self._connections)

    def start(self) -> FaultProxy:
        self._thread.start()
        self._call(self._listen)
        return self

    def close(self) -> None:
        if not self._thread.is_alive():
            return
        with contextlib.suppress(Exception):
            self._call(self._shutdown)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        if not self._thread.is_alive():
            self._loop.close()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ faults

    def passthrough(self) -> None:
        self._configure("pass")

    def latency(self, *, per_connection: float = 0.0, per_chunk: float = 0.0) -> None:
        self._configure("pass", connection_latency=per_connection, chunk_latency=per_chunk)

    def stall(self, after_bytes: int = 0) -> None:
        self._configure("stall", stall_after=after_bytes)

    def reset(self, matching: bytes | None = None) -> None:
        self._configure("reset", reset_matching=matching)

    def refuse(self) -> None:
        self._configure("refuse")

    def blackhole(self) -> None:
        self._configure("blackhole")

    def _configure(
        self,
        mode: Mode,
        *,
        stall_after: int = 0,
        reset_matching: bytes | None = None,
        connection_latency: float = 0.0,
        chunk_latency: float = 0.0,
    ) -> None:
        async def apply() -> None:
            if self.mode == "stall" and mode != "stall":
                # A stalled path loses what it held: the client gave up on those requests long ago, and
                # delivering them now would land a write (or a delete) after the test has moved on.
                for conn in [conn for conn in self._connections if conn.held]:
                    self._drop(conn, rst=True)
            self.mode = mode
            self._generation += 1
            self._stall_after = stall_after
            self._reset_matching = reset_matching
            self._connection_latency = connection_latency
            self._chunk_latency = chunk_latency
            if mode in ("refuse", "blackhole"):
                await self._stop_listening()
                for conn in list(self._connections):
                    self._drop(conn, rst=False)
                if mode == "blackhole":
                    self._fill_accept_queue()
            elif self._server is None:
                self._clear_blackhole()
                await self._listen()
            # Wake pumps waiting in a stall so they re-read the mode.
            self._changed.set()
            self._changed = asyncio.Event()

        self._call(apply)

    # ------------------------------------------------------------------ internals (proxy thread)

    def _call(self, factory: Callable[[], Awaitable[T]]) -> T:
        async def run() -> T:
            return await factory()

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(10)

    async def _listen(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((_HOST, self.port))
        self.port = sock.getsockname()[1]
        self._server = await asyncio.start_server(self._serve, sock=sock, limit=_READ_SIZE)

    async def _stop_listening(self) -> None:
        if self._server is not None:
            server, self._server = self._server, None
            server.close()

    def _fill_accept_queue(self) -> None:
        """Listen with a backlog of 0 and queue connections until one does not complete: later SYNs are dropped."""
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((_HOST, self.port))
        listener.listen(0)
        self._blackhole.append(listener)
        for _ in range(8):
            filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            filler.setblocking(False)
            self._blackhole.append(filler)
            if filler.connect_ex((_HOST, self.port)) not in (0, errno.EINPROGRESS):
                break
            # A queued connection completes at once on loopback; a dropped SYN leaves it pending.
            _, writable, _ = select.select([], [filler], [], 0.2)
            if not writable or filler.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) != 0:
                return
        raise RuntimeError("could not fill the accept queue")

    def _clear_blackhole(self) -> None:
        for sock in self._blackhole:
            sock.close()
        self._blackhole.clear()

    async def _shutdown(self) -> None:
        await self._stop_listening()
        self._clear_blackhole()
        for conn in list(self._connections):
            self._drop(conn, rst=False)
        self._changed.set()
        # Let every connection handler and pump finish before the loop stops.
        pending = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    def _drop(self, conn: _Connection, *, rst: bool) -> None:
        for writer in (conn.client, conn.upstream):
            if writer is None:
                continue
            if rst:
                sock = writer.get_extra_info("socket")
                if sock is not None:
                    with contextlib.suppress(OSError):
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                writer.transport.abort()
            else:
                writer.close()
        for task in conn.tasks:
            if task is not asyncio.current_task():
                task.cancel()
        self._connections.discard(conn)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = _Connection(client=writer)
        self._connections.add(conn)
        try:
            if self.mode == "reset" and self._reset_matching is None:
                self._drop(conn, rst=True)
                return
            if self._connection_latency:
                await asyncio.sleep(self._connection_latency)
            try:
                up_reader, conn.upstream = await asyncio.open_connection(*self._upstream, limit=_READ_SIZE)
            except OSError:
                self._drop(conn, rst=True)
                return
            conn.tasks = [
                asyncio.create_task(self._pump(conn, reader, conn.upstream, upstream=True)),
                asyncio.create_task(self._pump(conn, up_reader, writer, upstream=False)),
            ]
            await asyncio.gather(*conn.tasks, return_exceptions=True)
        finally:
            if conn in self._connections:
                self._drop(conn, rst=False)

    def _stalled(self, conn: _Connection) -> bool:
        if self.mode != "stall":
            return False
        if conn.generation != self._generation:
            conn.generation, conn.sent_in_generation = self._generation, 0
        return conn.sent_in_generation >= self._stall_after

    async def _pump(
        self, conn: _Connection, source: asyncio.StreamReader, target: asyncio.StreamWriter, *, upstream: bool
    ) -> None:
        try:
            while True:
                data = await source.read(_READ_SIZE)
                if not data:
                    break
                line = _REQUEST_LINE.match(data) if upstream else None
                if line is not None:
                    self.requests.append(f"{line[1].decode()} {line[2].decode()}")
                while data:
                    if self.mode == "reset" and (
                        self._reset_matching is None or (line is not None and self._reset_matching in line[2])
                    ):
                        self._drop(conn, rst=True)
                        return
                    if self._stalled(conn):
                        conn.held = True
                        await self._changed.wait()
                        conn.held = False
                        continue
                    if self._chunk_latency:
                        await asyncio.sleep(self._chunk_latency)
                    piece = data
                    if self.mode == "stall" and not upstream:
                        piece = data[: self._stall_after - conn.sent_in_generation]
                        conn.sent_in_generation += len(piece)
                    target.write(piece)
                    if not upstream:
                        self.bytes_down += len(piece)
                    await target.drain()
                    data = data[len(piece) :]
            if target.can_write_eof():
                target.write_eof()
        except (OSError, asyncio.IncompleteReadError):
            self._drop(conn, rst=True)


@contextlib.contextmanager
def running_proxy(upstream_url: str) -> Iterator[FaultProxy]:
    proxy = FaultProxy(upstream_url).start()
    try:
        yield proxy
    finally:
        proxy.close()


@pytest.fixture
def fault_proxy(s3_server: S3Server) -> Iterator[FaultProxy]:
    """A pass-through proxy in front of the session's S3 server; faults are switched by the test."""
    with running_proxy(s3_server.endpoint_url) as proxy:
        yield proxy
