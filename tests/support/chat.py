"""Chat platforms as the tests play them: requests signed with keys made here, and a loopback stand-in that records
what reactbin posts to it (Slack's response_url, Discord's REST API)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlencode

from nacl.encoding import HexEncoder
from nacl.signing import SigningKey


class DiscordSigner:
    """An application's Ed25519 key pair, as Discord holds it; the public half goes into DISCORD_PUBLIC_KEY."""

    def __init__(self) -> None:
        self.key = SigningKey.generate()
        self.public_key = self.key.verify_key.encode(HexEncoder).decode()

    def headers(self, body: bytes, timestamp: int | None = None) -> dict[str, str]:
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        signature = self.key.sign(stamp.encode() + body).signature.hex()
        return {"x-signature-ed25519": signature, "x-signature-timestamp": stamp, "content-type": "application/json"}


def interaction(kind: int, data: dict[str, Any] | None = None) -> bytes:
    """An interaction body as Discord sends it (every interaction has its own id)."""
    body: dict[str, Any] = {"id": str(uuid.uuid4().int >> 64), "application_id": "1234", "type": kind, "token": "t"}
    if data is not None:
        body["data"] = data
    return json.dumps(body).encode()


def command(query: str) -> bytes:
    option = {"name": "query", "type": 3, "value": query}
    return interaction(2, {"id": "1", "name": "react", "type": 1, "options": [option]})


def autocomplete(typed: str) -> bytes:
    option = {"name": "query", "type": 3, "value": typed, "focused": True}
    return interaction(4, {"id": "1", "name": "react", "type": 1, "options": [option]})


def click(custom_id: str) -> bytes:
    return interaction(3, {"custom_id": custom_id, "component_type": 2})


class SlackSigner:
    """A Slack app's signing secret; it goes into SLACK_SIGNING_SECRET."""

    def __init__(self) -> None:
        self.secret = secrets.token_hex(16)

    def headers(self, body: bytes, timestamp: int | None = None) -> dict[str, str]:
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        digest = hmac.new(self.secret.encode(), f"v0:{stamp}:".encode() + body, hashlib.sha256).hexdigest()
        return {
            "x-slack-signature": f"v0={digest}",
            "x-slack-request-timestamp": stamp,
            "content-type": "application/x-www-form-urlencoded",
        }


def slack_command(text: str, response_url: str = "https://hooks.slack.com/commands/T1/1/x") -> bytes:
    return urlencode(
        {
            "token": "deprecated",
            "team_id": "T1",
            "channel_id": "C1",
            "user_id": "U1",
            "command": "/react",
            "text": text,
            "response_url": response_url,
            "trigger_id": uuid.uuid4().hex,
        }
    ).encode()


def slack_click(action_id: str, value: str, response_url: str) -> bytes:
    payload = {
        "type": "block_actions",
        "user": {"id": "U1"},
        "trigger_id": uuid.uuid4().hex,
        "container": {"type": "message", "is_ephemeral": True},
        "response_url": response_url,
        "actions": [{"type": "button", "action_id": action_id, "value": value, "block_id": "b"}],
    }
    return urlencode({"payload": json.dumps(payload)}).encode()


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Recorder:
    """A loopback HTTP server that records every request and answers each with `status` and `reply`."""

    port: int = 0
    status: int = 200
    reply: bytes = b"ok"
    requests: list[Received] = field(default_factory=list)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def url(self, path: str = "/") -> str:
        return f"http://{self.host}{path}"

    async def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.requests) < count and time.monotonic() < deadline:  # noqa: ASYNC110 - filled by a thread
            await asyncio.sleep(0.02)
        return list(self.requests)


@contextmanager
def recording_server(status: int = 200, reply: bytes = b"ok") -> Iterator[Recorder]:
    recorder = Recorder(status=status, reply=reply)

    class Handler(BaseHTTPRequestHandler):
        def _record(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            recorder.requests.append(
                Received(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            )
            self.send_response(recorder.status)
            self.send_header("content-type", "application/json" if recorder.reply.startswith(b"{") else "text/plain")
            self.send_header("content-length", str(len(recorder.reply)))
            self.end_headers()
            self.wfile.write(recorder.reply)

        do_POST = do_GET = do_PUT = do_PATCH = _record

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    recorder.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield recorder
    finally:
        server.shutdown()
        server.server_close()
