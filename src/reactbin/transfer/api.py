"""The few API calls import and export make, over aiohttp, with timeouts on everything.

aiohttp rather than httpx: it is already installed (aiobotocore uses it) and costs about a third of the client
CPU per request, which is what bounds a re-run over thousands of files that the server already has.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

API = "/api/v1"
_CHUNK = 256 * 1024


class Unreachable(Exception):
    """The server did not answer (refused, reset, timed out)."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any
    headers: Mapping[str, str]

    @property
    def code(self) -> str:
        return str(self.body.get("code", "")) if isinstance(self.body, dict) else ""

    @property
    def detail(self) -> str:
        if isinstance(self.body, dict) and "detail" in self.body:
            return str(self.body["detail"])
        return f"the server answered {self.status}"


@dataclass(frozen=True)
class Upload:
    """A multipart upload: the file part and the optional tags field."""

    filename: str
    data: bytes
    tags: str | None = None
    created_at: str | None = None

    def form(self) -> aiohttp.FormData:
        # Not percent-encoded: the server keeps the name as sent (`"<>` included, quoted per RFC 7578), where
        # aiohttp's default would store `"%3E%3C...` for a name such as `"><svg>.jpg`.
        form = aiohttp.FormData(quote_fields=False)
        if self.tags:
            form.add_field("tags", self.tags)
        if self.created_at:
            form.add_field("created_at", self.created_at)
        form.add_field("file", self.data, filename=self.filename, content_type="application/octet-stream")
        return form


class ApiClient:
    """A session against one server's API, sending the token with every request; use `async with`."""

    def __init__(self, server: str, token: str | None, *, connections: int, timeout: float) -> None:
        self.base = server.rstrip("/") + API
        self._headers = {"accept": "application/json", "user-agent": "reactbin-transfer"}
        if token:
            self._headers["authorization"] = f"Bearer {token}"
        # Every phase is bounded: a server that hangs makes each file fail after `timeout`, never the run hang.
        self._timeout = aiohttp.ClientTimeout(total=None, sock_connect=min(timeout, 5.0), sock_read=timeout)
        self._connections = connections
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> ApiClient:
        self._session = aiohttp.ClientSession(
            headers=self._headers,
            timeout=self._timeout,
            connector=aiohttp.TCPConnector(limit=self._connections, limit_per_host=self._connections),
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()

    @property
    def session(self) -> aiohttp.ClientSession:
        assert self._session is not None, "use ApiClient in `async with`"
        return self._session

    async def call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        json_body: Any = None,
        upload: Upload | None = None,
    ) -> Answer:
        """One request; transport failures become `Unreachable`, any HTTP status an `Answer`."""
        try:
            async with self.session.request(
                method,
                self.base + path,
                params=params,
                json=json_body,
                data=upload.form() if upload is not None else None,
                allow_redirects=False,
            ) as response:
                raw = await response.read()
                status, headers = response.status, response.headers
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise Unreachable(describe(exc)) from None
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError):
                body = None
        return Answer(status, body, headers)

    async def stream(self, path: str) -> AsyncIterator[bytes]:
        """The body of a GET in chunks; raises `Unreachable`, or ValueError for any status but 200."""
        try:
            async with self.session.get(self.base + path, allow_redirects=False) as response:
                if response.status != 200:
                    raise ValueError(f"the server answered {response.status}")
                async for chunk in response.content.iter_chunked(_CHUNK):
                    yield chunk
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise Unreachable(describe(exc)) from None


def describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return "the server did not answer in time"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return "cannot connect to the server"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "the server closed the connection"
    return f"the connection failed ({type(exc).__name__})"
