"""What a chat button carries: everything needed to answer its click, so any replica answers any click.

Discord calls it the button's `custom_id` (at most 100 characters), Slack the button's `value`. Three kinds:

- `send:<image id>`: post this image to the channel;
- `next:<index>:<seed>:<query>`: show match `index` of `query` (`seed` orders `sort:random`, base 36);
- `cancel`: dismiss the preview.

A click is signed by the platform, but the id is only as trustworthy as the message it was put on: every field is
parsed strictly, and an id naming an image that is gone gets an answer saying so, not an error.
"""

from __future__ import annotations

import uuid

import msgspec

MAX_CUSTOM_ID = 100
"""Discord's limit for a component's custom_id."""
_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"


class Send(msgspec.Struct, frozen=True):
    image_id: uuid.UUID


class Next(msgspec.Struct, frozen=True):
    index: int
    seed: int
    query: str


class Cancel(msgspec.Struct, frozen=True):
    pass


Button = Send | Next | Cancel


def encode(button: Button) -> str:
    """The id of a button (may exceed `MAX_CUSTOM_ID` for a long query: see `fits_discord`)."""
    if isinstance(button, Send):
        return f"send:{button.image_id}"
    if isinstance(button, Next):
        return f"next:{button.index}:{_base36(button.seed)}:{button.query}"
    return "cancel"


def fits_discord(query: str) -> bool:
    """Whether the Next button of `query` fits Discord's custom_id, whatever the index and seed."""
    return len(encode(Next(index=99, seed=2**31 - 1, query=query))) <= MAX_CUSTOM_ID


def max_discord_query() -> int:
    """The longest query whose buttons fit Discord (what `reactbin discord register` sets as the option's limit)."""
    return MAX_CUSTOM_ID - len(encode(Next(index=99, seed=2**31 - 1, query="")))


def decode(raw: str) -> Button | None:
    """The button an id stands for, or None for anything this server never made."""
    kind, _, rest = raw.partition(":")
    if kind == "cancel" and not rest and raw == "cancel":
        return Cancel()
    if kind == "send":
        try:
            image_id = uuid.UUID(rest)
        except ValueError:
            return None
        return Send(image_id) if str(image_id) == rest else None
    if kind == "next":
        index, _, rest = rest.partition(":")
        seed, sep, query = rest.partition(":")
        if not sep or not index.isascii() or not index.isdigit() or len(index) > 3:
            return None
        if not seed or len(seed) > 6 or any(ch not in _BASE36 for ch in seed):
            return None
        return Next(index=int(index), seed=int(seed, 36), query=query)
    return None


def _base36(number: int) -> str:
    digits = ""
    while True:
        number, remainder = divmod(number, 36)
        digits = _BASE36[remainder] + digits
        if number == 0:
            return digits
