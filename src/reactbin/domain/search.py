"""Search use cases: `GET /images?q=` (query language, relevance, cursors) and typo-tolerant tag suggestions."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import random
import uuid

import asyncpg
import msgspec

from reactbin.db import search as db
from reactbin.db.accounts import user_ids_named
from reactbin.db.images import ImageRow
from reactbin.domain.corrections import DidYouMean, did_you_mean
from reactbin.domain.query import By, Clause, Favourite, Phrase, Prefix, Query, Tag, Type, Word, parse_query
from reactbin.domain.resources import Resources
from reactbin.domain.tags import normalise_tags
from reactbin.errors import InvalidCursor, InvalidQuery

MIN_INDEXED_TEXT = 3
"""Trigram indexes serve substrings of at least three characters; shorter text only narrows other matches."""


class SearchPage(msgspec.Struct, frozen=True):
    items: list[ImageRow]
    next_cursor: str | None
    did_you_mean: DidYouMean | None = None
    """Only on an empty first page: the query with its unmatched words corrected, when that finds something."""


class _Cursor(msgspec.Struct, array_like=True, frozen=True):
    sort: str
    key: int
    created_at: dt.datetime
    id: uuid.UUID
    seed: int


def _encode_cursor(sort: str, position: db.Position, seed: int) -> str:
    raw = msgspec.json.encode(_Cursor(sort, position.key, position.created_at, position.id, seed))
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _decode_cursor(cursor: str, sort: str) -> _Cursor:
    if len(cursor) > 300:
        raise InvalidCursor()
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        decoded = msgspec.json.decode(raw, type=_Cursor)
    except (binascii.Error, ValueError, msgspec.DecodeError):
        raise InvalidCursor() from None
    if decoded.sort != sort or decoded.created_at.tzinfo is None or not -(2**63) <= decoded.key < 2**63:
        raise InvalidCursor("The cursor belongs to another query or sort")
    if (sort == "relevance" and not 0 <= decoded.key <= 2) or (sort == "random" and decoded.key not in (0, 1)):
        raise InvalidCursor()
    if sort == "popular" and not 0 <= decoded.key < 2**31:
        raise InvalidCursor()
    return decoded


async def search_images(
    res: Resources,
    *,
    q: str,
    tags: list[str],
    limit: int,
    cursor: str | None,
    seed: int | None = None,
    viewer: uuid.UUID | None = None,
) -> SearchPage:
    """Images matching the query `q` and every tag in `tags`, in the query's order, one keyset page at a time.

    `viewer` is the requesting user, whom `is:fav` and `by:me` mean.

    Raises:
        InvalidQuery: `q` is malformed, or uses `is:fav`/`by:me` without a signed-in user.
        InvalidTag: a `tags` entry is not a tag.
        InvalidCursor: the cursor was not issued for this sort.
    """
    query = parse_query(q)
    extra = [Tag(tag) for tag in normalise_tags(list(tags))]
    sort = _sort_of(query)
    decoded = _decode_cursor(cursor, sort) if cursor else None
    if decoded is not None:
        seed = decoded.seed
    if seed is None:
        seed = random.randrange(2**31) if sort == "random" else 0
    async with res.tx() as conn:
        search = await resolve(conn, query, extra, sort=sort, limit=limit + 1, seed=seed, viewer=viewer)
        if decoded is not None:
            search = msgspec.structs.replace(search, after=db.Position(decoded.key, decoded.created_at, decoded.id))
        hits = await db.search_images(conn, search)
        suggestion = None
        if not hits and decoded is None:
            suggestion = await _did_you_mean(conn, q, query, extra, viewer)
    next_cursor = None
    if len(hits) > limit:
        hits = hits[:limit]
        next_cursor = _encode_cursor(sort, hits[-1].position, seed)
    return SearchPage(items=[hit.image for hit in hits], next_cursor=next_cursor, did_you_mean=suggestion)


def _sort_of(query: Query) -> db.SearchSort:
    """The query's order: the one it names, else relevance when it has words, else newest first."""
    return query.sort or ("relevance" if query.has_free_text else "new")


async def search_ids(res: Resources, *, q: str, limit: int, seed: int) -> tuple[list[uuid.UUID], bool]:
    """The ids of the first `limit` matches of the query `q` in its order, and whether more match: a window of
    matches to count and step through (chat previews), read without the images' columns.

    Raises:
        InvalidQuery: `q` is malformed or needs a signed-in user (`is:fav`, `by:me`).
    """
    query = parse_query(q)
    sort = _sort_of(query)
    async with res.tx() as conn:
        search = await resolve(conn, query, [], sort=sort, limit=limit + 1, seed=seed)
        ids = await db.search_ids(conn, search)
    return ids[:limit], len(ids) > limit


async def _did_you_mean(
    conn: asyncpg.Connection, q: str, query: Query, extra: list[Tag], viewer: uuid.UUID | None
) -> DidYouMean | None:
    # The search may have steered the planner (see db.choose_plan); each probe below chooses again.
    await conn.execute("SET LOCAL enable_indexscan = on; SET LOCAL enable_seqscan = on")

    async def finds_anything(corrected: Query) -> bool:
        probe = await resolve(conn, corrected, extra, sort="new", limit=1, seed=0, viewer=viewer)
        found = bool(await db.search_images(conn, probe))
        await conn.execute("SET LOCAL enable_indexscan = on; SET LOCAL enable_seqscan = on")
        return found

    return await did_you_mean(conn, q, query, finds_anything)


async def resolve(
    conn: asyncpg.Connection,
    query: Query,
    extra: list[Tag],
    *,
    sort: db.SearchSort,
    limit: int,
    seed: int,
    viewer: uuid.UUID | None = None,
) -> db.Search:
    """Turn parsed terms into SQL-ready matches: compact texts, tag closures, prefix expansions."""
    clauses = [*query.clauses, *(Clause(alternatives=(tag,)) for tag in extra)]
    atoms = [atom for clause in clauses for atom in clause.alternatives]
    free = query.free_text
    texts = [atom.text for atom in atoms if isinstance(atom, Word | Phrase)]
    joined = " ".join(atom.text for atom in free)
    tag_names = [atom.tag for atom in atoms if isinstance(atom, Tag)]
    tag_names += [atom.tag for atom in atoms if isinstance(atom, Word) and atom.tag is not None]
    prefixes = [atom.prefix for atom in atoms if isinstance(atom, Prefix)]
    terms = await db.resolve_terms(conn, [*texts, joined], tag_names, prefixes)
    compact = terms.compact
    text_of = dict(zip(texts, compact, strict=False))
    whole = compact[-1] if compact else ""

    closure = dict(zip(tag_names, terms.closures, strict=True))
    named = sorted({atom.name for atom in atoms if isinstance(atom, By) and atom.name is not None})
    uploader = dict(zip(named, await user_ids_named(conn, named), strict=True)) if named else {}
    personal = any(isinstance(atom, Favourite) or (isinstance(atom, By) and atom.name is None) for atom in atoms)
    if viewer is None and personal:
        raise InvalidQuery("is:fav and by:me need a signed-in user")
    expanded = dict(zip(prefixes, terms.prefixed, strict=True))

    def indexed(atom: object) -> bool:
        """Whether an index can find this alternative's every match."""
        if isinstance(atom, Word):
            return len(text_of[atom.text]) >= MIN_INDEXED_TEXT or not text_of[atom.text]
        if isinstance(atom, Phrase):
            return len(text_of[atom.text]) >= MIN_INDEXED_TEXT
        return not isinstance(atom, Type | Favourite | By)

    def meaningless(atom: object) -> bool:
        """Punctuation alone ("?" in `why not both ?`) says nothing: it neither matches nor excludes."""
        return isinstance(atom, Word | Phrase) and not text_of[atom.text] and not getattr(atom, "tag", None)

    kept = [c for c in clauses if not all(meaningless(atom) for atom in c.alternatives)]
    # Short text ("is" in "this is fine") may narrow what an indexed term finds; alone it would scan every row.
    anchored = any(not c.negated and all(indexed(a) for a in c.alternatives) for c in kept)

    def match(atom: object) -> db.Match:
        if isinstance(atom, Word | Phrase):
            text = text_of[atom.text]
            short = len(text) < MIN_INDEXED_TEXT
            tags = closure[atom.tag] if isinstance(atom, Word) and atom.tag is not None else []
            if not text or (short and not anchored):
                return db.Match(tags=tags)
            return db.Match(tags=tags, text=text, text_indexed=not short)
        if isinstance(atom, Tag):
            return db.Match(tags=closure[atom.tag])
        if isinstance(atom, Prefix):
            return db.Match(tags=expanded[atom.prefix])
        if isinstance(atom, Favourite):
            return db.Match(favourite_of=viewer)
        if isinstance(atom, By):
            user = viewer if atom.name is None else uploader[atom.name]
            return db.Match(uploaders=[user] if user is not None else [])  # nobody of that name: matches nothing
        assert isinstance(atom, Type)
        return db.Match(kinds=[atom.kind])

    conditions = [db.Condition([match(atom) for atom in c.alternatives], negated=c.negated) for c in kept]
    exact_tags = sorted({t for atom in free if isinstance(atom, Word) and atom.tag for t in closure[atom.tag]})
    return db.Search(
        conditions=conditions,
        sort=sort,
        limit=limit,
        seed=seed,
        exact_tags=exact_tags,
        whole_text=whole or None,
        phrase_text=whole if len(free) > 1 and len(whole) >= MIN_INDEXED_TEXT else None,
        indexed=anchored,
        viewer=viewer,
    )
