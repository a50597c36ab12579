"""The storage protocol every backend implements."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol

CHUNK_SIZE = 256 * 1024
"""Bytes per streamed chunk: small enough to keep memory flat, large enough to keep throughput (1 KiB chunks were
10x slower than 64 KiB-1 MiB ones here; see docs/benchmarks.md)."""


class ObjectReader(Protocol):
    """An open object (or a byte range of it) that yields chunks; must be closed even if not drained."""

    def chunks(self) -> AsyncIterator[bytes]:
        """Yield the bytes in order."""
        ...

    async def aclose(self) -> None:
        """Release the underlying connection or file; safe to call twice."""
        ...


class Storage(Protocol):
    """Object storage for originals and thumbnails.

    Errors: a missing key raises `ObjectMissing`; any other failure raises `StorageError`,
    whose message never names the backend, endpoint or bucket.
    """

    async def put_file(self, key: str, path: Path, content_type: str) -> None:
        """Store a local file under `key`, streaming it."""
        ...

    async def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        """Store a small in-memory object under `key`."""
        ...

    async def open(self, key: str, byte_range: tuple[int, int] | None = None) -> ObjectReader:
        """Open `key` for reading; `byte_range` is inclusive `(first, last)`."""
        ...

    async def read_bytes(self, key: str) -> bytes:
        """Read a whole (small) object into memory."""
        ...

    async def delete(self, key: str) -> None:
        """Delete `key`; deleting a missing key is not an error."""
        ...

    async def exists(self, key: str) -> bool:
        """Tell whether `key` exists."""
        ...

    def list_keys(self, prefix: str) -> AsyncIterator[str]:
        """Yield every key under `prefix`."""
        ...

    async def check(self) -> None:
        """Raise `StorageError` unless the store answers."""
        ...
