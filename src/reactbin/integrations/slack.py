"""Slack's `/react` slash command and its buttons: verify, read, answer; posts go to the payload's `response_url`.

- `POST /api/v1/integrations/slack/commands` (form-encoded `/react why not both`) answers at once with an ephemeral
  preview (only the sender sees it): the best match, "1 of N", and Send / Shuffle / Cancel.
- `POST /api/v1/integrations/slack/interactions` (form field `payload`, JSON) answers 200 at once; the button's
  effect is then posted to the payload's `response_url` - only when that URL is on `SLACK_RESPONSE_HOSTS`, so a signed
  payload cannot make this server call anything else: Send posts the image to the channel (`in_channel`, a use) and
  deletes the preview, Shuffle replaces the preview with the next match, Cancel deletes it.

Block Kit shapes come from slack_sdk's models (they check Slack's length limits); signatures are the stdlib's HMAC.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import msgspec
from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    ImageBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from reactbin.db.images import ImageRow
from reactbin.domain import chat
from reactbin.domain.resources import Resources
from reactbin.errors import InvalidInteraction, InvalidQuery, InvalidSignature
from reactbin.integrations import buttons
from reactbin.integrations.links import Links, title_of

log = logging.getLogger(__name__)

_SHOWN_INLINE = frozenset({"image/png", "image/apng", "image/jpeg", "image/gif"})
"""What an image block displays (Slack: PNG, JPEG, GIF); other kinds are posted as a link Slack may unfurl."""
_LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})
POST_TIMEOUT = 5.0


def verify(secret: str, signature: str | None, timestamp: str | None, body: bytes, now: float) -> tuple[bytes, int]:
    """Check `X-Slack-Signature` = `v0=` + hex HMAC-SHA256(secret, `v0:{timestamp}:{body}`), in constant time, and
    that the timestamp is within 300 s of `now`; return the signature and timestamp.

    Raises:
        InvalidSignature: a header is missing or malformed, the signature differs, or the timestamp is stale or in
            the future.
    """
    if not signature or not timestamp:
        raise InvalidSignature("X-Slack-Signature and X-Slack-Request-Timestamp are required")
    if len(timestamp) > 12 or not timestamp.isascii() or not timestamp.isdigit():
        raise InvalidSignature()
    expected = "v0=" + hmac.new(secret.encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
        raise InvalidSignature()
    sent = int(timestamp)
    if abs(now - sent) > chat.REQUEST_LIFETIME:
        raise InvalidSignature("The request timestamp is more than 300 s away from this server's clock")
    return signature.encode(), sent


def read_form(body: bytes) -> dict[str, str]:
    """A form-encoded body, one value per field.

    Raises:
        InvalidInteraction: the body is not form-encoded UTF-8.
    """
    try:
        fields = parse_qs(body.decode("utf-8"), strict_parsing=bool(body), max_num_fields=100)
    except (UnicodeDecodeError, ValueError):
        raise InvalidInteraction("The body is not form-encoded (application/x-www-form-urlencoded)") from None
    return {name: values[0] for name, values in fields.items()}


class Action(msgspec.Struct, frozen=True):
    action_id: str = ""
    value: str = ""


class InteractionPayload(msgspec.Struct, frozen=True):
    type: str
    actions: list[Action] = []
    response_url: str = ""


def read_interaction(form: dict[str, str], allowed_hosts: tuple[str, ...]) -> InteractionPayload:
    """The button click in an interaction form.

    Raises:
        InvalidInteraction: no `payload` JSON, not a button click, or a `response_url` off `allowed_hosts`.
    """
    try:
        payload = msgspec.json.decode(form.get("payload", ""), type=InteractionPayload)
    except msgspec.DecodeError:
        raise InvalidInteraction("The form field payload is not a Slack interaction payload") from None
    if payload.type != "block_actions" or not payload.actions:
        raise InvalidInteraction(f"Interaction type {payload.type[:40]!r} is not handled here")
    if not response_url_allowed(payload.response_url, allowed_hosts):
        raise InvalidInteraction("The payload's response_url is not on a host in SLACK_RESPONSE_HOSTS")
    return payload


def response_url_allowed(url: str, allowed_hosts: tuple[str, ...]) -> bool:
    """Whether `url` is https on one of `allowed_hosts` (`host` or `host:port`); plain http only on loopback, which
    is where tests (and nothing else) run their stand-in of Slack."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return False
    host = (parts.hostname or "").lower()
    if parts.username is not None or parts.password is not None or not host:
        return False
    if parts.scheme == "https":
        default = 443
    elif parts.scheme == "http" and host in _LOOPBACK:
        default = 80
    else:
        return False
    for entry in allowed_hosts:
        name, _, entry_port = entry.partition(":")
        if name == host and (int(entry_port) if entry_port else default) == (port or default):
            return True
    return False


async def command(res: Resources, form: dict[str, str], links: Links) -> dict[str, Any] | None:
    """The answer to `/react <query>` (None for Slack's `ssl_check`, which wants an empty 200)."""
    if form.get("ssl_check") == "1":
        return None
    query = " ".join(form.get("text", "").split())
    return await preview(res, links, query, 0, chat.new_seed())


async def preview(res: Resources, links: Links, query: str, index: int, seed: int) -> dict[str, Any]:
    """An ephemeral message with match `index` of `query` and its buttons, or a line saying why there is none."""
    try:
        match = await chat.find_match(res, query, index, seed)
    except InvalidQuery as exc:
        return _ephemeral_text(f"That query does not work: {exc.detail}. {_EXAMPLES}")
    if match is None:
        if not query:
            return _ephemeral_text(f"The library has no reactions yet: add some at {links.library('')}")
        return _ephemeral_text(f"Nothing matches `{_escape(query)}`. Browse the library: {links.library(query)}")
    image = match.image
    count = f"{match.index + 1} of {match.total}{'+' if match.more else ''}"
    blocks: list[Block] = [
        _picture(image, links),
        ContextBlock(elements=[MarkdownTextObject(text=f"{count} · `{_escape(query)}`" if query else count)]),
        ActionsBlock(
            elements=[
                ButtonElement(
                    text="Send", action_id="send", style="primary", value=buttons.encode(buttons.Send(image.id))
                ),
                ButtonElement(
                    text="Shuffle",
                    action_id="next",
                    value=buttons.encode(buttons.Next(match.index + 1, seed, query)),
                ),
                ButtonElement(
                    text="Cancel", action_id="cancel", style="danger", value=buttons.encode(buttons.Cancel())
                ),
            ]
        ),
    ]
    return {"response_type": "ephemeral", "text": title_of(image)[:3000], "blocks": [b.to_dict() for b in blocks]}


async def click(res: Resources, payload: InteractionPayload, links: Links) -> list[dict[str, Any]]:
    """What a button click posts to its `response_url`, in order."""
    button = buttons.decode(payload.actions[0].value)
    if isinstance(button, buttons.Send):
        image = await chat.use_image(res, button.image_id)
        if image is None:
            return [{"replace_original": True, "text": "That reaction is no longer in the library."}]
        # `in_channel` first: if it fails, the preview (and its Send button) is still there to try again.
        return [_public_post(image, links), {"delete_original": True}]
    if isinstance(button, buttons.Next):
        return [{"replace_original": True, **await preview(res, links, button.query, button.index, button.seed)}]
    if isinstance(button, buttons.Cancel):
        return [{"delete_original": True}]
    return [{"replace_original": True, "text": "This button is not one this server made: run /react again."}]


async def post_responses(url: str, messages: list[dict[str, Any]], allowed_hosts: tuple[str, ...]) -> None:
    """POST each message to `url` (checked again here: nothing else may ever be called); failures are logged."""
    if not response_url_allowed(url, allowed_hosts):
        log.warning("slack response_url refused: not on SLACK_RESPONSE_HOSTS")
        return
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=POST_TIMEOUT)) as session:
            for message in messages:
                async with session.post(url, json=message, allow_redirects=False) as response:
                    if response.status >= 300:
                        said = (await response.text())[:200]
                        log.warning("slack response_url answered %d: %s", response.status, said)
                        return
    except (aiohttp.ClientError, TimeoutError) as exc:
        log.warning("slack response_url post failed: %s", exc or type(exc).__name__)


def _public_post(image: ImageRow, links: Links) -> dict[str, Any]:
    url = links.file(image)
    message: dict[str, Any] = {"response_type": "in_channel", "text": url, "unfurl_media": True, "unfurl_links": True}
    if image.mime_type in _SHOWN_INLINE:
        title = title_of(image)[:2000]
        message["blocks"] = [ImageBlock(image_url=url, alt_text=title, title=PlainTextObject(text=title)).to_dict()]
    return message


def _picture(image: ImageRow, links: Links) -> Block:
    title = title_of(image)[:2000]
    if image.mime_type in _SHOWN_INLINE:
        return ImageBlock(image_url=links.file(image), alt_text=title, title=PlainTextObject(text=title))
    kind = {"video": "video", "animated": "animation"}.get(image.kind, "image")
    # Slack shows PNG, JPEG and GIF in a message; for the rest the link (unfurled when sent) has to do.
    label = _escape(title[:200]).replace("|", "¦")
    return SectionBlock(text=MarkdownTextObject(text=f"<{links.file(image)}|{label}> ({kind})"))


_EXAMPLES = 'Examples: `cat`, `tag:cat -dog`, `"why not both"`, `type:animated sort:popular`.'


def _ephemeral_text(text: str) -> dict[str, Any]:
    return {"response_type": "ephemeral", "text": text[:3000]}


def _escape(text: str) -> str:
    """Slack mrkdwn control characters (its docs ask for exactly these three); backticks would end a code span."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("`", "'")
