"""Search at scale: seed a million images with tags and captions by SQL, then p99 of `GET /images?q=` and EXPLAIN.

Captions are 2-8 words from a 5,000-word vocabulary drawn Zipf-like (a few words everywhere, most rare), a tenth of
them with their spaces dropped and upper-cased the way OCR reads meme captions; a third of the images have no
caption. Every image has 1-3 tags from the same vocabulary (so a bare word matches tags and captions alike), every
other one `reaction`, every tenth `cat`. The search indexes are dropped during the load and built after it, as a
restore would.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import random
import statistics
import time
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg

from reactbin.db.search import search_images
from reactbin.domain.query import parse_query
from reactbin.domain.search import resolve

COMMON_WORDS = [
    "the",
    "be",
    "to",
    "of",
    "and",
    "a",
    "in",
    "that",
    "have",
    "it",
    "for",
    "not",
    "on",
    "with",
    "he",
    "as",
    "you",
    "do",
    "at",
    "this",
    "but",
    "his",
    "by",
    "from",
    "they",
    "we",
    "say",
    "her",
    "she",
    "or",
    "an",
    "will",
    "my",
    "one",
    "all",
    "would",
    "there",
    "their",
    "what",
    "so",
    "up",
    "out",
    "if",
    "about",
    "who",
    "get",
    "which",
    "go",
    "me",
    "when",
    "make",
    "can",
    "like",
    "time",
    "no",
    "just",
    "him",
    "know",
    "take",
    "people",
    "into",
    "year",
    "your",
    "good",
    "some",
    "could",
    "them",
    "see",
    "other",
    "than",
    "then",
    "now",
    "look",
    "only",
    "come",
    "its",
    "over",
    "think",
    "also",
    "back",
    "after",
    "use",
    "two",
    "how",
    "our",
    "work",
    "first",
    "well",
    "way",
    "even",
    "new",
    "want",
    "because",
    "any",
    "these",
    "give",
    "day",
    "most",
    "us",
    "why",
    "both",
    "fine",
    "dog",
    "cat",
    "happy",
    "sad",
    "angry",
    "wow",
    "nope",
    "yes",
    "hello",
    "thanks",
    "sorry",
    "please",
    "love",
    "hate",
    "smug",
    "surprised",
    "confused",
    "facepalm",
    "shrug",
    "party",
    "panic",
]
SYLLABLES = [
    "ka",
    "lo",
    "mi",
    "re",
    "su",
    "to",
    "na",
    "be",
    "di",
    "fo",
    "ga",
    "hu",
    "ji",
    "ke",
    "lu",
    "ma",
    "ne",
    "pi",
    "qu",
    "ro",
    "sa",
    "ti",
    "vu",
    "wa",
    "xe",
    "yo",
    "za",
]


def vocabulary(size: int = 5000) -> list[str]:
    """Real common words first (the frequent end of the Zipf curve), then made-up ones with real-looking trigrams."""
    rng = random.Random(42)
    words = list(dict.fromkeys(COMMON_WORDS))
    seen = set(words)
    while len(words) < size:
        word = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


_SEED_SQL = """
SELECT setseed(0.4242);

CREATE TEMP TABLE seed AS
SELECT g,
       gen_random_uuid() AS id,
       encode(sha256(convert_to('search-seed-' || g, 'UTF8')), 'hex') AS hash,
       now() - make_interval(secs => ($1::int - g + 1) * 30) AS created_at,
       CASE WHEN g % 3 = 0 THEN NULL ELSE (
           SELECT string_agg(($2::text[])[floor(power(array_length($2::text[], 1), random()))::int], ' ')
           FROM generate_series(1, 2 + (g * 7) % 7) AS k
       ) END AS caption,
       ARRAY(
           SELECT DISTINCT t FROM (
               SELECT ($2::text[])[floor(power(array_length($2::text[], 1), random()))::int] AS t
               FROM generate_series(1, 1 + g % 3)
               UNION ALL SELECT 'reaction' WHERE g % 2 = 0
               UNION ALL SELECT 'cat' WHERE g % 10 = 3
           ) tags ORDER BY t
       ) AS tags
FROM generate_series(1, $1::int) AS g;

INSERT INTO images (id, hash, filename, mime_type, size_bytes, width, height, storage_key, thumbnail_key,
                    thumbnail_hash, thumbnail_size_bytes, created_at, text, text_status, text_source, tag_list,
                    use_count, phash, phash_indexed, media_indexed)
SELECT id, hash, 'seed-' || g || '.jpg', 'image/jpeg', 50000 + (g % 500000), 640, 480,
       'images/' || hash || '.jpg', 'thumbnails/v1/' || hash || '.webp', hash, 8000, created_at,
       CASE WHEN caption IS NOT NULL AND g % 10 = 1 THEN upper(replace(caption, ' ', '')) ELSE caption END,
       CASE WHEN caption IS NULL THEN 'none' ELSE 'done' END,
       CASE WHEN caption IS NULL THEN NULL ELSE 'ocr' END,
       tags,
       (g * 2654435761 % 1000)::int / 100,
       (floor(random() * 4294967296)::bigint << 32) | floor(random() * 4294967296)::bigint,
       true,
       true
FROM seed;

INSERT INTO image_tags (image_id, tag, created_at)
SELECT id, unnest(tags), created_at FROM seed;

INSERT INTO tags (name, count)
SELECT tag, count(*) FROM image_tags GROUP BY tag
ON CONFLICT (name) DO UPDATE SET count = excluded.count;

DROP TABLE seed
"""


@dataclass(frozen=True)
class SearchCase:
    label: str
    q: str


PLANTED = 100
"""Images given three near copies each (within 2-8 bits), whose pairs are recorded as an upload would."""


async def _plant(conn: asyncpg.Connection) -> None:
    """Near copies of the newest PLANTED seeded images: new rows whose hashes differ in a few bits, and their pairs
    in image_similar (random 64-bit hashes have no neighbours within 10 bits among a million)."""
    rng = random.Random(7)
    originals = await conn.fetch(
        "SELECT id, phash, created_at FROM images WHERE phash IS NOT NULL ORDER BY created_at DESC LIMIT $1", PLANTED
    )
    rows, pairs = [], []
    for original in originals:
        group = [(original["id"], original["phash"])]
        for copy in range(3):
            value = original["phash"] & ((1 << 64) - 1)
            for bit in rng.sample(range(64), 2 + 3 * copy):
                value ^= 1 << bit
            signed = value - (1 << 64) if value >= 1 << 63 else value
            image_id = uuid.uuid4()
            digest = hashlib.sha256(image_id.bytes).hexdigest()
            rows.append((image_id, digest, original["created_at"], signed))
            group.append((image_id, signed))
        for (a, ha), (b, hb) in itertools.permutations(group, 2):
            pairs.append((a, b, bin((ha ^ hb) & ((1 << 64) - 1)).count("1")))
    await conn.executemany(
        """
        INSERT INTO images (id, hash, filename, mime_type, size_bytes, width, height, storage_key, created_at,
                            text_status, phash, phash_indexed, media_indexed)
        VALUES ($1, $2, 'copy.jpg', 'image/jpeg', 50000, 640, 480, 'images/' || $2 || '.jpg', $3, 'none', $4, true,
                true)
        """,
        rows,
    )
    await conn.executemany("INSERT INTO image_similar (image_id, other_id, distance) VALUES ($1, $2, $3)", pairs)


async def _seed(dsn: str, count: int, words: list[str]) -> dict[str, Any]:
    conn = await asyncpg.connect(dsn, timeout=10, command_timeout=None)
    try:
        if await conn.fetchval("SELECT count(*) FROM images") >= count:
            return await _stats(conn) | {"reused": True}
        indexes = await conn.fetch(
            """
            SELECT indexname, indexdef FROM pg_indexes
            WHERE tablename IN ('images', 'image_tags') AND indexname NOT LIKE '%pkey' AND indexname NOT LIKE '%key'
            """
        )
        async with conn.transaction():
            # The per-statement tag trigger is for the application; the seed writes tag_list and tags itself.
            await conn.execute("SET LOCAL session_replication_role = replica")
            await conn.execute("SET LOCAL maintenance_work_mem = '512MB'")
            for index in indexes:
                await conn.execute(f'DROP INDEX "{index["indexname"]}"')
            for statement in [part.strip() for part in _SEED_SQL.split(";\n") if part.strip()]:
                args = [arg for name, arg in (("$1", count), ("$2", words)) if name in statement]
                await conn.execute(statement, *args)
            for index in indexes:
                await conn.execute(index["indexdef"])
            await _plant(conn)
        await conn.execute("VACUUM ANALYZE images")
        await conn.execute("VACUUM ANALYZE image_tags")
        await conn.execute("ANALYZE tags")
        await conn.execute("ANALYZE image_similar")
        return await _stats(conn) | {"reused": False}
    finally:
        await conn.close()


async def _stats(conn: asyncpg.Connection) -> dict[str, Any]:
    return {
        "images": await conn.fetchval("SELECT count(*) FROM images"),
        "captioned": await conn.fetchval("SELECT count(*) FROM images WHERE text IS NOT NULL"),
        "tag_rows": await conn.fetchval("SELECT count(*) FROM image_tags"),
        "distinct_tags": await conn.fetchval("SELECT count(*) FROM tags"),
        "hashed": await conn.fetchval("SELECT count(*) FROM images WHERE phash IS NOT NULL"),
        "table_mb": await conn.fetchval("SELECT pg_total_relation_size('images') / 1048576"),
    }


async def _planted(dsn: str) -> str:
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        return str(await conn.fetchval("SELECT image_id FROM image_similar ORDER BY image_id LIMIT 1"))
    finally:
        await conn.close()


def planted_image(dsn: str) -> str:
    """An image with recorded near copies."""
    return asyncio.run(_planted(dsn))


async def _lookup(dsn: str) -> tuple[float, float]:
    from reactbin.db.duplicates import within_distance

    conn = await asyncpg.connect(dsn, timeout=10, command_timeout=None, server_settings={"jit": "off"})
    try:
        hashes = [r["phash"] for r in await conn.fetch("SELECT phash FROM images WHERE phash IS NOT NULL LIMIT 200")]
        times = []
        for value in hashes:
            started = time.perf_counter()
            await within_distance(conn, value)
            times.append(time.perf_counter() - started)
    finally:
        await conn.close()
    times.sort()
    return statistics.median(times) * 1000, times[min(len(times) - 1, int(len(times) * 0.99))] * 1000


def lookup_ms(dsn: str) -> tuple[float, float]:
    """Median and p99 of the multi-index-hashing lookup an upload makes (one connection, 200 stored hashes)."""
    return asyncio.run(_lookup(dsn))


def seed_search(dsn: str, count: int) -> dict[str, Any]:
    return asyncio.run(_seed(dsn, count, vocabulary()))


async def _matches(dsn: str, words: list[str]) -> dict[str, int]:
    conn = await asyncpg.connect(dsn, timeout=10, command_timeout=None)
    try:
        return {
            word: await conn.fetchval("SELECT count(*) FROM images WHERE text_compact LIKE $1", f"%{word}%")
            for word in words
        }
    finally:
        await conn.close()


def caption_matches(dsn: str, words: list[str]) -> dict[str, int]:
    """How many captions contain each compact word (for the report: how selective a case is)."""
    return asyncio.run(_matches(dsn, words))


async def _explain(dsn: str, q: str) -> tuple[str, bool, float]:
    """What the app runs for `q`: every statement of one search page, replayed under EXPLAIN ANALYZE in order (with
    the planner settings it sets), whether any reads `images` sequentially, and their total execution time."""
    # As the app connects (db/pool.py): without JIT.
    conn = await asyncpg.connect(dsn, timeout=10, command_timeout=None, server_settings={"jit": "off"})
    logged: list[tuple[str, tuple[Any, ...]]] = []
    try:
        async with conn.transaction():
            search = await resolve(conn, parse_query(q), [], sort=_sort_of(q), limit=51, seed=0)

            def log(record: Any) -> None:
                logged.append((record.query, tuple(record.args or ())))

            conn.add_query_logger(log)
            await search_images(conn, search)
            conn.remove_query_logger(log)
        plans = []
        async with conn.transaction():
            for query, args in list(logged):
                if query.lstrip().upper().startswith("SET"):
                    await conn.execute(query)
                    continue
                plans.append(json.loads(await conn.fetchval(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {query}", *args)))
    finally:
        await conn.close()
    nodes: list[dict[str, Any]] = []

    def walk(node: dict[str, Any]) -> None:
        nodes.append(node)
        for child in node.get("Plans", []):
            walk(child)

    for plan in plans:
        walk(plan[0]["Plan"])
    seq_scan = any(n["Node Type"] == "Seq Scan" and n.get("Relation Name") == "images" for n in nodes)
    used = sorted({n["Index Name"] for n in nodes if "Index Name" in n})
    total = sum(float(plan[0]["Execution Time"]) for plan in plans)
    summary = f"{len(plans)} statement(s): " + (", ".join(used) if used else "no index")
    return summary, not seq_scan, total


def _sort_of(q: str) -> Any:
    query = parse_query(q)
    return query.sort or ("relevance" if query.has_free_text else "new")


def explain(dsn: str, q: str) -> tuple[str, bool, float]:
    return asyncio.run(_explain(dsn, q))
