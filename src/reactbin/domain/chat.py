"""What the chat commands (Discord, Slack: reactbin.integrations) need from the library.

Every function here answers within a chat platform's 3-second deadline: indexed queries only, never a storage read,
an OCR run or a thumbnail. Integrations read the library as a built-in reader, so they call these functions
directly (no HTTP, no user), and the only thing they ever write is a use.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import re
import unicodedata
import uuid

import msgspec

from reactbin.db import chat as db
from reactbin.db.images import ImageRow
from reactbin.domain import images, search
from reactbin.domain.query import MAX_QUERY_CHARS, parse_query
from reactbin.domain.resources import Resources
from reactbin.errors import ImageNotFound, InvalidQuery, InvalidSignature, InvalidTag

BROWSE_WINDOW = 50
"""Next/Shuffle walk the first this many matches of a query (the count shown is "N+" beyond it)."""
MAX_CHOICES = 25
"""Discord shows at most 25 autocomplete choices."""
MAX_CHOICE_CHARS = 100
"""A choice's label and value are at most 100 characters (Discord)."""
CAPTION_CHOICES = 8
"""Captions of the best matches offered as whole queries."""
TYPO_BELOW = 5
"""Fewer tags than this start with the word typed: look for tags it may be a misspelling of too."""


class Match(msgspec.Struct, frozen=True):
    """One match of a query and where it stands among them."""

    image: ImageRow
    index: int
    """0-based position among the first `BROWSE_WINDOW` matches."""
    total: int
    """How many of the first `BROWSE_WINDOW` matches there are."""
    more: bool
    """There are more matches than `total`."""


class Choice(msgspec.Struct, frozen=True):
    """An autocomplete suggestion: what is shown and the query it stands for."""

    name: str
    value: str


def new_seed() -> int:
    """The order of a `sort:random` query, fixed for one conversation with the command."""
    return random.randrange(2**31)


async def find_match(res: Resources, query: str, index: int, seed: int) -> Match | None:
    """The match at `index` (wrapping around) of `query` in the query language, or None when nothing matches.

    Raises:
        InvalidQuery: the query is malformed (its detail says how).
    """
    try:
        page = await search.search_images(res, q=query, tags=[], limit=BROWSE_WINDOW, cursor=None, seed=seed)
    except InvalidTag as exc:  # `tag:` with something no tag can be is a problem of the query
        raise InvalidQuery(exc.detail) from None
    if not page.items:
        return None
    position = index % len(page.items)
    return Match(page.items[position], position, len(page.items), more=page.next_cursor is not None)


async def use_image(res: Resources, image_id: uuid.UUID) -> ImageRow | None:
    """Count a post of the image as a use and return it; None when it no longer exists."""
    try:
        await images.record_use(res, image_id)
        return await images.get_image(res, image_id)
    except ImageNotFound:
        return None


async def choices(res: Resources, typed: str) -> list[Choice]:
    """Autocomplete for a query being typed: the text itself, then its last word completed as a tag (typos and
    aliases too), then captions of the best matches. Malformed or partial queries still get tag suggestions."""
    typed = " ".join(typed.split())[:MAX_QUERY_CHARS]
    head, _, last = typed.rpartition(" ")
    operator = re.match(r"^-?(?:tag:)?", last)
    sign = operator[0] if operator else ""
    word = last[len(sign) :]
    found: list[Choice] = []
    if typed:
        found.append(_choice(typed, typed))
    # Tags starting with the word come from an index; the typo-tolerant look reads every tag (~9 ms at 5,000 tags),
    # so it runs only when the word starts few tags (a misspelling: `kat`), not on every keystroke.
    suggestions = await images.suggest_tags(res, prefix=word, limit=MAX_CHOICES)
    if word and len(suggestions) < TYPO_BELOW:
        suggestions = await images.suggest_tags(res, prefix=word, typed=word, limit=MAX_CHOICES)
    for suggestion in suggestions:
        tag = suggestion.tag or suggestion.name
        value = f"{head} {sign}{tag}".strip()
        label = f"{value} ({suggestion.count})" if suggestion.tag is None else f"{value} ({suggestion.name} → {tag})"
        found.append(_choice(label, value))
    if len(typed) >= search.MIN_INDEXED_TEXT:
        try:
            page = await search.search_images(res, q=typed, tags=[], limit=CAPTION_CHOICES, cursor=None)
        except (InvalidQuery, InvalidTag):
            page = None  # still being typed (an open quote, a lone '-'): tags are suggestions enough
        for image in page.items if page else []:
            words = caption_words(image.text)
            if words:
                found.append(_choice(f"“{_clip(image.text or '', MAX_CHOICE_CHARS - 2)}”", words))
    unique = list({choice.value: choice for choice in reversed(found)}.values())[::-1]
    return unique[:MAX_CHOICES]


def caption_words(text: str | None) -> str:
    """A caption as plain query words (letters and digits only: no `-`, `|`, `"` or `:` that would mean an operator),
    cut at a word boundary to fit a choice. Matching ignores punctuation, so the words find the caption."""
    if not text:
        return ""
    words = re.sub(r"[^\w\s]|_", " ", unicodedata.normalize("NFKC", text)).split()
    kept: list[str] = []
    for word in words:
        if len(" ".join([*kept, word])) > MAX_CHOICE_CHARS:
            break
        kept.append(word)
    return " ".join(kept)


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _choice(label: str, value: str) -> Choice:
    return Choice(name=_clip(label, MAX_CHOICE_CHARS), value=value[:MAX_CHOICE_CHARS])


def check_query(query: str) -> None:
    """Raise `InvalidQuery` for a query the search would refuse, before anything else is done with it."""
    parse_query(query)


REQUEST_LIFETIME = 300
"""Seconds a signed chat request is accepted after (or before) its timestamp, on both platforms."""


async def accept_once(res: Resources, platform: str, signature: bytes, timestamp: int) -> None:
    """Refuse a signed request that was already answered, on any replica (a replay within its 5 minutes).

    Raises:
        InvalidSignature: the same signature came before.
    """
    digest = hashlib.sha256(platform.encode() + b"\0" + signature).digest()
    expires_at = dt.datetime.fromtimestamp(timestamp + REQUEST_LIFETIME, dt.UTC)
    async with res.db() as conn:
        fresh = await db.remember_request(conn, digest, expires_at)
        if random.random() < 0.01:
            await db.forget_expired(conn)
    if not fresh:
        raise InvalidSignature("This signed request was already received")
