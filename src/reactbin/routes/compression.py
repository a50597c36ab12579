"""gzip and brotli for text responses (API JSON, the UI's HTML, JS and CSS), as ASGI middleware outside every route.

Only text is compressed: image and video bytes are already compressed, and the proxy routes' `Range`/`ETag`
answers describe the stored bytes exactly, so anything with a `Content-Range`, a `Content-Encoding` of its own
(the UI's precompressed assets) or `Cache-Control: no-transform` passes untouched. Bodies under `MIN_BYTES` are
left alone: a few hundred bytes fit one packet either way and compressing them costs more than it saves.
The levels were measured on the API's own JSON (docs/benchmarks.md, "compression"): brotli 1 compresses a 50-image
list (40 KiB) to 5.5 KiB in ~70 µs, smaller than gzip 6 does in ~380 µs; brotli 4 saves another 0.5 KiB for four
times the CPU, which under load cost a third of the list's requests per second. Level 1 for both, then.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Callable

import brotli
from litestar.enums import ScopeType
from litestar.types import ASGIApp, HTTPResponseBodyEvent, HTTPResponseStartEvent, Message, Receive, Scope, Send

MIN_BYTES = 1024
"""Smaller bodies are sent as they are."""
BROTLI_QUALITY = 1
GZIP_LEVEL = 1
THREAD_BYTES = 256 * 1024
"""A body this large is compressed in a worker thread, so the event loop never stalls on it (a 200-image list
is ~150 KB and takes ~1 ms inline; a larger text body than that is rare and gets the thread)."""

ENCODINGS = ("br", "gzip")
"""What this server produces, best first: on a tie in the client's preference, brotli wins."""

_TEXT_TYPES = frozenset(
    {
        "application/json",
        "application/javascript",
        "application/manifest+json",
        "application/xml",
        "application/x-ndjson",
    }
)


def preferred_encoding(accept_encoding: str) -> str | None:
    """The encoding of ENCODINGS the client ranks highest in `Accept-Encoding` (None: send the bytes as they are).

    `q=0` refuses an encoding; `*` stands for every encoding not named; a malformed weight counts as refusal.
    """
    weights: dict[str, float] = {}
    for part in accept_encoding.split(","):
        name, _, params = part.strip().partition(";")
        name = name.strip().lower()
        if not name:
            continue
        weight = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        weights[name] = weight if 0.0 <= weight <= 1.0 else 0.0
    best: str | None = None
    best_weight = 0.0
    for encoding in ENCODINGS:
        weight = weights.get(encoding, weights.get("*", 0.0))
        if weight > best_weight:
            best, best_weight = encoding, weight
    return best


def is_text(content_type: str) -> bool:
    """Whether a response of this type is worth compressing: text, JSON, JavaScript; never images or video."""
    base = content_type.split(";", 1)[0].strip().lower()
    if base == "text/event-stream":
        return False  # events must leave when written, not when a compressor's buffer fills
    return base.startswith("text/") or base in _TEXT_TYPES or base.endswith("+json")


class _Stream:
    """One response's compressor; `flush` ends each chunk so a streamed body is never held back."""

    def __init__(self, encoding: str) -> None:
        self._brotli = brotli.Compressor(quality=BROTLI_QUALITY) if encoding == "br" else None
        self._gzip = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31) if encoding == "gzip" else None

    def chunk(self, data: bytes, *, last: bool) -> bytes:
        if self._brotli is not None:
            out = self._brotli.process(data)
            # flush() is in the brotli module (1.1+) but missing from its stubs.
            return out + (self._brotli.finish() if last else self._brotli.flush())  # type: ignore[attr-defined]
        assert self._gzip is not None
        return self._gzip.compress(data) + self._gzip.flush(zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH)


def compress(data: bytes, encoding: str) -> bytes:
    """A whole body, compressed with `encoding` ("br" or "gzip") at the levels above."""
    if encoding == "br":
        return bytes(brotli.compress(data, quality=BROTLI_QUALITY))
    return zlib.compress(data, GZIP_LEVEL, wbits=31)


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


def _with_vary(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    vary = _header(headers, b"vary")
    if vary is None:
        return [*headers, (b"vary", b"accept-encoding")]
    if b"accept-encoding" in vary.lower() or vary.strip() == b"*":
        return headers
    return [(k, v + b", accept-encoding" if k.lower() == b"vary" else v) for k, v in headers]


def _compressed_headers(headers: list[tuple[bytes, bytes]], encoding: str) -> list[tuple[bytes, bytes]]:
    """Headers of the compressed variant: no length (set again when known), no ranges, a weak ETag."""
    dropped = {b"content-length", b"accept-ranges"}
    out: list[tuple[bytes, bytes]] = []
    for key, value in _with_vary(headers):
        lowered = key.lower()
        if lowered in dropped:
            continue
        if lowered == b"etag" and not value.startswith(b"W/"):
            # The same entity in another coding: a strong validator would promise byte-equality it no longer has.
            value = b"W/" + value
        out.append((key, value))
    out.append((b"content-encoding", encoding.encode()))
    return out


class Compression:
    """Compress text responses for clients that accept brotli or gzip (see the module docstring for what is not)."""

    def __init__(self, app: ASGIApp, *, min_bytes: int = MIN_BYTES) -> None:
        self._app = app
        self._min_bytes = min_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or scope["method"] == "HEAD":
            await self._app(scope, receive, send)
            return
        accept = _header(list(scope["headers"]), b"accept-encoding")
        encoding = preferred_encoding(accept.decode("latin-1")) if accept else None
        await self._app(scope, receive, _Sender(send, encoding, self._min_bytes))


class _Sender:
    """The `send` of one response: decides at its start, then passes, buffers or compresses its body."""

    def __init__(self, send: Send, encoding: str | None, min_bytes: int) -> None:
        self._send = send
        self._encoding = encoding
        self._min_bytes = min_bytes
        self._start: HTTPResponseStartEvent | None = None
        self._stream: _Stream | None = None
        self._passing = True

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            await self._on_start(message)
        elif message["type"] == "http.response.body" and not self._passing:
            await self._on_body(message)
        else:
            await self._send(message)

    async def _on_start(self, message: HTTPResponseStartEvent) -> None:
        headers = [(bytes(k), bytes(v)) for k, v in message.get("headers", [])]
        content_type = _header(headers, b"content-type")
        cache_control = _header(headers, b"cache-control") or b""
        eligible = (
            content_type is not None
            and is_text(content_type.decode("latin-1"))
            and message["status"] not in (204, 206, 304)
            and _header(headers, b"content-encoding") is None
            and _header(headers, b"content-range") is None
            and b"no-transform" not in cache_control.lower()
        )
        if not eligible:
            await self._send(message)
            return
        message["headers"] = headers = _with_vary(headers)
        length = _header(headers, b"content-length")
        small = length is not None and length.isdigit() and int(length) < self._min_bytes
        if self._encoding is None or small:
            await self._send(message)
            return
        self._start = message
        self._passing = False

    async def _on_body(self, message: HTTPResponseBodyEvent) -> None:
        body = message.get("body", b"")
        more = message.get("more_body", False)
        encoding = self._encoding
        assert encoding is not None
        if self._start is not None:
            start, self._start = self._start, None
            headers = [(bytes(k), bytes(v)) for k, v in start.get("headers", [])]
            if not more:
                # The whole body at once (every JSON answer): compressed in one go, with its length.
                if len(body) < self._min_bytes:
                    self._passing = True
                    await self._send(start)
                    await self._send(message)
                    return
                packed = await _run(compress, body, encoding)
                start["headers"] = [*_compressed_headers(headers, encoding), (b"content-length", b"%d" % len(packed))]
                await self._send(start)
                await self._send({"type": "http.response.body", "body": packed, "more_body": False})
                return
            self._stream = _Stream(encoding)
            start["headers"] = _compressed_headers(headers, encoding)
            await self._send(start)
        assert self._stream is not None
        stream = self._stream
        packed = await _run(lambda data, _: stream.chunk(data, last=not more), body, encoding)
        await self._send({"type": "http.response.body", "body": packed, "more_body": more})


async def _run(function: Callable[[bytes, str], bytes], data: bytes, encoding: str) -> bytes:
    if len(data) >= THREAD_BYTES:
        return await asyncio.to_thread(function, data, encoding)
    return function(data, encoding)
