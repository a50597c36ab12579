"""Discord's `/react` command over HTTP interactions (no gateway connection): verify, read, answer; and registration.

Discord POSTs every interaction to `POST /api/v1/integrations/discord`, signed with the application's Ed25519 key,
and shows "interaction failed" unless it gets an answer within 3 seconds. The answers:

- PING (1) -> PONG;
- the command (2) -> an ephemeral preview (only the sender sees it) of the best match with Send, Next, Cancel;
- autocomplete (4) -> up to 25 choices from tags and captions;
- a button (3) -> Send posts the image publicly (and counts a use), Next edits the preview to the next match,
  Cancel empties it.

Payloads are msgspec Structs: the maintained Python packages for Discord are either a gateway framework
(discord.py) or a 2022 wrapper of the same PyNaCl call plus a few enums (discord-interactions).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import aiohttp
import msgspec
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from reactbin.domain import chat
from reactbin.domain.resources import Resources
from reactbin.errors import InvalidInteraction, InvalidQuery, InvalidSignature
from reactbin.integrations import buttons
from reactbin.integrations.links import Links, title_of

COMMAND_NAME = "react"
QUERY_OPTION = "query"

# Interaction types (what Discord sends) and callback types (what we answer).
PING = 1
APPLICATION_COMMAND = 2
MESSAGE_COMPONENT = 3
AUTOCOMPLETE = 4
PONG = 1
CHANNEL_MESSAGE = 4
UPDATE_MESSAGE = 7
AUTOCOMPLETE_RESULT = 8
EPHEMERAL = 1 << 6

_BUTTON = 2
_ACTION_ROW = 1
_PRIMARY, _SECONDARY, _DANGER = 1, 2, 4


# What Discord sends (only the fields used; everything else is ignored).
class Option(msgspec.Struct, frozen=True):
    name: str
    type: int
    value: str | int | float | bool | None = None
    focused: bool = False


class InteractionData(msgspec.Struct, frozen=True):
    name: str = ""
    options: list[Option] = []
    custom_id: str = ""
    component_type: int = 0


class Interaction(msgspec.Struct, frozen=True):
    type: int
    data: InteractionData | None = None


# What we answer.
class Button(msgspec.Struct, frozen=True):
    style: int
    label: str
    custom_id: str
    type: int = _BUTTON


class ActionRow(msgspec.Struct, frozen=True):
    components: list[Button]
    type: int = _ACTION_ROW


class EmbedImage(msgspec.Struct, frozen=True):
    url: str


class EmbedFooter(msgspec.Struct, frozen=True):
    text: str


class Embed(msgspec.Struct, frozen=True, omit_defaults=True):
    title: str | None = None
    url: str | None = None
    description: str | None = None
    image: EmbedImage | None = None
    footer: EmbedFooter | None = None


class AllowedMentions(msgspec.Struct, frozen=True):
    parse: list[str] = []


class Choice(msgspec.Struct, frozen=True):
    name: str
    value: str


class ResponseData(msgspec.Struct, frozen=True, omit_defaults=True):
    content: str | None = None
    embeds: list[Embed] | None = None
    components: list[ActionRow] | None = None
    flags: int | None = None
    choices: list[Choice] | None = None
    # Captions and queries are shown as they are: nobody gets pinged by an "@everyone" in a caption.
    allowed_mentions: AllowedMentions | None = None


class Response(msgspec.Struct, frozen=True, omit_defaults=True):
    type: int
    data: ResponseData | None = None


def verify(public_key: str, signature: str | None, timestamp: str | None, body: bytes, now: float) -> tuple[bytes, int]:
    """Check Discord's Ed25519 signature of `timestamp + body`; return the signature and timestamp.

    Raises:
        InvalidSignature: a header is missing or malformed, the signature does not verify, or the timestamp is more
            than 5 minutes away from `now` (either way).
    """
    if not signature or not timestamp:
        raise InvalidSignature("X-Signature-Ed25519 and X-Signature-Timestamp are required")
    if len(signature) != 128 or len(timestamp) > 12 or not timestamp.isascii() or not timestamp.isdigit():
        raise InvalidSignature()
    try:
        raw_signature = bytes.fromhex(signature)
    except ValueError:
        raise InvalidSignature() from None
    try:
        _verify_key(public_key).verify(timestamp.encode() + body, raw_signature)
    except BadSignatureError:
        raise InvalidSignature() from None
    sent = int(timestamp)
    if abs(now - sent) > chat.REQUEST_LIFETIME:
        raise InvalidSignature("The request timestamp is more than 5 minutes away from this server's clock")
    return raw_signature, sent


@functools.lru_cache(maxsize=4)
def _verify_key(public_key: str) -> VerifyKey:
    return VerifyKey(bytes.fromhex(public_key))


def parse(body: bytes) -> Interaction:
    """Raises: InvalidInteraction: the (verified) body is not an interaction."""
    try:
        return msgspec.json.decode(body, type=Interaction)
    except msgspec.DecodeError as exc:
        raise InvalidInteraction(f"The body is not a Discord interaction: {str(exc)[:200]}") from None


async def answer(res: Resources, interaction: Interaction, links: Links) -> Response:
    """The answer to a verified interaction.

    Raises:
        InvalidInteraction: a type this server does not handle (it never registers anything that sends one).
    """
    data = interaction.data or InteractionData()
    if interaction.type == PING:
        return Response(type=PONG)
    if interaction.type == AUTOCOMPLETE:
        typed = next((str(o.value or "") for o in data.options if o.focused), _query_of(data))
        found = await chat.choices(res, typed)
        return Response(type=AUTOCOMPLETE_RESULT, data=ResponseData(choices=[Choice(c.name, c.value) for c in found]))
    if interaction.type == APPLICATION_COMMAND:
        if data.name != COMMAND_NAME:
            return _note(f"This server only knows /{COMMAND_NAME}.")
        query = _query_of(data).strip()
        if not buttons.fits_discord(query):
            return _note(f"Queries are at most {buttons.max_discord_query()} characters here.")
        return await _preview(res, links, query, 0, chat.new_seed(), CHANNEL_MESSAGE)
    if interaction.type == MESSAGE_COMPONENT:
        return await _click(res, links, buttons.decode(data.custom_id))
    raise InvalidInteraction(f"Interaction type {interaction.type} is not handled here")


def _query_of(data: InteractionData) -> str:
    return next((str(o.value or "") for o in data.options if o.name == QUERY_OPTION), "")


async def _click(res: Resources, links: Links, button: buttons.Button | None) -> Response:
    if isinstance(button, buttons.Send):
        image = await chat.use_image(res, button.image_id)
        if image is None:
            return _update("That reaction is no longer in the library.")
        # A bare URL is what Discord unfurls into the playing GIF or video; an embed would only show a picture.
        return Response(
            type=CHANNEL_MESSAGE,
            data=ResponseData(content=links.file(image), allowed_mentions=AllowedMentions()),
        )
    if isinstance(button, buttons.Next):
        return await _preview(res, links, button.query, button.index, button.seed, UPDATE_MESSAGE)
    if isinstance(button, buttons.Cancel):
        return _update("Cancelled.")
    return _note("This button is not one this server made (or it has since been updated): run /react again.")


async def _preview(res: Resources, links: Links, query: str, index: int, seed: int, kind: int) -> Response:
    """The preview of match `index`, as a new ephemeral message (the command) or in place of the old one (Next)."""
    flags = EPHEMERAL if kind == CHANNEL_MESSAGE else None
    try:
        match = await chat.find_match(res, query, index, seed)
    except InvalidQuery as exc:
        return _message(kind, f"That query does not work: {exc.detail}. {_EXAMPLES}", flags)
    if match is None:
        if not query:
            text = f"The library has no reactions yet: add some at {links.library('')}"
        else:
            text = f"Nothing matches `{_inline(query)}`. Browse the library: {links.library(query)}"
        return _message(kind, text, flags)
    image = match.image
    picture = links.picture(image)
    embed = Embed(
        title=_clip(title_of(image), 256),
        url=links.page(image),
        description=_clip(" ".join(f"#{tag}" for tag in image.tags), 1000) or None,
        image=EmbedImage(picture) if picture else None,
        footer=EmbedFooter(f"{match.index + 1} of {match.total}{'+' if match.more else ''}"),
    )
    row = ActionRow(
        [
            Button(_PRIMARY, "Send", buttons.encode(buttons.Send(image.id))),
            Button(_SECONDARY, "Next", buttons.encode(buttons.Next(match.index + 1, seed, query))),
            Button(_DANGER, "Cancel", buttons.encode(buttons.Cancel())),
        ]
    )
    return Response(
        type=kind,
        data=ResponseData(
            content="", embeds=[embed], components=[row], flags=flags, allowed_mentions=AllowedMentions()
        ),
    )


_EXAMPLES = 'Examples: `cat`, `tag:cat -dog`, `"why not both"`, `type:animated sort:popular`.'


def _note(text: str) -> Response:
    """A line only the sender sees."""
    return _message(CHANNEL_MESSAGE, text, EPHEMERAL)


def _update(text: str) -> Response:
    """The preview replaced by a line, without its picture and buttons."""
    return _message(UPDATE_MESSAGE, text, None)


def _message(kind: int, text: str, flags: int | None) -> Response:
    return Response(
        type=kind,
        data=ResponseData(
            content=_clip(text, 2000), embeds=[], components=[], flags=flags, allowed_mentions=AllowedMentions()
        ),
    )


def _inline(text: str) -> str:
    return text.replace("`", "'")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# Registration (`reactbin discord register`).


class RegistrationError(Exception):
    """Discord refused or could not be reached; the message says what to check."""


def command_definition() -> dict[str, Any]:
    """The global `/react` command: one required, autocompleted `query` option short enough for the buttons."""
    return {
        "name": COMMAND_NAME,
        "type": 1,
        "description": "Post a reaction from your reactbin library",
        "options": [
            {
                "type": 3,
                "name": QUERY_OPTION,
                "description": 'What to find: words, tag:cat, -dog, "a phrase", type:animated',
                "required": True,
                "autocomplete": True,
                "max_length": buttons.max_discord_query(),
            }
        ],
    }


async def register_command(api_url: str, application_id: str, bot_token: str, timeout: float = 15.0) -> str:
    """Create or update the global `/react` command (Discord upserts by name); return the command's id.

    Raises:
        RegistrationError: Discord answered with an error, or could not be reached.
    """
    url = f"{api_url.rstrip('/')}/applications/{application_id}/commands"
    headers: Mapping[str, str] = {"Authorization": f"Bot {bot_token}", "User-Agent": "reactbin (self-hosted, 1.0)"}
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session,
            session.post(url, json=command_definition(), headers=headers, allow_redirects=False) as response,
        ):
            text = await response.text()
            status = response.status
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise RegistrationError(f"could not reach {api_url}: {exc or type(exc).__name__}") from None
    if status == 401:
        raise RegistrationError("Discord refused DISCORD_BOT_TOKEN (401): copy the token from the Bot page again")
    if status == 403 or status == 404:
        raise RegistrationError(
            f"Discord answered {status}: check DISCORD_APPLICATION_ID and that the token belongs to that application"
        )
    if status >= 400:
        raise RegistrationError(f"Discord answered {status}: {text[:300]}")
    try:
        created = msgspec.json.decode(text.encode(), type=dict[str, Any])
    except msgspec.DecodeError:
        raise RegistrationError(f"Discord answered {status} with a body that is not JSON") from None
    return str(created.get("id", "?"))
