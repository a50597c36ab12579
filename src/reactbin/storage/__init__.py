"""Object storage: the protocol, its backends and the key scheme."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from reactbin.settings import Settings
from reactbin.storage.base import CHUNK_SIZE, ObjectReader, Storage
from reactbin.storage.filesystem import FilesystemStorage
from reactbin.storage.s3 import S3Storage

__all__ = ["CHUNK_SIZE", "FilesystemStorage", "ObjectReader", "S3Storage", "Storage", "download", "open_storage"]


async def download(storage: Storage, key: str, path: Path) -> None:
    """Stream an object into a local file (never the whole object in memory)."""
    reader = await storage.open(key)
    with path.open("wb") as out:
        async for chunk in reader.chunks():
            await asyncio.to_thread(out.write, chunk)


@contextlib.asynccontextmanager
async def open_storage(settings: Settings) -> AsyncIterator[Storage]:
    """Open the backend the settings name, for the lifetime of the block."""
    if settings.storage_backend == "s3":
        assert settings.s3 is not None
        async with S3Storage.connect(settings.s3) as storage:
            yield storage
    else:
        yield FilesystemStorage(settings.storage_dir)
