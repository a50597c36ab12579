"""A store in any S3-compatible bucket: AWS S3, Cloudflare R2, SeaweedFS, MinIO."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, BinaryIO

import aioboto3
import aiohttp
from aiobotocore.config import AioConfig
from botocore.exceptions import BotoCoreError, ClientError

from reactbin.errors import ObjectMissing, StorageError, StorageWriteError
from reactbin.settings import S3Settings
from reactbin.storage.base import CHUNK_SIZE
from reactbin.storage.sigv4 import ResponseBody, SignedRequests, session_for

IMMUTABLE = "public, max-age=31536000, immutable"
_SLOWEST_UPLOAD_BYTES_PER_SECOND = 1024 * 1024
_MISSING_CODES = frozenset({"NoSuchKey", "404", "NotFound"})
# Transport failures surface from aiohttp/asyncio as well as from botocore.
_FAILURES = (BotoCoreError, ClientError, OSError, asyncio.TimeoutError, aiohttp.ClientError)


@functools.cache
def _shared_session() -> aioboto3.Session:
    """One session per process: it holds botocore's parsed S3 model, which took ~110 ms to load for each client
    made from a new session (every app start; the clients themselves, with their own credentials, stay separate)."""
    return aioboto3.Session()


def _is_missing(exc: BaseException) -> bool:
    return isinstance(exc, ClientError) and exc.response.get("Error", {}).get("Code") in _MISSING_CODES


class S3Reader:
    """The body of one GetObject; closing it returns or drops its pooled connection."""

    def __init__(self, body: Any, read_timeout: float) -> None:
        self._body = body
        self._read_timeout = read_timeout
        self._closed = False

    async def chunks(self) -> AsyncIterator[bytes]:
        try:
            while True:
                try:
                    async with asyncio.timeout(self._read_timeout):
                        chunk = await self._body.read(CHUNK_SIZE)
                except _FAILURES as exc:
                    raise StorageError() from exc
                if not chunk:
                    return
                yield chunk
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            self._body.close()


class S3Storage:
    """Objects in one bucket, reached with one pooled aioboto3 client owned by the app's lifespan."""

    def __init__(self, client: Any, settings: S3Settings, getter: SignedRequests | None = None) -> None:
        self._client = client
        self._getter = getter
        self._bucket = settings.bucket
        self._read_timeout = settings.read_timeout
        # Every call gets an overall deadline as well: the HTTP client's own timeouts do not cover every
        # stall (a server that accepts the connection and then never answers an upload hung forever here).
        # One connect and one read bound a call, retries included: a store that is down answers quickly.
        self._deadline = settings.connect_timeout + settings.read_timeout

    def _deadline_for(self, size: int) -> float:
        return self._deadline + size / _SLOWEST_UPLOAD_BYTES_PER_SECOND

    @classmethod
    @contextlib.asynccontextmanager
    async def connect(cls, settings: S3Settings) -> AsyncIterator[S3Storage]:
        """Open a client for `settings` and close it on exit."""
        session = _shared_session()
        config = AioConfig(
            region_name=settings.region,
            signature_version="s3v4",
            connect_timeout=settings.connect_timeout,
            read_timeout=settings.read_timeout,
            # Standard mode counts the first try: one retry for a dropped pooled connection, within the deadline.
            retries={"max_attempts": 2, "mode": "standard"},
            max_pool_connections=settings.max_pool_connections,
            # R2 rejects the newer default checksums; validating CRC32 of every body cost a third of proxy CPU.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            s3={"addressing_style": "path" if settings.endpoint_url else "auto"},
        )
        async with contextlib.AsyncExitStack() as stack:
            client = await stack.enter_async_context(
                session.client(
                    "s3",
                    endpoint_url=settings.endpoint_url,
                    aws_access_key_id=settings.access_key_id,
                    aws_secret_access_key=settings.secret_access_key,
                    config=config,
                )
            )
            getter = None
            if settings.endpoint_url and settings.access_key_id and settings.secret_access_key:
                http = await stack.enter_async_context(
                    session_for(settings.connect_timeout, settings.read_timeout, settings.max_pool_connections)
                )
                getter = SignedRequests(
                    http,
                    endpoint_url=settings.endpoint_url,
                    bucket=settings.bucket,
                    region=settings.region,
                    access_key_id=settings.access_key_id,
                    secret_access_key=settings.secret_access_key,
                )
            yield cls(client, settings, getter)

    async def put_file(self, key: str, path: Path, content_type: str) -> None:
        try:
            if self._getter is not None:
                size = (await asyncio.to_thread(path.stat)).st_size
                await self._put_signed(self._getter, key, path, size, content_type)
                return
            body = await asyncio.to_thread(path.open, "rb")
            size = os.fstat(body.fileno()).st_size
            with body:
                async with asyncio.timeout(self._deadline_for(size)):
                    await self._client.put_object(
                        Bucket=self._bucket,
                        Key=key,
                        Body=body,
                        ContentLength=size,
                        ContentType=content_type,
                        CacheControl=IMMUTABLE,
                    )
        except _FAILURES as exc:
            raise StorageWriteError() from exc

    async def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        if self._getter is not None:
            await self._put_signed(self._getter, key, data, len(data), content_type)
            return
        try:
            async with asyncio.timeout(self._deadline_for(len(data))):
                await self._client.put_object(
                    Bucket=self._bucket, Key=key, Body=data, ContentType=content_type, CacheControl=IMMUTABLE
                )
        except _FAILURES as exc:
            raise StorageWriteError() from exc

    async def _put_signed(
        self, requests: SignedRequests, key: str, source: bytes | Path, size: int, content_type: str
    ) -> None:
        """One signed PUT, sent again once when a pooled connection turned out to be closed (as botocore retries)."""
        for attempt in range(2):
            body: bytes | BinaryIO = source if isinstance(source, bytes) else await asyncio.to_thread(source.open, "rb")
            try:
                async with asyncio.timeout(self._deadline_for(size)):
                    status = await requests.put(key, body, size, content_type, IMMUTABLE)
            except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as exc:
                if attempt == 0:
                    continue
                raise StorageWriteError() from exc
            except _FAILURES as exc:
                raise StorageWriteError() from exc
            finally:
                if not isinstance(body, bytes):
                    body.close()
            if status != 200:
                raise StorageWriteError()
            return

    async def open(self, key: str, byte_range: tuple[int, int] | None = None) -> S3Reader:
        if self._getter is not None:
            return await self._open_signed(self._getter, key, byte_range)
        extra = {} if byte_range is None else {"Range": f"bytes={byte_range[0]}-{byte_range[1]}"}
        try:
            async with asyncio.timeout(self._deadline):
                response = await self._client.get_object(Bucket=self._bucket, Key=key, **extra)
        except _FAILURES as exc:
            if _is_missing(exc):
                raise ObjectMissing() from None
            raise StorageError() from exc
        return S3Reader(response["Body"], self._read_timeout)

    async def _open_signed(self, getter: SignedRequests, key: str, byte_range: tuple[int, int] | None) -> S3Reader:
        try:
            async with asyncio.timeout(self._deadline):
                response = await getter.get(key, byte_range)
        except _FAILURES as exc:
            raise StorageError() from exc
        if response.status in (200, 206):
            return S3Reader(ResponseBody(response), self._read_timeout)
        response.close()
        if response.status == 404:
            raise ObjectMissing()
        raise StorageError()

    async def read_bytes(self, key: str) -> bytes:
        reader = await self.open(key)
        return b"".join([chunk async for chunk in reader.chunks()])

    async def delete(self, key: str) -> None:
        try:
            async with asyncio.timeout(self._deadline):
                await self._client.delete_object(Bucket=self._bucket, Key=key)
        except _FAILURES as exc:
            if _is_missing(exc):
                return
            raise StorageWriteError() from exc

    async def exists(self, key: str) -> bool:
        try:
            async with asyncio.timeout(self._deadline):
                await self._client.head_object(Bucket=self._bucket, Key=key)
        except _FAILURES as exc:
            if _is_missing(exc):
                return False
            raise StorageError() from exc
        return True

    async def list_keys(self, prefix: str) -> AsyncIterator[str]:
        paginator = self._client.get_paginator("list_objects_v2")
        try:
            async for page in paginator.paginate(Bucket=self._bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    yield item["Key"]
        except _FAILURES as exc:
            raise StorageError() from exc

    async def check(self) -> None:
        try:
            async with asyncio.timeout(self._deadline):
                if self._getter is None:
                    await self._client.head_bucket(Bucket=self._bucket)
                # Through the pool that serves GETs: a readiness probe leaves a connection open
                # there, so a process's first fetch does not pay the TCP handshake.
                elif await self._getter.head_bucket() != 200:
                    raise StorageError()
        except _FAILURES as exc:
            raise StorageError() from exc
