"""Chat platforms call these: Discord interactions, Slack commands and button clicks.

Each handler verifies the platform's signature over the raw body before it parses anything, then refuses a replay
of the same signed request, then answers through reactbin.integrations. Not configured: 404 `integration_disabled`.
A malformed query is never an error here: it is answered with a line only the sender sees, since an error status
makes the platform show a failure instead of the explanation.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import msgspec
from litestar import Request, Response, post
from litestar.background_tasks import BackgroundTask
from litestar.di import NamedDependency
from litestar.openapi.spec import OpenAPIMediaType, Operation, RequestBody, Schema
from litestar.openapi.spec.enums import OpenAPIType

from reactbin.domain import chat
from reactbin.domain.resources import Resources
from reactbin.errors import IntegrationDisabled
from reactbin.integrations import discord, slack
from reactbin.integrations.links import Links
from reactbin.routes.access import access
from reactbin.routes.images import errors
from reactbin.routes.share import public_origin

log = logging.getLogger(__name__)

MAX_BODY = 256 * 1024
"""Discord and Slack send a few KiB (a click carries the message it was on); anything near this is not theirs."""


def _body_operation(media_type: str, description: str) -> type[Operation]:
    body = RequestBody(
        required=True,
        description=description,
        content={media_type: OpenAPIMediaType(schema=Schema(type=OpenAPIType.OBJECT))},
    )

    @dataclass
    class SignedBodyOperation(Operation):
        def __post_init__(self) -> None:
            self.request_body = body

    return SignedBodyOperation


def _links(res: Resources, request: Request[Any, Any, Any]) -> Links:
    return Links(res.urls, res.settings.public_url, public_origin(res.settings, request))


def _json(body: object) -> Response[bytes]:
    return Response(msgspec.json.encode(body), media_type="application/json")


@post(
    "/integrations/discord",
    summary="Discord interactions endpoint (the /react command)",
    description="Set as the Interactions Endpoint URL of the Discord application. Verifies `X-Signature-Ed25519` over "
    "`X-Signature-Timestamp` + the body with `DISCORD_PUBLIC_KEY`; answers PING, the `/react` command (an ephemeral "
    "preview with Send, Next, Cancel), its autocomplete and the buttons.",
    operation_class=_body_operation("application/json", "A Discord interaction, signed by Discord"),
    request_max_body_size=MAX_BODY,
    status_code=200,
    responses=errors(400, 401, 404, 413, 503),
    opt=access("public"),  # signed by the chat platform, verified by the handler: no cookie, key or token needed
)
async def discord_interaction(request: Request[Any, Any, Any], res: NamedDependency[Resources]) -> Response[bytes]:
    public_key = res.settings.discord_public_key
    if public_key is None:
        raise IntegrationDisabled("Discord is not configured on this server (DISCORD_PUBLIC_KEY)")
    signature = request.headers.get("x-signature-ed25519")
    timestamp = request.headers.get("x-signature-timestamp")
    if not signature or not timestamp:
        discord.verify(public_key, signature, timestamp, b"", time.time())  # raises, before the body is read
    body = await request.body()
    raw_signature, sent = discord.verify(public_key, signature, timestamp, body, time.time())
    await chat.accept_once(res, "discord", raw_signature, sent)
    answer = await discord.answer(res, discord.parse(body), _links(res, request))
    return _json(answer)


@post(
    "/integrations/slack/commands",
    summary="Slack slash command endpoint (/react)",
    description="Set as the Request URL of the app's `/react` command. Verifies `X-Slack-Signature` (v0, HMAC-SHA256 "
    "with `SLACK_SIGNING_SECRET`, timestamp within 300 s) and answers with an ephemeral preview.",
    operation_class=_body_operation("application/x-www-form-urlencoded", "A Slack slash command, signed by Slack"),
    request_max_body_size=MAX_BODY,
    status_code=200,
    responses=errors(400, 401, 404, 413, 503),
    opt=access("public"),  # signed by the chat platform, verified by the handler: no cookie, key or token needed
)
async def slack_command(request: Request[Any, Any, Any], res: NamedDependency[Resources]) -> Response[bytes]:
    form = await _verified_slack_form(request, res)
    answer = await slack.command(res, form, _links(res, request))
    return _json(answer) if answer is not None else Response(b"", media_type="text/plain")


@post(
    "/integrations/slack/interactions",
    summary="Slack interactivity endpoint (the preview's buttons)",
    description="Set as the app's Interactivity Request URL. Verifies the signature like the command, answers 200 at "
    "once and then posts the button's effect to the payload's `response_url`, only on a host in "
    "`SLACK_RESPONSE_HOSTS`.",
    operation_class=_body_operation("application/x-www-form-urlencoded", "A Slack interaction (`payload`), signed"),
    request_max_body_size=MAX_BODY,
    status_code=200,
    responses=errors(400, 401, 404, 413, 503),
    opt=access("public"),  # signed by the chat platform, verified by the handler: no cookie, key or token needed
)
async def slack_interaction(request: Request[Any, Any, Any], res: NamedDependency[Resources]) -> Response[bytes]:
    form = await _verified_slack_form(request, res)
    hosts = res.settings.slack_response_hosts
    payload = slack.read_interaction(form, hosts)
    links = _links(res, request)

    async def respond() -> None:
        try:
            messages = await slack.click(res, payload, links)
            await slack.post_responses(payload.response_url, messages, hosts)
        except Exception:  # after the 200: nobody is left to tell but the log
            log.exception("answering a Slack button click failed")

    return Response(b"", media_type="text/plain", background=BackgroundTask(respond))


async def _verified_slack_form(request: Request[Any, Any, Any], res: Resources) -> dict[str, str]:
    secret = res.settings.slack_signing_secret
    if secret is None:
        raise IntegrationDisabled("Slack is not configured on this server (SLACK_SIGNING_SECRET)")
    signature = request.headers.get("x-slack-signature")
    timestamp = request.headers.get("x-slack-request-timestamp")
    if not signature or not timestamp:
        slack.verify(secret, signature, timestamp, b"", time.time())  # raises, before the body is read
    body = await request.body()
    raw_signature, sent = slack.verify(secret, signature, timestamp, body, time.time())
    await chat.accept_once(res, "slack", raw_signature, sent)
    return slack.read_form(body)
