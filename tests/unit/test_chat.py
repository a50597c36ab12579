"""Chat integrations without a server: settings, button ids, signature checks, the response_url rule."""

from __future__ import annotations

import time
import uuid

import pytest

from reactbin.domain.chat import caption_words
from reactbin.errors import InvalidInteraction, InvalidSignature
from reactbin.integrations import buttons, discord, slack
from reactbin.settings import ConfigError, Settings
from tests.support.chat import DiscordSigner, SlackSigner

KEY = "ab" * 32


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"DISCORD_PUBLIC_KEY": KEY}, "PUBLIC_URL (or S3_PUBLIC_BASE_URL) must be set when DISCORD_PUBLIC_KEY is"),
        (
            {"SLACK_SIGNING_SECRET": "s" * 32},
            "PUBLIC_URL (or S3_PUBLIC_BASE_URL) must be set when SLACK_SIGNING_SECRET",
        ),
        ({"DISCORD_PUBLIC_KEY": "xyz", "PUBLIC_URL": "https://r.example"}, "DISCORD_PUBLIC_KEY must be"),
        ({"DISCORD_PUBLIC_KEY": KEY + "00", "PUBLIC_URL": "https://r.example"}, "DISCORD_PUBLIC_KEY must be"),
        ({"DISCORD_APPLICATION_ID": "my-app"}, "DISCORD_APPLICATION_ID must be"),
        ({"DISCORD_API_URL": "discord.com/api"}, "DISCORD_API_URL must be an http(s) URL"),
        ({"SLACK_RESPONSE_HOSTS": "https://hooks.slack.com"}, "SLACK_RESPONSE_HOSTS must be"),
        ({"SLACK_RESPONSE_HOSTS": "hooks.slack.com/x"}, "SLACK_RESPONSE_HOSTS must be"),
        ({"SLACK_RESPONSE_HOSTS": " , "}, "SLACK_RESPONSE_HOSTS must be"),
    ],
)
def test_integration_settings_stop_start_up_with_one_line_naming_the_setting(env: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError) as raised:
        Settings.from_env(env)
    assert named in str(raised.value)
    assert "\n" not in str(raised.value)


def test_integration_settings_are_read() -> None:
    settings = Settings.from_env(
        {
            "DISCORD_PUBLIC_KEY": KEY.upper(),
            "DISCORD_APPLICATION_ID": "123456789012345678",
            "DISCORD_BOT_TOKEN": "token",
            "S3_PUBLIC_BASE_URL": "https://cdn.example",  # a CDN alone is public enough for posts
            "SLACK_SIGNING_SECRET": "secret",
            "SLACK_RESPONSE_HOSTS": "hooks.slack.com, 127.0.0.1:8123",
        }
    )
    assert settings.discord_public_key == KEY
    assert settings.discord_application_id == "123456789012345678"
    assert settings.discord_api_url == "https://discord.com/api/v10"
    assert settings.slack_response_hosts == ("hooks.slack.com", "127.0.0.1:8123")
    defaults = Settings.from_env({})
    assert defaults.discord_public_key is None
    assert defaults.slack_signing_secret is None
    assert defaults.slack_response_hosts == ("hooks.slack.com",)


def test_button_ids_round_trip_and_fit_discord() -> None:
    image = uuid.uuid4()
    query = "q" * buttons.max_discord_query()
    cases: list[buttons.Button] = [
        buttons.Send(image),
        buttons.Next(index=49, seed=2**31 - 1, query=query),
        buttons.Next(index=0, seed=0, query='tag:cat -"a: b" x|y'),
        buttons.Cancel(),
    ]
    for button in cases:
        encoded = buttons.encode(button)
        assert len(encoded) <= buttons.MAX_CUSTOM_ID
        assert buttons.decode(encoded) == button
    assert buttons.fits_discord(query)
    assert not buttons.fits_discord(query + "q")


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "cancel:",
        "Cancel",
        "send:",
        "send:35a450c992534296bd81a14319b8f434",  # not the canonical form this server writes
        "send:../../etc/passwd",
        "next:1:0",
        "next::0:cat",
        "next:-1:0:cat",
        "next:1234:0:cat",
        "next:1:ZZ:cat",
        "next:1:1234567:cat",
        "next:١:0:cat",  # a digit, but not an ASCII one
        "post:1",
    ],
)
def test_button_ids_this_server_never_made_mean_nothing(raw: str) -> None:
    assert buttons.decode(raw) is None


def test_discord_signature_rules() -> None:
    signer = DiscordSigner()
    body = b'{"type": 1}'
    now = time.time()
    headers = signer.headers(body)
    signature, sent = discord.verify(
        signer.public_key, headers["x-signature-ed25519"], headers["x-signature-timestamp"], body, now
    )
    assert signature == bytes.fromhex(headers["x-signature-ed25519"])
    assert sent == int(headers["x-signature-timestamp"])
    for stamp in (int(now) - 301, int(now) + 301):
        old = signer.headers(body, timestamp=stamp)
        with pytest.raises(InvalidSignature):
            discord.verify(signer.public_key, old["x-signature-ed25519"], old["x-signature-timestamp"], body, now)
    edge = signer.headers(body, timestamp=int(now) - 299)
    discord.verify(signer.public_key, edge["x-signature-ed25519"], edge["x-signature-timestamp"], body, now)
    with pytest.raises(InvalidSignature):
        discord.verify(
            DiscordSigner().public_key, headers["x-signature-ed25519"], headers["x-signature-timestamp"], body, now
        )


def test_slack_signature_rules() -> None:
    signer = SlackSigner()
    body = b"text=cat"
    now = time.time()
    headers = signer.headers(body)
    signature, _ = slack.verify(
        signer.secret, headers["x-slack-signature"], headers["x-slack-request-timestamp"], body, now
    )
    assert signature == headers["x-slack-signature"].encode()
    for stamp in (int(now) - 301, int(now) + 301):
        old = signer.headers(body, timestamp=stamp)
        with pytest.raises(InvalidSignature):
            slack.verify(signer.secret, old["x-slack-signature"], old["x-slack-request-timestamp"], body, now)
    with pytest.raises(InvalidSignature):
        slack.verify(
            signer.secret, headers["x-slack-signature"].upper(), headers["x-slack-request-timestamp"], body, now
        )


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://hooks.slack.com/actions/T1/1/x", True),
        ("https://hooks.slack.com:443/actions/T1/1/x", True),
        ("https://HOOKS.SLACK.COM/actions", True),
        ("http://hooks.slack.com/actions", False),  # plain http only on loopback
        ("https://hooks.slack.com:8443/actions", False),
        ("https://hooks.slack.com.evil.example/actions", False),
        ("https://evil.example/hooks.slack.com", False),
        ("https://user:pass@hooks.slack.com/actions", False),
        ("https://hooks.slack.com:99999/actions", False),
        ("//hooks.slack.com/actions", False),
        ("javascript:alert(1)", False),
        ("http://127.0.0.1:8123/hook", True),
        ("http://127.0.0.1:8124/hook", False),
        ("http://127.0.0.1/hook", False),
    ],
)
def test_response_urls_only_reach_the_listed_hosts(url: str, allowed: bool) -> None:
    assert slack.response_url_allowed(url, ("hooks.slack.com", "127.0.0.1:8123")) is allowed


@pytest.mark.parametrize("body", [b"\xff", b"{json}", b"a=1&&="])
def test_slack_bodies_that_are_not_forms(body: bytes) -> None:
    with pytest.raises(InvalidInteraction):
        slack.read_form(body)


@pytest.mark.parametrize(
    ("caption", "words"),
    [
        (None, ""),
        ("WHY NOT BOTH", "WHY NOT BOTH"),
        ('He said "no" - tag:cat | ok?', "He said no tag cat ok"),
        ("snake_case and ünïcödé", "snake case and ünïcödé"),
        ("word " * 40, " ".join(["word"] * 20)),
    ],
)
def test_captions_become_plain_query_words(caption: str | None, words: str) -> None:
    assert caption_words(caption) == words
    assert len(caption_words(caption)) <= 100
