"""Multipart uploads received straight from the request stream into a temp file, hashing as they arrive, and
how they are documented in OpenAPI.

Litestar's own form parsing collects parts without a filename in memory and only checks sizes after the
fact; here every limit is enforced while the bytes arrive, memory stays flat, and a rejected upload's temp
file is gone before the error is answered.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
import unicodedata
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import msgspec
from litestar import Request
from litestar.exceptions import InternalServerException
from litestar.openapi.spec import OpenAPIMediaType, Operation, RequestBody, Schema
from litestar.openapi.spec.enums import OpenAPIType
from multipart import MultipartSegment, ParserError, ParserLimitReached, PushMultipartParser

from reactbin import scratch
from reactbin.domain.uploads import ReceivedFile
from reactbin.errors import ClientGone, FileTooLarge, InvalidMultipart, MissingFile, RequestTooLarge

MAX_FIELD_BYTES = 8 * 1024
"""Largest non-file part (the tags field); anything bigger is refused, never buffered."""
MAX_PARTS = 16
_FLUSH_BYTES = 1024 * 1024
_MAX_FILENAME_BYTES = 200
# Room for a long (10 KB) filename in a part header; it is cut down by sanitise_filename.
_MAX_HEADER_BYTES = 16 * 1024
# Bidirectional overrides and isolates can make "gpj.exe" read as "exe.jpg".
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")


class ReceivedForm(msgspec.Struct, kw_only=True):
    file: ReceivedFile
    fields: dict[str, str]


class _Spool:
    """A temp file fed in ~1 MiB batches from a worker thread, so hashing and writing stay off the loop."""

    def __init__(self, directory: Path | None) -> None:
        fd, name = tempfile.mkstemp(prefix="reactbin-upload-", dir=directory or scratch.process_dir())
        self.path = Path(name)
        self._handle: BinaryIO = os.fdopen(fd, "wb")
        self._hash = hashlib.sha256()
        self._pending: list[bytes] = []
        self._pending_size = 0
        self.size = 0

    def _write(self, batch: list[bytes]) -> None:
        for piece in batch:
            self._hash.update(piece)
            self._handle.write(piece)

    async def add(self, data: bytes) -> None:
        self._pending.append(data)
        self._pending_size += len(data)
        self.size += len(data)
        if self._pending_size >= _FLUSH_BYTES:
            await self.flush()

    async def flush(self) -> None:
        batch, self._pending, self._pending_size = self._pending, [], 0
        if batch:
            await asyncio.to_thread(self._write, batch)

    async def finish(self) -> str:
        await self.flush()
        await asyncio.to_thread(self._handle.close)
        return self._hash.hexdigest()

    def discard(self) -> None:
        self._handle.close()
        self.path.unlink(missing_ok=True)


async def receive_form(
    stream: AsyncIterator[bytes],
    content_type: str,
    *,
    file_field: str,
    max_file_bytes: int,
    spool_dir: Path | None = None,
) -> ReceivedForm:
    """Parse a multipart body with exactly one file part named `file_field` and a few small text fields.

    Raises:
        InvalidMultipart: not multipart, no boundary, malformed or too many parts.
        MissingFile: no file part, or more than one.
        FileTooLarge: the file part exceeds `max_file_bytes` (decided as soon as it does).
        RequestTooLarge: a text field exceeds `MAX_FIELD_BYTES`.
    """
    boundary = _boundary(content_type)
    fields: dict[str, str] = {}
    spool: _Spool | None = None
    received: ReceivedFile | None = None
    files_seen = 0
    current: MultipartSegment | None = None
    field_buffer = bytearray()
    try:
        with PushMultipartParser(
            boundary,
            max_header_size=_MAX_HEADER_BYTES,
            max_header_count=8,
            max_segment_count=MAX_PARTS,
        ) as parser:
            async for chunk in _with_end_marker(stream):
                for event in parser.parse(chunk):
                    if isinstance(event, MultipartSegment):
                        current = event
                        if event.name == file_field and event.filename is not None:
                            files_seen += 1
                            if files_seen > 1:
                                raise MissingFile("Send exactly one file per upload")
                            spool = _Spool(spool_dir)
                        field_buffer = bytearray()
                    elif event:
                        if spool is not None and current is not None and current.filename is not None:
                            await spool.add(event)
                            if spool.size > max_file_bytes:
                                raise FileTooLarge(f"The file is larger than {max_file_bytes} bytes")
                        else:
                            field_buffer.extend(event)
                            if len(field_buffer) > MAX_FIELD_BYTES:
                                raise RequestTooLarge(f"Form fields are limited to {MAX_FIELD_BYTES} bytes")
                    else:
                        if current is None:
                            raise InvalidMultipart()
                        if current.filename is not None and current.name == file_field:
                            assert spool is not None
                            sha256 = await spool.finish()
                            received = ReceivedFile(
                                path=spool.path,
                                size=spool.size,
                                sha256=sha256,
                                filename=sanitise_filename(current.filename),
                            )
                            spool = None
                        elif current.filename is None:
                            if current.name in fields:
                                raise InvalidMultipart(f"The form field {current.name!r} is given more than once")
                            try:
                                fields[current.name] = field_buffer.decode("utf-8")
                            except UnicodeDecodeError:
                                raise InvalidMultipart("Form fields must be UTF-8 text") from None
                        current = None
            if not parser.closed:
                raise InvalidMultipart("The multipart body ended early")
    except ParserLimitReached:
        _cleanup(spool, received)
        raise InvalidMultipart(f"The form is too large or has too many parts (at most {MAX_PARTS})") from None
    except ParserError:
        _cleanup(spool, received)
        raise InvalidMultipart() from None
    except BaseException:
        _cleanup(spool, received)
        raise
    if received is None:
        raise MissingFile(f"The form needs a file part named {file_field!r}")
    return ReceivedForm(file=received, fields=fields)


async def _with_end_marker(stream: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """The body's non-empty chunks, then the empty chunk that tells the parser the body ended."""
    try:
        async for chunk in stream:
            if chunk:
                yield chunk
    except InternalServerException as exc:
        # Litestar reports a client that went away mid-body as a server error; it is an ordinary event.
        if "disconnected" in str(exc.detail):
            raise ClientGone() from None
        raise
    yield b""


def _cleanup(spool: _Spool | None, received: ReceivedFile | None) -> None:
    if spool is not None:
        spool.discard()
    if received is not None:
        received.discard()


def _boundary(content_type: str) -> str:
    media_type, _, params = content_type.partition(";")
    if media_type.strip().lower() != "multipart/form-data":
        raise InvalidMultipart("Send the upload as multipart/form-data")
    for param in params.split(";"):
        name, _, value = param.strip().partition("=")
        if name.lower() == "boundary" and value:
            boundary = value.strip('"')
            if 0 < len(boundary) <= 200:
                return boundary
    raise InvalidMultipart("The multipart Content-Type has no boundary")


def sanitise_filename(raw: str) -> str:
    """Keep only a base name that is safe to show and to put in a header.

    Path parts (either slash), control and bidi-override characters are dropped, the result is
    NFC-normalised and cut to at most 200 UTF-8 bytes, keeping the extension.
    """
    name = unicodedata.normalize("NFC", raw).replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch not in _BIDI_CONTROLS and unicodedata.category(ch)[0] != "C")
    name = name.strip().strip(".").strip()
    if not name:
        return "image"
    if len(name.encode("utf-8")) > _MAX_FILENAME_BYTES:
        stem, dot, ext = name.rpartition(".")
        ext = ext if dot and 0 < len(ext) <= 10 else ""
        budget = _MAX_FILENAME_BYTES - len(ext.encode("utf-8")) - (1 if ext else 0)
        base = stem if ext else name
        cut = base.encode("utf-8")[:budget].decode("utf-8", errors="ignore").rstrip()
        name = f"{cut}.{ext}" if ext else cut
    return name


# Multipart framing around the file: boundaries, part headers and the small text fields.
FORM_OVERHEAD = MAX_PARTS * (MAX_FIELD_BYTES + 512)


async def receive_upload(request: Request[Any, Any, Any], file_field: str, max_file_bytes: int) -> ReceivedForm:
    """The form of an upload route; a declared length far over the limit is refused before reading anything."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_file_bytes + FORM_OVERHEAD:
        raise FileTooLarge(f"The file is larger than {max_file_bytes} bytes")
    return await receive_form(
        request.stream(), request.headers.get("content-type", ""), file_field=file_field, max_file_bytes=max_file_bytes
    )


def multipart_operation(file_field: str, fields: dict[str, Schema]) -> type[Operation]:
    """An Operation class that documents a multipart body the handler reads itself (Litestar cannot infer it)."""
    body = RequestBody(
        required=True,
        content={
            "multipart/form-data": OpenAPIMediaType(
                schema=Schema(
                    type=OpenAPIType.OBJECT,
                    required=[file_field],
                    properties={
                        file_field: Schema(type=OpenAPIType.STRING, format="binary"),  # type: ignore[arg-type]
                        **fields,
                    },
                )
            )
        },
    )

    @dataclass
    class MultipartOperation(Operation):
        def __post_init__(self) -> None:
            self.request_body = body

    return MultipartOperation
