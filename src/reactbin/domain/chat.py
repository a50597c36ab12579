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
CAPTION_ROWS = 16
"""Captions (of this many images, the same caption may repeat) that hold the typed words, offered as whole queries."""
CAPTION_WALK = 500
"""Images read newest first for those captions before the trigram index is asked (see db.chat.caption_completions)."""
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
        ids, more = await search.search_ids(res, q=query, limit=BROWSE_WINDOW, seed=seed)
    except InvalidTag as exc:  # `tag:` with something no tag can be is a problem of the query
        raise InvalidQuery(exc.detail) from None
    if not ids:
        return None
    position = index % len(ids)
    try:
        image = await images.get_image(res, ids[position])
    except ImageNotFound:  # deleted since the search: the next click finds the window without it
        return None
    return Match(image, position, len(ids), more=more)


async def use_image(res: Resources, image_id: uuid.UUID) -> ImageRow | None:
    """Count a post of the image as a use and return it; None when it no longer exists."""
    try:
        await images.record_use(res, image_id)
        return await images.get_image(res, image_id)
    except ImageNotFound:
        return None


async def choices(res: Resources, typed: str) -> list[Choice]:
    """Autocomplete for a query being typed: the text itself, then its last word completed as a tag (typos and
    aliases too), then captions that hold its words (the whole caption first, then those starting with them, newest
    first). Malformed or partial queries (an open quote) get suggestions too.

    Discord asks at every keystroke, so this is three or four short indexed statements, not a search: ~2.5 ms of
    PostgreSQL for `hap` at 100,000 images, where the relevance search it replaced took ~6 ms.
    """
    typed = " ".join(typed.split())[:MAX_QUERY_CHARS]
    head, _, last = typed.rpartition(" ")
    operator = re.match(r"^-?(?:tag:)?", last)
    sign = operator[0] if operator else ""
    word = last[len(sign) :]
    found: list[Choice] = []
    if typed:
        found.append(_choice(typed, typed))
    # Tags starting with the word come from an index; the typo-tolerant look costs more (~0.5 ms at 5,000 tags),
    # so it runs only when the word starts few tags (a misspelling: `kat`), not on every keystroke.
    suggestions = await images.suggest_tags(res, prefix=word, limit=MAX_CHOICES)
    if word and len(suggestions) < TYPO_BELOW:
        suggestions = await images.suggest_tags(res, prefix=word, typed=word, limit=MAX_CHOICES)
    for suggestion in suggestions:
        tag = suggestion.tag or suggestion.name
        value = f"{head} {sign}{tag}".strip()
        label = f"{value} ({suggestion.count})" if suggestion.tag is None else f"{value} ({suggestion.name} → {tag})"
        found.append(_choice(label, value))
    free = _free_words(typed)
    if len(free) >= search.MIN_INDEXED_TEXT:
        async with res.db() as conn:
            completions = await db.caption_completions(conn, free, limit=CAPTION_ROWS, walk=CAPTION_WALK)
        for completion in sorted(completions, key=lambda c: c.rank):  # stable: newest first within a rank
            words = caption_words(completion.text)
            if words:
                found.append(_choice(f"“{_clip(completion.text, MAX_CHOICE_CHARS - 2)}”", words))
    unique = list({choice.value: choice for choice in reversed(found)}.values())[::-1]
    return unique[:MAX_CHOICES]


def _free_words(typed: str) -> str:
    """The words of a query being typed that a caption could hold: not excluded, no operators (`tag:`, `by:`,
    `smu*`, `-dog`, `|`), quotes dropped, even when the query does not parse yet (an open quote)."""
    try:
        return " ".join(atom.text for atom in parse_query(typed).free_text)
    except InvalidQuery:
        words = typed.replace('"', " ").split()
        return " ".join(w for w in words if not w.startswith("-") and ":" not in w and not w.endswith("*") and w != "|")


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
