"""`reactbin discord register` against a loopback stand-in of Discord's REST API (the real one is unreachable here)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from reactbin.integrations import buttons
from tests.support.chat import Recorder, recording_server

APPLICATION_ID = "112233445566778899"
TOKEN = "bot-token-made-for-this-test.abcdef"


def register(api: Recorder | None, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "SLACK_", "PUBLIC_URL", "S3_"))}
    if api is not None:
        clean["DISCORD_API_URL"] = api.url("/api/v10")
    return subprocess.run(
        [str(Path(sys.executable).parent / "reactbin"), "discord", "register"],
        env=clean | env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_register_creates_the_react_command() -> None:
    with recording_server(status=201, reply=b'{"id": "987654321", "name": "react"}') as api:
        done = register(api, DISCORD_APPLICATION_ID=APPLICATION_ID, DISCORD_BOT_TOKEN=TOKEN)
    assert done.returncode == 0, done.stderr
    assert "registered /react (command 987654321)" in done.stdout
    [request] = api.requests
    assert request.method == "POST"
    assert request.path == f"/api/v10/applications/{APPLICATION_ID}/commands"
    assert request.headers["authorization"] == f"Bot {TOKEN}"
    command = request.json()
    assert command["name"] == "react"
    assert command["type"] == 1
    [option] = command["options"]
    assert option == {
        "type": 3,
        "name": "query",
        "description": option["description"],
        "required": True,
        "autocomplete": True,
        "max_length": buttons.max_discord_query(),
    }
    assert TOKEN not in done.stdout + done.stderr


def test_a_refused_token_is_reported_without_the_token() -> None:
    with recording_server(status=401, reply=b'{"message": "401: Unauthorized", "code": 0}') as api:
        done = register(api, DISCORD_APPLICATION_ID=APPLICATION_ID, DISCORD_BOT_TOKEN=TOKEN)
    assert done.returncode == 1
    assert "refused DISCORD_BOT_TOKEN" in done.stderr
    assert TOKEN not in done.stdout + done.stderr


def test_other_failures_say_what_discord_answered() -> None:
    with recording_server(status=404, reply=b'{"message": "Unknown Application"}') as api:
        done = register(api, DISCORD_APPLICATION_ID=APPLICATION_ID, DISCORD_BOT_TOKEN=TOKEN)
    assert done.returncode == 1
    assert "check DISCORD_APPLICATION_ID" in done.stderr
    with recording_server(status=200, reply=b"<html>not json</html>") as api:
        done = register(api, DISCORD_APPLICATION_ID=APPLICATION_ID, DISCORD_BOT_TOKEN=TOKEN)
    assert done.returncode == 1
    assert "not JSON" in done.stderr


def test_an_unreachable_api_is_reported() -> None:
    with recording_server() as api:
        url = api.url("/api/v10")
    done = register(None, DISCORD_APPLICATION_ID=APPLICATION_ID, DISCORD_BOT_TOKEN=TOKEN, DISCORD_API_URL=url)
    assert done.returncode == 1
    assert "could not reach" in done.stderr


def test_missing_settings_are_named() -> None:
    with recording_server() as api:
        no_id = register(api, DISCORD_BOT_TOKEN=TOKEN)
        no_token = register(api, DISCORD_APPLICATION_ID=APPLICATION_ID)
    assert no_id.returncode == 2
    assert "DISCORD_APPLICATION_ID is required" in no_id.stderr
    assert no_token.returncode == 2
    assert "DISCORD_BOT_TOKEN is required" in no_token.stderr
    assert api.requests == []
