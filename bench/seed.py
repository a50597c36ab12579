"""Seed the library with 100,000 images straight into `images` and `image_tags` (no objects behind them).

The tag distribution mimics a real reaction-image library:
- `reaction` is on every other image (50,000): the common tag,
- `cat` on every tenth (10,000),
- each image also gets 1-3 tags from a 2,000-word vocabulary drawn log-uniformly (Zipf-like: a few
  words are everywhere, most are rare),
- `rare` is on only the 20 *oldest* images: the case that punishes plans which scan newest-first and filter.
List routes never touch storage, so the rows need no objects.
"""

from __future__ import annotations

import asyncio

import asyncpg

COMMON_TAG = "reaction"
MEDIUM_TAG = "cat"
RARE_TAG = "rare"

_SQL = """
SELECT setseed(0.4242);

CREATE TEMP TABLE seed AS
SELECT g,
       gen_random_uuid() AS id,
       encode(sha256(convert_to('bench-seed-' || g, 'UTF8')), 'hex') AS hash,
       -- one image a minute, the newest (g = n) a minute before the seeding started
       now() - make_interval(mins => ($1::int - g + 1)) AS created_at
FROM generate_series(1, $1::int) AS g;

INSERT INTO images (id, hash, filename, mime_type, size_bytes, width, height, storage_key,
                    thumbnail_key, thumbnail_hash, thumbnail_size_bytes, created_at)
SELECT id, hash, 'seed-' || g || '.jpg', 'image/jpeg', 50000 + (g % 500000), 640, 480,
       'images/' || hash || '.jpg', 'thumbnails/v1/' || hash || '.webp', hash, 8000, created_at
FROM seed;

INSERT INTO image_tags (image_id, tag, created_at)
SELECT id, 'reaction', created_at FROM seed WHERE g % 2 = 0
UNION ALL
SELECT id, 'cat', created_at FROM seed WHERE g % 10 = 3
UNION ALL
SELECT id, 'rare', created_at FROM seed WHERE g <= 20
ON CONFLICT DO NOTHING;

INSERT INTO image_tags (image_id, tag, created_at)
SELECT s.id, 'w' || lpad(floor(power(2000, random()))::int::text, 4, '0'), s.created_at
FROM seed s, generate_series(1, 1 + (s.g % 3)) AS k
ON CONFLICT DO NOTHING;

DROP TABLE seed;
"""


async def _seed(dsn: str, count: int) -> dict[str, int]:
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        async with conn.transaction():
            for statement in _split(_SQL):
                if "$1" in statement:
                    await conn.execute(statement, count)
                else:
                    await conn.execute(statement)
        await conn.execute("ANALYZE images")
        await conn.execute("ANALYZE image_tags")
        images = await conn.fetchval("SELECT count(*) FROM images")
        tags = await conn.fetchval("SELECT count(*) FROM image_tags")
        distinct = await conn.fetchval("SELECT count(DISTINCT tag) FROM image_tags")
        per_tag = {
            row["tag"]: row["n"]
            for row in await conn.fetch(
                "SELECT tag, count(*) AS n FROM image_tags WHERE tag = ANY($1::text[]) GROUP BY tag",
                [COMMON_TAG, MEDIUM_TAG, RARE_TAG],
            )
        }
    finally:
        await conn.close()
    return {"images": images, "tag_rows": tags, "distinct_tags": distinct, **per_tag}


def _split(sql: str) -> list[str]:
    return [part.strip() for part in sql.split(";\n") if part.strip()]


def seed_images(dsn: str, count: int = 100_000) -> dict[str, int]:
    """Insert `count` images with tags; returns row counts for the report."""
    return asyncio.run(_seed(dsn, count))
