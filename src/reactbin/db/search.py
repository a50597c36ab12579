"""Search SQL: resolve query words (compact forms, tag closures, prefixes) and find images, one keyset page at a time.

Every value is a `$n` parameter; only the shape of the SQL depends on the query. Conditions are written so that
PostgreSQL can answer them from an index: `tag_list && $n` (GIN), `text_compact LIKE $n` (trigram GIN, only for
patterns of at least three characters) and equality on the compact caption (trigram GIN). Shorter text is checked
with `strpos`, which no index serves, and only next to a condition that one does (see domain/search.py).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from typing import Literal

import asyncpg
import msgspec

from reactbin.db.images import ImageRow, TagCount, like_escape

SearchSort = Literal["relevance", "new", "old", "popular", "random"]
MAX_PREFIX_TAGS = 500
"""A tag prefix stands for at most this many tags (the most used); `a*` on a big library stays one index probe."""


class Match(msgspec.Struct, frozen=True, kw_only=True):
    """One alternative, resolved: any of its parts matches (an empty match matches nothing)."""

    tags: list[str] = []
    text: str | None = None
    text_indexed: bool = True
    kinds: list[str] = []


class Condition(msgspec.Struct, frozen=True):
    matches: list[Match]
    negated: bool = False


class Position(msgspec.Struct, frozen=True):
    """Where the previous page ended: its last row's sort key (rank, use count, or half of a random walk)."""

    key: int
    created_at: dt.datetime
    id: uuid.UUID


class Search(msgspec.Struct, frozen=True, kw_only=True):
    conditions: list[Condition]
    sort: SearchSort
    limit: int
    after: Position | None = None
    seed: int = 0
    exact_tags: list[str] = []
    """Relevance: images with one of these tags (the free words as tags) rank first..."""
    whole_text: str | None = None
    """... as do images whose whole caption is this compact text ..."""
    phrase_text: str | None = None
    """... then images whose caption contains it in one piece; scattered matches come last."""
    indexed: bool = False
    """Some term every match must meet is served by an index (see `search_images`)."""


class Hit(msgspec.Struct, frozen=True):
    image: ImageRow
    position: Position


_COLUMNS = """
    i.id, i.hash, i.filename, i.mime_type, i.size_bytes, i.width, i.height, i.storage_key,
    i.thumbnail_key, i.thumbnail_hash, i.thumbnail_size_bytes, i.created_at, i.tag_list AS tags,
    i.kind, i.duration_ms, i.frame_count, i.has_audio, i.preview_key, i.placeholder,
    i.text, i.text_status, i.use_count, i.last_used_at
"""


class Terms(msgspec.Struct, frozen=True):
    compact: list[str]
    """The compact form of each text, by the same function the stored columns use."""
    closures: list[list[str]]
    """For each tag: its canonical tag (through an alias) and every tag that implies it, directly or not."""
    prefixed: list[list[str]]
    """For each prefix: the tags in use that start with it, and the canonical tags of aliases that do."""


async def resolve_terms(conn: asyncpg.Connection, texts: list[str], tags: list[str], prefixes: list[str]) -> Terms:
    """Everything a query's words stand for, in one round trip."""
    raw: str = await conn.fetchval(
        f"""
        WITH RECURSIVE
            input AS (
                SELECT u.n, coalesce(a.tag, u.t) AS tag
                FROM unnest($2::text[]) WITH ORDINALITY u(t, n) LEFT JOIN tag_aliases a ON a.alias = u.t
            ),
            closure(n, tag) AS (
                SELECT n, tag FROM input
                UNION  -- not ALL: a rule cycle (refused on write) could never loop here
                SELECT c.n, r.tag FROM closure c JOIN tag_implications r ON r.implies = c.tag
            )
        SELECT json_build_array(
            ARRAY(SELECT coalesce(reactbin_compact(u.t), '') FROM unnest($1::text[]) WITH ORDINALITY u(t, n)
                  ORDER BY u.n),
            coalesce((SELECT json_agg(c.tags ORDER BY c.n) FROM (
                SELECT n, array_agg(tag ORDER BY tag) AS tags FROM closure GROUP BY n
            ) c), '[]'),
            coalesce((SELECT json_agg(ARRAY(
                SELECT s.name FROM (
                    SELECT name, count FROM tags WHERE name LIKE u.p || '%' AND count > 0
                    UNION
                    SELECT a.tag, 0 FROM tag_aliases a WHERE a.alias LIKE u.p || '%'
                ) s ORDER BY s.count DESC, s.name LIMIT {MAX_PREFIX_TAGS}
            ) ORDER BY u.n) FROM unnest($3::text[]) WITH ORDINALITY u(p, n)), '[]')
        )::text
        """,
        texts,
        tags,
        [like_escape(prefix) for prefix in prefixes],
    )
    compact, closures, prefixed = msgspec.json.decode(raw, type=tuple[list[str], list[list[str]], list[list[str]]])
    return Terms(compact=compact, closures=closures, prefixed=prefixed)


class _Params:
    def __init__(self) -> None:
        self.values: list[object] = []

    def __call__(self, value: object) -> str:
        self.values.append(value)
        return f"${len(self.values)}"


def _match_sql(match: Match, param: _Params) -> str:
    parts: list[str] = []
    if match.tags:
        parts.append(f"i.tag_list && {param(match.tags)}::text[]")
    if match.text:
        if match.text_indexed:
            pattern = param(f"%{like_escape(match.text)}%")
            parts.append(f"i.text_compact LIKE {pattern} OR i.name_compact LIKE {pattern}")
        else:
            text = param(match.text)
            parts.append(f"strpos(i.text_compact, {text}) > 0 OR strpos(i.name_compact, {text}) > 0")
    if match.kinds:
        parts.append(f"i.kind = ANY({param(match.kinds)}::text[])")
    return " OR ".join(parts) if parts else "FALSE"


def _where(search: Search, param: _Params) -> list[str]:
    where: list[str] = []
    for condition in search.conditions:
        sql = " OR ".join(f"({_match_sql(match, param)})" for match in condition.matches)
        where.append(f"NOT ({sql})" if condition.negated else f"({sql})")
    return where


PROBE_LIMIT = 10_000
"""Up to this many matches, fetching them all through the indexes and sorting beats walking the sort order."""


async def search_images(conn: asyncpg.Connection, search: Search) -> list[Hit]:
    """Up to `search.limit` images in the search's order, after `search.after`; run inside a transaction.

    Two plans can answer a page: fetch every match through the trigram/tag indexes and sort them (cost grows with
    the number of matches), or walk the sort order's index and filter until the page is full (cost grows as
    matches get rarer). PostgreSQL guesses how many rows `LIKE '%word%'` matches poorly (off by 6x at a million
    captions, enough to walk 36,000 rows for 51 hits), so we count instead: up to PROBE_LIMIT matches through the
    indexes alone. Fewer, and the index plan is used; more, and matches are common enough that the walk stops soon.
    """
    await choose_plan(conn, search)
    sql, params = search_sql(search)
    records = await conn.fetch(sql, *params)
    return [
        Hit(
            msgspec.convert(dict(record), ImageRow),
            Position(record["sort_key"], record["created_at"], record["id"]),
        )
        for record in records
    ]


async def choose_plan(conn: asyncpg.Connection, search: Search) -> bool:
    """Set this transaction up for the search's plan (see `search_images`); True when it fetches through indexes."""
    # Each query shape is a prepared statement; a generic plan would not know how selective a pattern is.
    await conn.execute("SET LOCAL plan_cache_mode = force_custom_plan")
    if not search.indexed:
        return False
    await conn.execute("SET LOCAL enable_indexscan = off; SET LOCAL enable_seqscan = off")
    probe, probe_params = _probe_sql(search)
    if await conn.fetchval(probe, *probe_params) < PROBE_LIMIT:
        return True
    await conn.execute("SET LOCAL enable_indexscan = on; SET LOCAL enable_seqscan = on")
    return False


def search_sql(search: Search) -> tuple[str, list[object]]:
    """The SQL and its parameters (also what the benchmark EXPLAINs)."""
    param = _Params()
    where = _where(search, param)
    after = search.after
    limit = param(search.limit)
    if search.sort == "relevance":
        sql = _relevance_sql(search, where, param, limit)
    elif search.sort == "random":
        sql = _random_sql(search, where, param, limit)
    else:
        key, order, keyset = _ordering(search, param)
        if after is not None:
            where.append(keyset)
        sql = f"""
            SELECT {_COLUMNS}, {key} AS sort_key FROM images i
            WHERE {" AND ".join(where) or "TRUE"}
            ORDER BY {order} LIMIT {limit}
        """
    return sql, param.values


def _probe_sql(search: Search) -> tuple[str, list[object]]:
    param = _Params()
    where = _where(search, param)
    conditions = " AND ".join(where) or "TRUE"
    sql = f"SELECT count(*) FROM (SELECT 1 FROM images i WHERE {conditions} LIMIT {param(PROBE_LIMIT)}) m"
    return sql, param.values


def _ordering(search: Search, param: _Params) -> tuple[str, str, str]:
    """The sort key column, ORDER BY and the keyset condition for the rows after `search.after`."""
    after = search.after
    if search.sort == "popular":
        keyset = (
            f"(i.use_count, i.created_at, i.id) < ({param(after.key)}::integer, {param(after.created_at)}, "
            f"{param(after.id)})"
            if after
            else ""
        )
        return "i.use_count", "i.use_count DESC, i.created_at DESC, i.id DESC", keyset
    if search.sort == "old":
        keyset = f"(i.created_at, i.id) > ({param(after.created_at)}, {param(after.id)})" if after else ""
        return "0", "i.created_at, i.id", keyset
    keyset = f"(i.created_at, i.id) < ({param(after.created_at)}, {param(after.id)})" if after else ""
    return "0", "i.created_at DESC, i.id DESC", keyset


def random_pivot(seed: int) -> uuid.UUID:
    """Where `sort:random` starts for this seed: a point spread evenly over the id space."""
    return uuid.UUID(bytes=hashlib.sha256(f"reactbin-random-{seed}".encode()).digest()[:16])


def _random_sql(search: Search, where: list[str], param: _Params, limit: str) -> str:
    """Ids are random (UUID v4), so id order is already a shuffle; the seed picks where in it to start, and the
    walk wraps around. Both halves are ordered primary-key walks that stop at the LIMIT, so a random page costs
    what a newest-first page costs instead of hashing every match. `Position.key` is 0 before the wrap, 1 after.
    """
    pivot = param(random_pivot(search.seed))
    after = search.after
    selects: list[str] = []
    for half, side in ((0, ">="), (1, "<")):
        if after is not None and half < after.key:
            continue
        conditions = [*where, f"i.id {side} {pivot}"]
        if after is not None and half == after.key:
            conditions.append(f"i.id > {param(after.id)}")
        selects.append(
            f"""(SELECT {_COLUMNS}, {half} AS sort_key FROM images i WHERE {" AND ".join(conditions)}
                ORDER BY i.id LIMIT {limit})"""
        )
    return f"""
        SELECT * FROM ({" UNION ALL ".join(selects)}) hits ORDER BY sort_key, id LIMIT {limit}
    """


def _relevance_sql(search: Search, where: list[str], param: _Params, limit: str) -> str:
    """Tiers, best first: exact (a free word is a tag of the image, or the caption is the whole text), phrase (the
    caption holds the words in one piece), the rest. Each tier is its own newest-first query with a LIMIT, so none
    ranks every match: PostgreSQL may walk the date index and stop, or use the trigram index, whichever is cheaper.
    """
    exact: list[str] = []
    if search.exact_tags:
        exact.append(f"i.tag_list && {param(search.exact_tags)}::text[]")
    if search.whole_text:
        exact.append(f"i.text_compact = {param(search.whole_text)}")
    exact_sql = " OR ".join(exact) if exact else None
    phrase_sql = f"i.text_compact LIKE {param(f'%{like_escape(search.phrase_text)}%')}" if search.phrase_text else None

    tiers: list[tuple[int, list[str]]] = []
    if exact_sql:
        tiers.append((0, [f"({exact_sql})"]))
    if phrase_sql:
        tiers.append((1, [f"NOT ({exact_sql})"] * bool(exact_sql) + [phrase_sql]))
    rest = [f"NOT ({exact_sql})"] * bool(exact_sql) + [f"NOT ({phrase_sql})"] * bool(phrase_sql)
    tiers.append((2, rest))

    after = search.after
    selects: list[str] = []
    for rank, predicates in tiers:
        if after is not None and rank < after.key:
            continue
        conditions = where + predicates
        if after is not None and rank == after.key:
            conditions.append(f"(i.created_at, i.id) < ({param(after.created_at)}, {param(after.id)})")
        selects.append(
            f"""(SELECT {_COLUMNS}, {rank} AS sort_key FROM images i
                WHERE {" AND ".join(conditions) or "TRUE"}
                ORDER BY i.created_at DESC, i.id DESC LIMIT {limit})"""
        )
    return f"""
        SELECT * FROM ({" UNION ALL ".join(selects)}) hits
        ORDER BY sort_key, created_at DESC, id DESC LIMIT {limit}
    """


async def similar_tags(conn: asyncpg.Connection, typed: str, *, max_distance: int, limit: int) -> list[TagCount]:
    """Tags and aliases that start with `typed` or are within `max_distance` edits of it (or trigram-similar).

    Prefix hits come first, then the closest, then the most used. An alias hit carries its tag and that tag's count.
    The edit distance reads the whole `tags` table (one row per distinct tag, not per use).
    """
    records = await conn.fetch(
        """
        WITH candidates AS (
            SELECT t.name, t.count, NULL::text AS tag FROM tags t WHERE t.count > 0
            UNION ALL
            SELECT a.alias, coalesce(t.count, 0), a.tag FROM tag_aliases a LEFT JOIN tags t ON t.name = a.tag
        ), scored AS (
            SELECT name, count, tag,
                   CASE WHEN name LIKE $2 || '%' THEN 0 ELSE 1 END AS tier,
                   CASE WHEN abs(length(name) - length($1)) <= $3
                        THEN levenshtein_less_equal(name, $1, $3) ELSE $3 + 1 END AS distance,
                   similarity(name, $1) AS similarity
            FROM candidates
        )
        SELECT name, count, tag FROM scored
        WHERE tier = 0 OR distance <= $3 OR similarity >= 0.4
        ORDER BY tier, distance, similarity DESC, count DESC, name
        LIMIT $4
        """,
        typed,
        like_escape(typed),
        max_distance,
        limit,
    )
    return [TagCount(r["name"], r["count"], r["tag"]) for r in records]
