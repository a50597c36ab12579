"""Slack's /react command and its buttons: requests signed with a secret made here, against the real app on real
PostgreSQL and S3; what reactbin posts to a button's response_url is received by a loopback server the test runs."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tests.conftest import AppFactory, upload
from tests.support.chat import Recorder, SlackSigner, recording_server, slack_click, slack_command

PUBLIC = "https://reactbin.example"
COMMANDS = "/api/v1/integrations/slack/commands"
INTERACTIONS = "/api/v1/integrations/slack/interactions"


@pytest.fixture
def signer() -> SlackSigner:
    return SlackSigner()


@pytest.fixture
def slack() -> Iterator[Recorder]:
    """The stand-in for hooks.slack.com."""
    with recording_server() as recorder:
        yield recorder


@contextlib.asynccontextmanager
async def slack_app(make_client: AppFactory, signer: SlackSigner, hosts: tuple[str, ...]) -> AsyncIterator[Any]:
    async with make_client(slack_signing_secret=signer.secret, public_url=PUBLIC, slack_response_hosts=hosts) as client:
        yield client


@pytest.fixture
async def app(make_client: AppFactory, signer: SlackSigner, slack: Recorder) -> AsyncIterator[AsyncTestClient[Any]]:
    async with slack_app(make_client, signer, (slack.host,)) as client:
        yield client


async def post(client: AsyncTestClient[Any], signer: SlackSigner, path: str, body: bytes, **kwargs: Any) -> Any:
    return await client.post(path, content=body, headers=signer.headers(body, **kwargs))


async def run_command(client: AsyncTestClient[Any], signer: SlackSigner, text: str) -> dict[str, Any]:
    response = await post(client, signer, COMMANDS, slack_command(text))
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def values_of(message: dict[str, Any]) -> dict[str, str]:
    [actions] = [block for block in message["blocks"] if block["type"] == "actions"]
    return {element["action_id"]: element["value"] for element in actions["elements"]}


async def press(
    client: AsyncTestClient[Any], signer: SlackSigner, slack: Recorder, action: str, value: str, expect: int
) -> list[Any]:
    """Click a button; returns what reaches the response_url (after the 200, which comes first and empty)."""
    before = len(slack.requests)
    started = time.perf_counter()
    response = await post(client, signer, INTERACTIONS, slack_click(action, value, slack.url("/actions/T1/1/x")))
    assert response.status_code == 200, response.text
    assert response.content == b""
    assert time.perf_counter() - started < 3.0
    received = (await slack.wait_for(before + expect))[before:]
    assert len(received) == expect, received
    assert all(r.path == "/actions/T1/1/x" and r.method == "POST" for r in received)
    return [r.json() for r in received]


async def library(client: AsyncTestClient[Any]) -> dict[str, Any]:
    images = {}
    for name, tags in (("animated.gif", "cat,dance"), ("alpha.png", "cat"), ("image.webp", "cat")):
        response = await upload(client, name, tags=tags)
        assert response.status_code == 201, response.text
        images[name] = response.json()
    captioned = await client.patch(f"/api/v1/images/{images['animated.gif']['id']}", json={"text": "WHY NOT BOTH"})
    assert captioned.status_code == 200
    return images


async def test_react_answers_with_an_ephemeral_preview(app: AsyncTestClient[Any], signer: SlackSigner) -> None:
    images = await library(app)
    message = await run_command(app, signer, "why not both")
    assert message["response_type"] == "ephemeral"
    image, context, actions = message["blocks"]
    gif = images["animated.gif"]
    assert image == {
        "type": "image",
        "image_url": f"{PUBLIC}/api/v1/images/{gif['id']}/file",
        "alt_text": "WHY NOT BOTH",
        "title": {"type": "plain_text", "text": "WHY NOT BOTH"},
    }
    assert context["elements"][0]["text"].startswith("1 of 1")
    assert [e["text"]["text"] for e in actions["elements"]] == ["Send", "Shuffle", "Cancel"]


async def test_a_kind_slack_cannot_show_is_previewed_as_a_link(app: AsyncTestClient[Any], signer: SlackSigner) -> None:
    images = await library(app)
    message = await run_command(app, signer, "tag:cat -dance sort:old")
    assert message["blocks"][0]["type"] == "image"  # alpha.png
    webp = await run_command(app, signer, "tag:cat -dance sort:new")
    section = webp["blocks"][0]
    assert section["type"] == "section"
    assert f"<{PUBLIC}/api/v1/images/{images['image.webp']['id']}/file|image.webp>" in section["text"]["text"]


async def test_send_posts_in_channel_then_deletes_the_preview(
    app: AsyncTestClient[Any], signer: SlackSigner, slack: Recorder
) -> None:
    images = await library(app)
    gif = images["animated.gif"]
    preview = await run_command(app, signer, "dance")
    posted, deleted = await press(app, signer, slack, "send", values_of(preview)["send"], expect=2)
    url = f"{PUBLIC}/api/v1/images/{gif['id']}/file"
    assert posted["response_type"] == "in_channel"
    assert posted["text"] == url
    assert posted["blocks"][0]["image_url"] == url
    assert posted["blocks"][0]["alt_text"] == "WHY NOT BOTH"
    assert deleted == {"delete_original": True}
    assert (await app.get(f"/api/v1/images/{gif['id']}")).json()["use_count"] == 1


async def test_shuffle_replaces_the_preview_with_the_next_match(
    app: AsyncTestClient[Any], signer: SlackSigner, slack: Recorder
) -> None:
    await library(app)
    message = await run_command(app, signer, "tag:cat")
    shown = [message["blocks"][1]["elements"][0]["text"]]
    for _ in range(3):
        [message] = await press(app, signer, slack, "next", values_of(message)["next"], expect=1)
        assert message["replace_original"] is True
        shown.append(message["blocks"][1]["elements"][0]["text"])
    assert [text.split(" · ")[0] for text in shown] == ["1 of 3", "2 of 3", "3 of 3", "1 of 3"]


async def test_cancel_deletes_the_preview(app: AsyncTestClient[Any], signer: SlackSigner, slack: Recorder) -> None:
    await library(app)
    preview = await run_command(app, signer, "cat")
    assert await press(app, signer, slack, "cancel", values_of(preview)["cancel"], expect=1) == [
        {"delete_original": True}
    ]


async def test_forged_buttons_are_explained(app: AsyncTestClient[Any], signer: SlackSigner, slack: Recorder) -> None:
    images = await library(app)
    gone = images["alpha.png"]["id"]
    assert (await app.delete(f"/api/v1/images/{gone}")).status_code == 204
    cases = {
        f"send:{gone}": "no longer in the library",
        "send:0": "not one this server made",
        "next:1:zzzzzzz:cat": "not one this server made",
        "rm -rf": "not one this server made",
    }
    for value, text in cases.items():
        [answer] = await press(app, signer, slack, "send", value, expect=1)
        assert answer["replace_original"] is True
        assert text in answer["text"], value


async def test_queries_are_explained_not_failed(app: AsyncTestClient[Any], signer: SlackSigner) -> None:
    empty = await run_command(app, signer, "")
    assert empty == {"response_type": "ephemeral", "text": f"The library has no reactions yet: add some at {PUBLIC}/"}
    await library(app)
    for text, explained in (('"why', "Unbalanced quotes"), ("giraffe", "Nothing matches `giraffe`"), ("-", "lone")):
        message = await run_command(app, signer, text)
        assert message["response_type"] == "ephemeral"
        assert explained in message["text"], message


async def test_ssl_check_gets_an_empty_200(app: AsyncTestClient[Any], signer: SlackSigner) -> None:
    response = await post(app, signer, COMMANDS, b"ssl_check=1&token=deprecated")
    assert response.status_code == 200
    assert response.content == b""


OTHER_HOSTS = [
    "https://example.com/actions/1",
    "http://127.0.0.2:{port}/actions/1",  # another loopback address
    "http://127.0.0.1:{other}/actions/1",  # the allowed host, another port
    "http://user@127.0.0.1:{port}/actions/1",
    "ftp://127.0.0.1:{port}/x",
    "https://hooks.slack.com.example.com/actions/1",
    "not a url",
    "",
]


@pytest.mark.parametrize("response_url", OTHER_HOSTS)
async def test_a_signed_payload_cannot_make_reactbin_call_another_host(
    app: AsyncTestClient[Any], signer: SlackSigner, slack: Recorder, response_url: str
) -> None:
    with recording_server() as elsewhere:
        url = response_url.format(port=slack.port, other=elsewhere.port)
        body = slack_click("cancel", "cancel", url)
        response = await post(app, signer, INTERACTIONS, body)
        assert response.status_code == 400, response.text
        assert response.json()["code"] == "invalid_interaction"
        await elsewhere.wait_for(1, timeout=0.5)
        assert elsewhere.requests == []
        assert slack.requests == []


async def test_only_slacks_hooks_host_by_default(make_client: AppFactory, signer: SlackSigner, slack: Recorder) -> None:
    async with make_client(slack_signing_secret=signer.secret, public_url=PUBLIC) as client:
        refused = await post(client, signer, INTERACTIONS, slack_click("cancel", "cancel", slack.url("/a")))
        assert refused.status_code == 400
    assert slack.requests == []


BAD_SIGNATURES = [
    ("no headers", lambda signer, body: {}),
    ("another secret", lambda signer, body: SlackSigner().headers(body)),
    ("another body", lambda signer, body: signer.headers(body + b"&x=1")),
    ("v1 signature", lambda signer, body: {**signer.headers(body), "x-slack-signature": "v1=" + "0" * 64}),
    ("timestamp not a number", lambda signer, body: {**signer.headers(body), "x-slack-request-timestamp": "now"}),
    ("signed 301 s ago", lambda signer, body: signer.headers(body, timestamp=int(time.time()) - 301)),
    ("signed 301 s ahead", lambda signer, body: signer.headers(body, timestamp=int(time.time()) + 301)),
    (
        "non-ASCII signature",
        lambda signer, body: {**signer.headers(body), "x-slack-signature": "v0=ü".encode("latin-1")},
    ),
]


@pytest.mark.parametrize(("case", "headers"), BAD_SIGNATURES, ids=[case for case, _ in BAD_SIGNATURES])
async def test_a_bad_signature_is_refused_and_does_nothing(
    app: AsyncTestClient[Any], signer: SlackSigner, slack: Recorder, case: str, headers: Any
) -> None:
    images = await library(app)
    gif = images["animated.gif"]["id"]
    for path, body in (
        (COMMANDS, slack_command("cat")),
        (INTERACTIONS, slack_click("send", f"send:{gif}", slack.url())),
    ):
        response = await app.post(path, content=body, headers=headers(signer, body))
        assert response.status_code == 401, (case, response.text)
        assert response.json()["code"] == "invalid_signature"
    await slack.wait_for(1, timeout=0.5)
    assert slack.requests == []
    assert (await app.get(f"/api/v1/images/{gif}")).json()["use_count"] == 0


async def test_a_replayed_click_posts_once(app: AsyncTestClient[Any], signer: SlackSigner, slack: Recorder) -> None:
    images = await library(app)
    gif = images["animated.gif"]["id"]
    body = slack_click("send", f"send:{gif}", slack.url())
    headers = signer.headers(body)
    assert (await app.post(INTERACTIONS, content=body, headers=headers)).status_code == 200
    replay = await app.post(INTERACTIONS, content=body, headers=headers)
    assert replay.status_code == 401
    assert replay.json()["code"] == "invalid_signature"
    await slack.wait_for(3, timeout=1.0)
    assert len(slack.requests) == 2  # one in_channel post and one delete, from the first click only
    assert (await app.get(f"/api/v1/images/{gif}")).json()["use_count"] == 1


BAD_BODIES = [
    ("JSON instead of a form", COMMANDS, b'{"text": "cat"}', 400, "invalid_interaction"),
    ("invalid UTF-8", COMMANDS, b"text=\xff\xfe", 400, "invalid_interaction"),
    ("payload not JSON", INTERACTIONS, b"payload=%7Bnope", 400, "invalid_interaction"),
    ("no payload", INTERACTIONS, b"text=cat", 400, "invalid_interaction"),
    (
        "a view submission",
        INTERACTIONS,
        b"payload=%7B%22type%22%3A%22view_submission%22%7D",
        400,
        "invalid_interaction",
    ),
    (
        "a click without actions",
        INTERACTIONS,
        b"payload=%7B%22type%22%3A%22block_actions%22%7D",
        400,
        "invalid_interaction",
    ),
    ("1 MB", COMMANDS, b"text=" + b"x" * 1_000_000, 413, "request_too_large"),
    ("1 MB click", INTERACTIONS, b"payload=" + b"x" * 1_000_000, 413, "request_too_large"),
]


@pytest.mark.parametrize(("case", "path", "body", "status", "code"), BAD_BODIES, ids=[c[0] for c in BAD_BODIES])
async def test_bad_bodies_are_refused_cleanly(
    app: AsyncTestClient[Any], signer: SlackSigner, case: str, path: str, body: bytes, status: int, code: str
) -> None:
    response = await post(app, signer, path, body)
    assert response.status_code == status, (case, response.text)
    assert response.json()["code"] == code


async def test_an_odd_command_text_is_a_query_like_any_other(app: AsyncTestClient[Any], signer: SlackSigner) -> None:
    """An empty form and an overlong query are explained; they are what a person could type."""
    empty_form = await post(app, signer, COMMANDS, b"")
    assert empty_form.status_code == 200
    assert "no reactions yet" in empty_form.json()["text"]
    long = await run_command(app, signer, "x" * 300)
    assert "longer than 256 characters" in long["text"]


async def test_not_configured_is_404(client: AsyncTestClient[Any], signer: SlackSigner) -> None:
    for path in (COMMANDS, INTERACTIONS):
        body = slack_command("cat")
        response = await client.post(path, content=body, headers=signer.headers(body))
        assert response.status_code == 404
        assert response.json()["code"] == "integration_disabled"


async def test_a_failing_response_url_is_logged_not_fatal(
    app: AsyncTestClient[Any], signer: SlackSigner, slack: Recorder
) -> None:
    await library(app)
    preview = await run_command(app, signer, "cat")
    slack.status = 500
    await press(app, signer, slack, "send", values_of(preview)["send"], expect=1)  # stops after the failed post
    slack.status = 200
    assert (await app.get("/api/v1/health")).status_code == 200
