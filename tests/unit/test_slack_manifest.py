"""The Slack app manifest in the repository points at the routes this server really has."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import yaml

from reactbin.app import create_app
from reactbin.settings import Settings

MANIFEST = Path(__file__).resolve().parents[2] / "deploy" / "slack" / "manifest.yaml"


def test_the_manifest_names_the_command_and_interaction_routes() -> None:
    manifest = yaml.safe_load(MANIFEST.read_text())
    [command] = manifest["features"]["slash_commands"]
    assert command["command"] == "/react"
    interactivity = manifest["settings"]["interactivity"]
    assert interactivity["is_enabled"] is True
    assert manifest["oauth_config"]["scopes"]["bot"] == ["commands"]  # nothing more than /react needs
    schema = create_app(Settings()).openapi_schema.to_schema()
    for url in (command["url"], interactivity["request_url"]):
        parts = urlsplit(url)
        assert parts.scheme == "https"
        assert parts.hostname == "reactbin.example.com"  # the placeholder the README says to replace
        assert "post" in schema["paths"][parts.path]
