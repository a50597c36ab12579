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
from typing import Literal, NamedTuple

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
    uploaders: list[uuid.UUID] = []
    favourite_of: uuid.UUID | None = None


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
    viewer: uuid.UUID | None = None
    """The requesting user: each hit says whether they marked it as a favourite."""
    ids_only: bool = False
    """Read only each hit's id and position (`search_ids`): a window of matches to count, of which one is shown."""


class Hit(msgspec.Struct, frozen=True):
    image: ImageRow
    position: Position


class _Found(NamedTuple):
    record: asyncpg.Record
    position: Position


_COLUMNS = """
    i.id, i.hash, i.filename, i.mime_type, i.size_bytes, i.width, i.height, i.storage_key,
    i.thumbnail_key, i.thumbnail_hash, i.thumbnail_size_bytes, i.created_at, i.tag_list AS tags,
    i.kind, i.duration_ms, i.frame_count, i.has_audio, i.preview_key, i.placeholder,
    i.use_count, i.last_used_at, i.text, i.text_status, i.uploaded_by
"""


def _columns(search: Search) -> str:
    """The image's columns, or only what places it in the order when the search wants ids alone."""
    return "i.id, i.created_at" if search.ids_only else _COLUMNS


def _people(search: Search, param: _Params, alias: str = "i") -> str:
    """The uploader's name and, for a signed-in viewer, the favourite flag of each hit (`alias` is the row's table).

    Added where the hits are final (after a walk's filter), so a walk of WALK_BUDGET rows never pays for them.
    """
    if search.ids_only:
        return ""
    columns = f", (SELECT u.name FROM users u WHERE u.id = {alias}.uploaded_by) AS uploaded_by_name"
    if search.viewer is not None:
        columns += (
            f", EXISTS (SELECT 1 FROM favourites v WHERE v.user_id = {param(search.viewer)}"
            f" AND v.image_id = {alias}.id) AS favourite"
        )
    return columns


class Terms(msgspec.Struct, frozen=True):
    compact: list[str]
    """The compact form of each text, by the same function the stored columns use."""
    closures: list[list[str]]
    """For each tag: its canonical tag (through an alias) and every tag that implies it, directly or not."""
    prefixed: list[list[str]]
    """For each prefix: the tags in use that start with it, and the canonical tags of aliases that do."""


async def resolve_terms(conn: asyncpg.Connection, texts: list[str], tags: list[str], prefixes: list[str]) -> Terms:
    """Everything a query's words stand for, in one round trip.

    Inside a transaction it also sets `plan_cache_mode = force_custom_plan` for the rest of it (the search that
    follows): each query shape is a prepared statement, and a generic plan would not know how selective a
    pattern is. Setting it here saves the search a round trip of its own.
    """
    record = await conn.fetchrow(
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
        SELECT set_config('plan_cache_mode', 'force_custom_plan', true), json_build_array(
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
    assert record is not None
    raw: str = record[1]
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
    if match.uploaders:
        parts.append(f"i.uploaded_by = ANY({param(match.uploaders)}::uuid[])")
    if match.favourite_of is not None:
        parts.append(
            f"EXISTS (SELECT 1 FROM favourites f WHERE f.user_id = {param(match.favourite_of)} AND f.image_id = i.id)"
        )
    return " OR ".join(parts) if parts else "FALSE"


def _where(search: Search, param: _Params) -> list[str]:
    where: list[str] = []
    for condition in search.conditions:
        sql = " OR ".join(f"({_match_sql(match, param)})" for match in condition.matches)
        where.append(f"NOT ({sql})" if condition.negated else f"({sql})")
    return where


WALK_BUDGET = 2000
"""Rows a page may read walking the sort order before the search turns to the indexes (see `search_images`)."""


async def search_images(conn: asyncpg.Connection, search: Search) -> list[Hit]:
    """Up to `search.limit` images in the search's order, after `search.after`; run inside a transaction."""
    return [Hit(msgspec.convert(dict(found.record), ImageRow), found.position) for found in await _search(conn, search)]


async def search_ids(conn: asyncpg.Connection, search: Search) -> list[uuid.UUID]:
    """The ids alone of what `search_images` finds (reads and decodes two columns of each hit, not the image's)."""
    return [found.record["id"] for found in await _search(conn, msgspec.structs.replace(search, ids_only=True))]


async def _search(conn: asyncpg.Connection, search: Search) -> list[_Found]:
    """The hits of a search page.

    Two plans can answer a page: walk the sort order's index and test each row until the page is full (cost grows
    as matches get rarer), or fetch every match through the trigram/tag indexes and sort them (cost grows with the
    number of matches). PostgreSQL guesses how many rows `LIKE '%word%'` matches poorly (6x off at a million
    captions), and counting matches first cost as much as the page for common words. So each page first walks
    with a budget of WALK_BUDGET rows: common terms fill the page within it, at the plain list's cost; when the
    budget runs out first, matches are rare enough that fetching them all through the indexes is cheap.
    Relevance runs its tiers one after another and stops as soon as the page is full; the exact tier (a free word
    that is a tag) walks that tag's own index in date order.
    """
    if search.sort == "random":
        sql, params = search_sql(search)
        return _hits(await conn.fetch(sql, *params))
    if search.sort != "relevance":
        tags = _tag_condition(search) if search.sort in ("new", "old") else None
        if tags is not None:
            # A tag condition every match meets: walk those tags' own date indexes rather than every image.
            after = search.after
            start = (after.created_at, after.id) if after is not None else None
            found, complete = await _tag_walk(
                conn, search, tags, None, 0, start, search.limit, descending=search.sort == "new"
            )
            if len(found) >= search.limit or complete:
                return found
        else:
            found = await _walk(conn, search, None, search.limit)
            if len(found) >= search.limit or not search.conditions:
                return found
        return await _fetch(conn, search, search.limit)
    hits: list[_Found] = []
    after = search.after
    for rank in _ranks(search):
        if after is not None and rank < after.key:
            continue
        need = search.limit - len(hits)
        if rank == 0:
            found, complete = await _exact_tier(conn, search, need)
        else:
            found = await _walk(conn, search, rank, need)
            complete = False  # a short walk cannot tell rare matches from a spent budget
        hits += found
        if len(hits) >= search.limit:
            break
        if not complete:
            # The rest of the page, every remaining tier at once, through the indexes (one bitmap of the matches).
            resume = hits[-1].position if hits else after
            hits += await _fetch_relevance(conn, search, rank, resume, search.limit - len(hits))
            break
    return hits[: search.limit]


def _hits(records: list[asyncpg.Record]) -> list[_Found]:
    return [_Found(record, Position(record["sort_key"], record["created_at"], record["id"])) for record in records]


async def _walk(conn: asyncpg.Connection, search: Search, rank: int | None, need: int) -> list[_Found]:
    """One sort order (or one relevance tier, `rank`) walked in order, testing each row, at most WALK_BUDGET rows."""
    param = _Params()
    where = _where(search, param)
    if rank is not None:
        where += dict(_tier_predicates(search, param, rank))[rank]
    after = search.after
    if rank is None:
        key, order, keyset = _ordering(search, param)
    else:
        key, order = str(rank), "i.created_at DESC, i.id DESC"
        keyset = ""
        if after is not None and rank == after.key:
            keyset = f"(i.created_at, i.id) < ({param(after.created_at)}, {param(after.id)})"
    walk = f"""
        SELECT w.*{_people(search, param, "w")} FROM (
            SELECT {_columns(search)}, {key} AS sort_key, ({" AND ".join(where) or "TRUE"}) AS matched FROM images i
            WHERE {keyset or "TRUE"} ORDER BY {order} LIMIT {param(WALK_BUDGET)}
        ) w WHERE w.matched LIMIT {param(need)}
    """
    return _hits(await conn.fetch(walk, *param.values))


async def _use_indexes(conn: asyncpg.Connection, search: Search) -> None:
    """Make the rest of this transaction fetch matches through the trigram/tag indexes (a bitmap of all of them),
    never by walking an order index; the caller's last statement follows. Terms no index serves keep the
    planner's own plan."""
    if search.indexed:
        await conn.execute("SET LOCAL enable_indexscan = off; SET LOCAL enable_seqscan = off")


async def _fetch(conn: asyncpg.Connection, search: Search, need: int) -> list[_Found]:
    """A sort order's page from every match, fetched through the indexes and sorted (the walk came up short: the
    matches are rare, or the budget outran the library)."""
    param = _Params()
    where = _where(search, param)
    key, order, keyset = _ordering(search, param)
    sql = f"""
        SELECT {_columns(search)}{_people(search, param)}, {key} AS sort_key FROM images i
        WHERE {" AND ".join([*where, keyset] if keyset else where)}
        ORDER BY {order} LIMIT {param(need)}
    """
    await _use_indexes(conn, search)
    return _hits(await conn.fetch(sql, *param.values))


async def _fetch_relevance(
    conn: asyncpg.Connection, search: Search, rank: int, start: Position | None, need: int
) -> list[_Found]:
    """Relevance from tier `rank` on (after `start`), every remaining tier in one statement through the indexes."""
    param = _Params()
    where = _where(search, param)
    exact_sql, phrase_sql = _tier_sql(search, param, with_phrase=True)
    cases = [f"WHEN {exact_sql} THEN 0"] * bool(exact_sql) + [f"WHEN {phrase_sql} THEN 1"] * bool(phrase_sql)
    tier = f"(CASE {' '.join(cases)} ELSE 2 END)" if cases else "2"
    if start is not None:
        key = param(start.key)
        where.append(
            f"({tier} > {key} OR ({tier} = {key} AND (i.created_at, i.id) < ({param(start.created_at)}, "
            f"{param(start.id)})))"
        )
    else:
        where.append(f"{tier} >= {param(rank)}")
    sql = f"""
        SELECT {_columns(search)}{_people(search, param)}, {tier} AS sort_key FROM images i WHERE {" AND ".join(where)}
        ORDER BY sort_key, i.created_at DESC, i.id DESC LIMIT {param(need)}
    """
    await _use_indexes(conn, search)
    return _hits(await conn.fetch(sql, *param.values))


MAX_STREAMS = 20
"""A tag condition is walked tag by tag (merged in date order) when it stands for at most this many tags."""


async def _exact_tier(conn: asyncpg.Connection, search: Search, need: int) -> tuple[list[_Found], bool]:
    """Relevance's first tier: images with a free word as a tag (or the whole text as caption), newest first.

    Also says whether the tier is complete (see `_tag_walk`); when it is not, the caller fetches the rest of the
    page through the indexes.
    """
    after = search.after
    start = (after.created_at, after.id) if after is not None and after.key == 0 else None
    return await _tag_walk(conn, search, search.exact_tags, search.whole_text, 0, start, need, descending=True)


def _tag_condition(search: Search) -> list[str] | None:
    """The tags of a condition every match must meet that is made of tags alone (`smu*`, `tag:cat`), the one with
    the fewest; None when there is none or it stands for more than MAX_STREAMS tags."""
    best: list[str] | None = None
    for condition in search.conditions:
        if condition.negated or not all(m.tags and m.text is None and not m.kinds for m in condition.matches):
            continue
        tags = sorted({tag for m in condition.matches for tag in m.tags})
        if len(tags) <= MAX_STREAMS and (best is None or len(tags) < len(best)):
            best = tags
    return best


async def _tag_walk(
    conn: asyncpg.Connection,
    search: Search,
    tags: list[str],
    whole_text: str | None,
    key: int,
    start: tuple[dt.datetime, uuid.UUID] | None,
    need: int,
    *,
    descending: bool,
) -> tuple[list[_Found], bool]:
    """Images with one of `tags` (or whose whole caption is `whole_text`) in date order, each tested against the
    search's conditions: each tag's rows are walked through `image_tags (tag, created_at, image_id)`, at most
    WALK_BUDGET of them, and merged. Returns the page and whether it is complete: when it is short and a tag has more
    rows than that (or a caption more images), it may not be.
    """
    param = _Params()
    where = _where(search, param)
    direction, before = ("DESC", "<") if descending else ("ASC", ">")
    keyset_args = (param(start[0]), param(start[1])) if start is not None else None
    budget = param(WALK_BUDGET)
    streams = []
    for tag in tags:
        keyset = f"AND (f.created_at, f.image_id) {before} ({keyset_args[0]}, {keyset_args[1]})" if keyset_args else ""
        streams.append(
            f"""(SELECT f.image_id AS id, f.created_at FROM image_tags f WHERE f.tag = {param(tag)} {keyset}
                ORDER BY f.created_at {direction}, f.image_id {direction} LIMIT {budget})"""
        )
    if whole_text:
        keyset = f"AND (w.created_at, w.id) {before} ({keyset_args[0]}, {keyset_args[1]})" if keyset_args else ""
        streams.append(
            f"""(SELECT w.id, w.created_at FROM images w WHERE w.text_compact = {param(whole_text)} {keyset}
                ORDER BY w.created_at {direction}, w.id {direction} LIMIT {budget})"""
        )
    sql = f"""
        SELECT DISTINCT ON (c.created_at, c.id) {_columns(search)}{_people(search, param)}, {key} AS sort_key
        FROM ({" UNION ALL ".join(streams)}) c JOIN images i ON i.id = c.id
        WHERE {" AND ".join(where) or "TRUE"}
        ORDER BY c.created_at {direction}, c.id {direction} LIMIT {param(need)}
    """
    found = _hits(await conn.fetch(sql, *param.values))
    if len(found) >= need:
        return found, True
    largest = await conn.fetchval(
        """
        SELECT greatest(
            (SELECT coalesce(max(count), 0) FROM tags WHERE name = ANY($1::text[])),
            (SELECT count(*) FROM (SELECT 1 FROM images WHERE text_compact = $2 LIMIT $3) x))
        """,
        tags,
        whole_text or "",
        WALK_BUDGET + 1,
    )
    return found, largest <= WALK_BUDGET  # complete when every stream was walked to its end


def _ranks(search: Search) -> list[int]:
    return [rank for rank, _ in _tier_predicates(search, _Params())]


def _tier_sql(search: Search, param: _Params, *, with_phrase: bool) -> tuple[str | None, str | None]:
    """The SQL conditions of the exact tier and (unless `with_phrase` is false) the phrase tier, or None each."""
    exact: list[str] = []
    if search.exact_tags:
        exact.append(f"i.tag_list && {param(search.exact_tags)}::text[]")
    if search.whole_text:
        exact.append(f"i.text_compact = {param(search.whole_text)}")
    exact_sql = f"({' OR '.join(exact)})" if exact else None
    phrase_sql = (
        f"i.text_compact LIKE {param(f'%{like_escape(search.phrase_text)}%')}"
        if search.phrase_text and with_phrase
        else None
    )
    return exact_sql, phrase_sql


def _tier_predicates(search: Search, param: _Params, rank: int | None = None) -> list[tuple[int, list[str]]]:
    """Relevance tiers, best first: exact (a free word is a tag of the image, or the caption is the whole text),
    phrase (the caption holds the words in one piece), the rest; each with the predicates that select it.

    Given `rank`, only the parameters its predicates use are made (an unused one is an error to PostgreSQL).
    """
    exact_sql, phrase_sql = _tier_sql(search, param, with_phrase=rank != 0)
    tiers: list[tuple[int, list[str]]] = []
    if exact_sql:
        tiers.append((0, [f"({exact_sql})"]))
    if phrase_sql:
        tiers.append((1, [f"NOT ({exact_sql})"] * bool(exact_sql) + [phrase_sql]))
    rest = [f"NOT ({exact_sql})"] * bool(exact_sql) + [f"NOT ({phrase_sql})"] * bool(phrase_sql)
    tiers.append((2, rest))
    return tiers


def search_sql(search: Search) -> tuple[str, list[object]]:
    """The SQL of a `sort:random` page (a seeded walk of the primary key, see `_random_sql`)."""
    param = _Params()
    where = _where(search, param)
    limit = param(search.limit)
    return _random_sql(search, where, param, limit), param.values


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
            f"""(SELECT {_columns(search)}{_people(search, param)}, {half} AS sort_key FROM images i
                WHERE {" AND ".join(conditions)}
                ORDER BY i.id LIMIT {limit})"""
        )
    return f"""
        SELECT * FROM ({" UNION ALL ".join(selects)}) hits ORDER BY sort_key, id LIMIT {limit}
    """


async def similar_tags(conn: asyncpg.Connection, typed: str, *, max_distance: int, limit: int) -> list[TagCount]:
    """Tags and aliases that start with `typed`, are within `max_distance` edits of it, or are trigram-similar.

    Prefix hits come first, then the closest, then the most used. An alias hit carries its tag and that tag's count.
    One statement: `reactbin_similar_tags` (migrations/0017_autocomplete.sql) gathers candidates from the prefix,
    trigram and length indexes and computes the edit distance for those alone (~0.5 ms at 5,000 tags; gathering
    misspellings through the trigram index at a similarity low enough to find `cat` for `kat` took ~4.8 ms, and a
    table scan computing every tag's similarity, which the planner sometimes chose, ~5 ms).
    """
    records = await conn.fetch(
        "SELECT name, count, tag FROM reactbin_similar_tags($1, $2, $3, $4)",
        typed,
        like_escape(typed),
        max_distance,
        limit,
    )
    return [TagCount(r["name"], r["count"], r["tag"]) for r in records]


async def anything_matches(conn: asyncpg.Connection, tags: list[str], text: str) -> bool:
    """Whether any image has one of `tags` (through aliases and implications) or `text` in its caption or filename.

    Text of fewer than three characters is not looked for (no index serves it; `did you mean` leaves it alone).
    """
    pattern = f"%{like_escape(text)}%" if len(text) >= 3 else None
    found: bool = await conn.fetchval(
        """
        WITH RECURSIVE
            input AS (
                SELECT coalesce(a.tag, u.t) AS tag
                FROM unnest($1::text[]) u(t) LEFT JOIN tag_aliases a ON a.alias = u.t
            ),
            closure(tag) AS (
                SELECT tag FROM input
                UNION
                SELECT r.tag FROM closure c JOIN tag_implications r ON r.implies = c.tag
            )
        SELECT EXISTS (
            SELECT 1 FROM images i
            WHERE i.tag_list && ARRAY(SELECT tag FROM closure)
               OR ($2::text IS NOT NULL AND (i.text_compact LIKE $2 OR i.name_compact LIKE $2))
        )
        """,
        tags,
        pattern,
    )
    return found


class Caption(msgspec.Struct, frozen=True):
    text: str
    compact: str


SIMILAR_CAPTION = 0.4
"""pg_trgm word similarity from which a caption counts as near a typed text: `thsiisfine` is 0.47 from
`thisisfine`, `thsi` 0.4 (measured here)."""


async def similar_captions(conn: asyncpg.Connection, texts: list[str], *, limit: int) -> list[Caption]:
    """Up to `limit` captions per compact text whose compact form holds something like it (trigram word similarity,
    through the trigram index), most similar first; run inside a transaction (the threshold is set for it)."""
    await conn.execute(f"SELECT set_config('pg_trgm.word_similarity_threshold', '{SIMILAR_CAPTION}', true)")
    records = await conn.fetch(
        """
        SELECT DISTINCT ON (near.id) near.text, near.text_compact
        FROM unnest($1::text[]) t(q)
        CROSS JOIN LATERAL (
            SELECT i.id, i.text, i.text_compact FROM images i
            WHERE i.text_compact %> t.q
            ORDER BY word_similarity(t.q, i.text_compact) DESC
            LIMIT $2
        ) near
        """,
        [text for text in texts if len(text) >= 3],
        limit,
    )
    return [Caption(r["text"], r["text_compact"]) for r in records if r["text"]]


async def compact_words(conn: asyncpg.Connection, texts: list[str]) -> list[str]:
    """The distinct words of `texts` (split at whitespace) in the compact form the search matches."""
    words: list[str] = await conn.fetchval(
        """
        SELECT coalesce(array_agg(DISTINCT w), '{}') FROM (
            SELECT reactbin_compact(part) AS w
            FROM unnest($1::text[]) t(text), regexp_split_to_table(t.text, '\\s+') part
        ) words WHERE w <> ''
        """,
        texts,
    )
    return words
