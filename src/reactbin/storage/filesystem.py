"""A store in a local directory: the embedded default for one machine."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO

from reactbin.errors import ObjectMissing, StorageError, StorageWriteError
from reactbin.storage.base import CHUNK_SIZE


class FileReader:
    """Chunks of a local file read off the event loop."""

    def __init__(self, handle: BinaryIO, remaining: int) -> None:
        self._handle = handle
        self._remaining = remaining

    async def chunks(self) -> AsyncIterator[bytes]:
        try:
            while self._remaining > 0:
                chunk = await asyncio.to_thread(self._handle.read, min(CHUNK_SIZE, self._remaining))
                if not chunk:
                    raise StorageError()
                self._remaining -= len(chunk)
                yield chunk
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        if not self._handle.closed:
            self._handle.close()


class FilesystemStorage:
    """Objects as files under `root`; keys map to relative paths and are written atomically."""

    def __init__(self, root: Path) -> None:
        self._root = root.resolve()

    def _path(self, key: str) -> Path:
        path = (self._root / key).resolve()
        if not path.is_relative_to(self._root) or path == self._root:
            raise StorageError()
        return path

    async def put_file(self, key: str, path: Path, content_type: str) -> None:
        await self._write(key, lambda out: _copy_file(path, out))

    async def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        await self._write(key, lambda out: out.write(data))

    async def _write(self, key: str, fill: object) -> None:
        target = self._path(key)

        def write() -> None:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as out:
                    fill(out)  # type: ignore[operator]
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise

        try:
            await asyncio.to_thread(write)
        except OSError as exc:
            raise StorageWriteError() from exc

    async def open(self, key: str, byte_range: tuple[int, int] | None = None) -> FileReader:
        path = self._path(key)

        def open_file() -> tuple[BinaryIO, int]:
            handle = path.open("rb")
            size = os.fstat(handle.fileno()).st_size
            if byte_range is None:
                return handle, size
            handle.seek(byte_range[0])
            return handle, byte_range[1] - byte_range[0] + 1

        try:
            handle, remaining = await asyncio.to_thread(open_file)
        except FileNotFoundError:
            raise ObjectMissing() from None
        except OSError as exc:
            raise StorageError() from exc
        return FileReader(handle, remaining)

    async def read_bytes(self, key: str) -> bytes:
        try:
            return await asyncio.to_thread(self._path(key).read_bytes)
        except FileNotFoundError:
            raise ObjectMissing() from None
        except OSError as exc:
            raise StorageError() from exc

    async def delete(self, key: str) -> None:
        try:
            await asyncio.to_thread(self._path(key).unlink, missing_ok=True)
        except OSError as exc:
            raise StorageWriteError() from exc

    async def exists(self, key: str) -> bool:
        return await asyncio.to_thread(self._path(key).is_file)

    async def list_keys(self, prefix: str) -> AsyncIterator[str]:
        def walk() -> list[str]:
            if not self._root.exists():
                return []
            keys = []
            for dirpath, _dirs, files in os.walk(self._root):
                for name in files:
                    if name.startswith(".tmp-"):
                        continue
                    key = (Path(dirpath) / name).relative_to(self._root).as_posix()
                    if key.startswith(prefix):
                        keys.append(key)
            return sorted(keys)

        for key in await asyncio.to_thread(walk):
            yield key

    async def check(self) -> None:
        def probe() -> None:
            self._root.mkdir(parents=True, exist_ok=True)
            if not os.access(self._root, os.W_OK):
                raise PermissionError(str(self._root))

        try:
            await asyncio.to_thread(probe)
        except OSError as exc:
            raise StorageError() from exc


def _copy_file(source: Path, out: BinaryIO) -> None:
    with source.open("rb") as src:
        shutil.copyfileobj(src, out, CHUNK_SIZE)
