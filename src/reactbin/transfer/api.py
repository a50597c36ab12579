"""The few API calls import and export make, over httpx, with timeouts on everything."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx

API = "/api/v1"


class Unreachable(Exception):
    """The server did not answer (refused, reset, timed out)."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any
    headers: httpx.Headers

    @property
    def code(self) -> str:
        return str(self.body.get("code", "")) if isinstance(self.body, dict) else ""

    @property
    def detail(self) -> str:
        if isinstance(self.body, dict) and "detail" in self.body:
            return str(self.body["detail"])
        return f"the server answered {self.status}"


def open_client(server: str, token: str | None, *, connections: int, timeout: float) -> httpx.AsyncClient:
    """A client for `server` (`http://host:port`) sending `token` with every request."""
    headers = {"accept": "application/json", "user-agent": "reactbin-transfer"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    return httpx.AsyncClient(
        base_url=server.rstrip("/") + API,
        headers=headers,
        # Every phase is bounded: a server that hangs makes each file fail after `timeout`, never the run hang.
        timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        follow_redirects=False,
    )


async def call(client: httpx.AsyncClient, method: str, path: str, **kwargs: Any) -> Answer:
    """One request; transport failures become `Unreachable`, any HTTP status an `Answer`."""
    try:
        response = await client.request(method, path, **kwargs)
    except httpx.TransportError as exc:
        raise Unreachable(_describe(exc)) from None
    body: Any = None
    if response.content:
        try:
            body = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = None
    return Answer(response.status_code, body, response.headers)


def _describe(exc: httpx.TransportError) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "the server did not answer in time"
    if isinstance(exc, httpx.ConnectError):
        return "cannot connect to the server"
    return f"the connection failed ({type(exc).__name__})"
