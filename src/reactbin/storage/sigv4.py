"""GETs and PUTs signed here and sent on one aiohttp session: the proxy's reads and the upload's writes without
botocore.

botocore's per-call machinery (endpoint rules, event hooks, user agent, response parsing) cost about 2 ms of CPU
per GetObject here, more than moving a 100 KiB object across a 1 Gbit/s link, and a PutObject more (over plain
HTTP it also hashes the whole body for the signature, on the event loop; see docs/benchmarks.md). A GET or a PUT
needs none of it: AWS Signature V4 over `host`, `x-amz-content-sha256: UNSIGNED-PAYLOAD` and `x-amz-date`, with
the day's signing key cached. Used for S3-compatible endpoints (R2, MinIO, SeaweedFS) with static credentials;
everything else (AWS's own endpoints, deletes, listings) stays with botocore.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from typing import BinaryIO
from urllib.parse import quote, urlsplit

import aiohttp
from yarl import URL

_UNSIGNED = "UNSIGNED-PAYLOAD"
_SIGNED_HEADERS = "host;x-amz-content-sha256;x-amz-date"
_DEFAULT_PORTS = {"http": 80, "https": 443}


class SignedRequests:
    """Path-style GETs and PUTs of one bucket, signed with SigV4."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        endpoint_url: str,
        bucket: str,
        region: str,
        access_key_id: str,
        secret_access_key: str,
    ) -> None:
        parts = urlsplit(endpoint_url)
        port = parts.port
        self._host = parts.hostname or ""
        if port is not None and port != _DEFAULT_PORTS.get(parts.scheme):
            self._host = f"{self._host}:{port}"
        self._origin = f"{parts.scheme}://{self._host}"
        self._prefix = f"{parts.path.rstrip('/')}/{quote(bucket, safe='')}"
        self._session = session
        self._region = region
        self._access_key = access_key_id
        self._secret = secret_access_key.encode()
        self._signing_key: tuple[str, bytes] = ("", b"")

    def _key_for(self, day: str) -> bytes:
        if self._signing_key[0] != day:
            key = hmac.new(b"AWS4" + self._secret, day.encode(), hashlib.sha256).digest()
            for part in (self._region, "s3", "aws4_request"):
                key = hmac.new(key, part.encode(), hashlib.sha256).digest()
            self._signing_key = (day, key)
        return self._signing_key[1]

    def headers(self, path: str, now: dt.datetime, method: str = "GET") -> dict[str, str]:
        """The signed headers of a request for `path` (already URI-encoded) at `now`."""
        stamp = now.strftime("%Y%m%dT%H%M%SZ")
        day = stamp[:8]
        canonical = (
            f"{method}\n{path}\n\nhost:{self._host}\nx-amz-content-sha256:{_UNSIGNED}\nx-amz-date:{stamp}\n\n"
            f"{_SIGNED_HEADERS}\n{_UNSIGNED}"
        )
        scope = f"{day}/{self._region}/s3/aws4_request"
        to_sign = f"AWS4-HMAC-SHA256\n{stamp}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
        signature = hmac.new(self._key_for(day), to_sign.encode(), hashlib.sha256).hexdigest()
        return {
            "host": self._host,
            "x-amz-content-sha256": _UNSIGNED,
            "x-amz-date": stamp,
            "authorization": (
                f"AWS4-HMAC-SHA256 Credential={self._access_key}/{scope}, "
                f"SignedHeaders={_SIGNED_HEADERS}, Signature={signature}"
            ),
        }

    def _path(self, key: str) -> str:
        return f"{self._prefix}/{quote(key, safe='/-_.~')}"

    async def get(self, key: str, byte_range: tuple[int, int] | None) -> aiohttp.ClientResponse:
        path = self._path(key)
        headers = self.headers(path, dt.datetime.now(dt.UTC))
        if byte_range is not None:
            headers["range"] = f"bytes={byte_range[0]}-{byte_range[1]}"
        return await self._session.get(URL(self._origin + path, encoded=True), headers=headers, allow_redirects=False)

    async def head_bucket(self) -> int:
        """HEAD the bucket; returns the status. Readiness checks go this way so they warm the pool GETs use."""
        path = self._prefix
        headers = self.headers(path, dt.datetime.now(dt.UTC), "HEAD")
        async with self._session.head(
            URL(self._origin + path, encoded=True), headers=headers, allow_redirects=False
        ) as response:
            return response.status

    async def put(self, key: str, body: bytes | BinaryIO, size: int, content_type: str, cache_control: str) -> int:
        """PUT an object; returns the status. A file body is read by aiohttp on its executor, in 64 KiB pieces."""
        path = self._path(key)
        headers = self.headers(path, dt.datetime.now(dt.UTC), "PUT")
        headers.update({"content-type": content_type, "cache-control": cache_control, "content-length": str(size)})
        async with self._session.put(
            URL(self._origin + path, encoded=True), data=body, headers=headers, allow_redirects=False
        ) as response:
            await response.read()
            return response.status


class ResponseBody:
    """An aiohttp response with the two methods the S3 reader uses on a botocore body."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response
        self._done = False

    async def read(self, size: int) -> bytes:
        chunk = await self._response.content.read(size)
        if not chunk:
            self._done = True
        return chunk

    def close(self) -> None:
        # A drained body gives its connection back to the pool; one abandoned half-way must not be reused.
        if self._done:
            self._response.release()
        else:
            self._response.close()


def session_for(connect_timeout: float, read_timeout: float, pool_size: int) -> aiohttp.ClientSession:
    timeout = aiohttp.ClientTimeout(sock_connect=connect_timeout, sock_read=read_timeout)
    connector = aiohttp.TCPConnector(limit=pool_size, ttl_dns_cache=300)
    return aiohttp.ClientSession(timeout=timeout, connector=connector, auto_decompress=False)
