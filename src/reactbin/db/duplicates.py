"""Near-duplicates: perceptual hashes, each image's neighbours by Hamming distance, merging one image into another."""

from __future__ import annotations

import itertools
import uuid

import asyncpg
import msgspec

from reactbin.db.images import IMAGE_COLUMNS, ImageRow, TextStatus, notify_changed
from reactbin.media.perceptual import DUPLICATE_DISTANCE

_LINK_LOCK = 0x7265_6163_7473_696D  # "reactsim"
"""One advisory lock orders every neighbour lookup, across replicas (see `link_similar`)."""
CHUNK_RADIUS = DUPLICATE_DISTANCE // 4
"""A hash within DUPLICATE_DISTANCE bits has one of its four 16-bit chunks within this many bits of the query's."""


class HashedImage(msgspec.Struct, frozen=True, kw_only=True):
    """What deciding `duplicate` or `template` needs to know about one image."""

    id: uuid.UUID
    phash: int | None
    text_status: TextStatus
    text_compact: str


class Neighbour(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    distance: int
    text_status: TextStatus
    text_compact: str


def to_signed(bits: str) -> int:
    """A hash of 64 `0`/`1` characters as the signed bigint PostgreSQL stores."""
    value = int(bits, 2)
    return value - (1 << 64) if value >= 1 << 63 else value


def _chunk_variants(chunk: int) -> list[int]:
    """Every 16-bit value within CHUNK_RADIUS bits of `chunk`."""
    out = [chunk]
    for radius in range(1, CHUNK_RADIUS + 1):
        for bits in itertools.combinations(range(16), radius):
            flipped = chunk
            for bit in bits:
                flipped ^= 1 << bit
            out.append(flipped)
    return out


_CHUNKS = ("(phash >> 48) & 65535", "(phash >> 32) & 65535", "(phash >> 16) & 65535", "phash & 65535")


async def within_distance(
    conn: asyncpg.Connection, phash: int, *, exclude: uuid.UUID | None = None
) -> list[tuple[uuid.UUID, int]]:
    """Every stored image whose hash is within DUPLICATE_DISTANCE bits of `phash`, with its distance.

    Multi-index hashing: the candidates are the rows one of whose chunks is a near variant of the query's (four
    btree lookups of a few hundred values each, matching the expression indexes of migration 0013), each then
    checked exactly.
    """
    unsigned = phash & ((1 << 64) - 1)
    chunks = [(unsigned >> shift) & 0xFFFF for shift in (48, 32, 16, 0)]
    records = await conn.fetch(
        f"""
        SELECT id, bit_count((phash # $1::bigint)::bit(64))::int AS distance FROM images
        WHERE phash IS NOT NULL
          AND ({" OR ".join(f"({chunk}) = ANY(${i + 2}::bigint[])" for i, chunk in enumerate(_CHUNKS))})
          AND bit_count((phash # $1::bigint)::bit(64)) <= $6
          AND id IS DISTINCT FROM $7::uuid
        """,
        phash,
        *[_chunk_variants(chunk) for chunk in chunks],
        DUPLICATE_DISTANCE,
        exclude,
    )
    return [(r["id"], r["distance"]) for r in records]


async def link_similar(conn: asyncpg.Connection, image_id: uuid.UUID, phash: str | None) -> int:
    """Record an image's hash and its pairs with every image within the duplicate distance; call last in the
    transaction that writes the image (or its hash), so the lock is held only until the commit. Returns the pairs.

    Two images stored at once would each miss the other if both looked before either committed; under the lock,
    whichever looks second does so after the first committed, and records the pair for both.
    """
    if phash is None:
        await conn.execute("UPDATE images SET phash = NULL, phash_indexed = true WHERE id = $1", image_id)
        return 0
    value = to_signed(phash)
    await conn.execute("SELECT pg_advisory_xact_lock($1)", _LINK_LOCK)
    await conn.execute("UPDATE images SET phash = $2, phash_indexed = true WHERE id = $1", image_id, value)
    found = await within_distance(conn, value, exclude=image_id)
    await conn.execute("DELETE FROM image_similar WHERE image_id = $1 OR other_id = $1", image_id)
    if found:
        # A neighbour deleted meanwhile must not fail the write: lock the ones still there against deletes.
        kept = {
            r["id"]
            for r in await conn.fetch(
                "SELECT id FROM images WHERE id = ANY($1::uuid[]) ORDER BY id FOR KEY SHARE", [o for o, _ in found]
            )
        }
        pairs = [(image_id, other, distance) for other, distance in found if other in kept]
        pairs += [(other, image_id, distance) for other, distance in found if other in kept]
        await conn.execute(
            """
            INSERT INTO image_similar (image_id, other_id, distance)
            SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::smallint[]) ORDER BY 1, 2
            ON CONFLICT (image_id, other_id) DO UPDATE SET distance = EXCLUDED.distance
            """,
            [p[0] for p in pairs],
            [p[1] for p in pairs],
            [p[2] for p in pairs],
        )
    return len(found)


async def hashed_image(conn: asyncpg.Connection, image_id: uuid.UUID) -> HashedImage | None:
    record = await conn.fetchrow("SELECT id, phash, text_status, text_compact FROM images WHERE id = $1", image_id)
    return None if record is None else msgspec.convert(dict(record), HashedImage)


async def neighbours(conn: asyncpg.Connection, image_id: uuid.UUID, *, limit: int) -> list[Neighbour]:
    """The recorded neighbours of an image, nearest first (then newest)."""
    records = await conn.fetch(
        """
        SELECT s.other_id AS id, s.distance, i.text_status, i.text_compact
        FROM image_similar s JOIN images i ON i.id = s.other_id
        WHERE s.image_id = $1
        ORDER BY s.distance, i.created_at DESC, i.id
        LIMIT $2
        """,
        image_id,
        limit,
    )
    return [msgspec.convert(dict(r), Neighbour) for r in records]


class SimilarRow(msgspec.Struct, frozen=True, kw_only=True):
    image: ImageRow
    distance: int
    text_status: TextStatus
    text_compact: str


async def similar_of(
    conn: asyncpg.Connection, image_id: uuid.UUID, *, limit: int
) -> tuple[HashedImage, list[SimilarRow]] | None:
    """An image and its recorded neighbours with their rows, nearest first, in one query; None when it is gone."""
    records = await conn.fetch(
        f"""
        WITH me AS (SELECT id, phash, text_status, text_compact FROM images WHERE id = $1)
        SELECT me.id AS me_id, me.phash AS me_phash, me.text_status AS me_status, me.text_compact AS me_text,
               s.distance, i.text_compact AS other_text, {IMAGE_COLUMNS}
        FROM me
        LEFT JOIN LATERAL (
            SELECT other_id, distance FROM image_similar WHERE image_id = me.id ORDER BY distance LIMIT $2
        ) s ON true
        LEFT JOIN images i ON i.id = s.other_id
        ORDER BY s.distance, i.created_at DESC, i.id
        """,
        image_id,
        limit,
    )
    if not records:
        return None
    first = records[0]
    me = HashedImage(
        id=first["me_id"], phash=first["me_phash"], text_status=first["me_status"], text_compact=first["me_text"]
    )
    rows = [
        SimilarRow(
            image=msgspec.convert(dict(r), ImageRow),
            distance=r["distance"],
            text_status=r["text_status"],
            text_compact=r["other_text"],
        )
        for r in records
        if r["distance"] is not None and r["id"] is not None
    ]
    return me, rows


async def images_by_id(conn: asyncpg.Connection, ids: list[uuid.UUID]) -> dict[uuid.UUID, ImageRow]:
    records = await conn.fetch(f"SELECT {IMAGE_COLUMNS} FROM images i WHERE i.id = ANY($1::uuid[])", ids)
    return {r["id"]: msgspec.convert(dict(r), ImageRow) for r in records}


class Pair(msgspec.Struct, frozen=True, kw_only=True):
    a: uuid.UUID
    b: uuid.UUID
    a_status: TextStatus
    a_text: str
    b_status: TextStatus
    b_text: str


async def similar_pairs(
    conn: asyncpg.Connection, *, after: tuple[uuid.UUID, uuid.UUID] | None, limit: int
) -> list[Pair]:
    """Every recorded pair once (a < b), with both captions, one batch at a time (for `reactbin dupes`)."""
    records = await conn.fetch(
        """
        SELECT s.image_id AS a, s.other_id AS b, x.text_status AS a_status, x.text_compact AS a_text,
               y.text_status AS b_status, y.text_compact AS b_text
        FROM image_similar s JOIN images x ON x.id = s.image_id JOIN images y ON y.id = s.other_id
        WHERE s.image_id < s.other_id AND ($1::uuid IS NULL OR (s.image_id, s.other_id) > ($1::uuid, $2::uuid))
        ORDER BY s.image_id, s.other_id
        LIMIT $3
        """,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )
    return [msgspec.convert(dict(r), Pair) for r in records]


async def count_unhashed(conn: asyncpg.Connection) -> int:
    count: int = await conn.fetchval("SELECT count(*) FROM images WHERE NOT phash_indexed")
    return count


class MergeSource(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    hash: str
    text: str | None
    text_source: str | None


async def lock_pair(
    conn: asyncpg.Connection, source: uuid.UUID, into: uuid.UUID
) -> tuple[MergeSource, MergeSource] | None:
    """Lock both rows, in id order (two merges of the same pair, either way round, never deadlock); None when
    either is gone. A merge that waited for another one that deleted its source finds it gone here."""
    records = await conn.fetch(
        "SELECT id, hash, text, text_source FROM images WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE",
        [source, into],
    )
    found = {r["id"]: msgspec.convert(dict(r), MergeSource) for r in records}
    if source not in found or into not in found:
        return None
    return found[source], found[into]


async def merge_rows(conn: asyncpg.Connection, source: MergeSource, into: MergeSource) -> None:
    """Move what people added to `source` onto `into`: tags, uses, favourites (when accounts exist), a hand-set
    caption, and the hashes a client may know `source` by; `source`'s row is deleted by the caller."""
    await conn.execute(
        """
        INSERT INTO image_tags (image_id, tag, created_at)
        SELECT $2, t.tag, i.created_at FROM image_tags t, images i
        WHERE t.image_id = $1 AND i.id = $2
        ORDER BY t.tag
        ON CONFLICT DO NOTHING
        """,
        source.id,
        into.id,
    )
    await conn.execute(
        """
        UPDATE images SET use_count = images.use_count + s.use_count,
                          last_used_at = greatest(images.last_used_at, s.last_used_at)
        FROM images s WHERE images.id = $2 AND s.id = $1
        """,
        source.id,
        into.id,
    )
    if source.text_source == "manual" and into.text_source != "manual":
        await conn.execute(
            "UPDATE images SET text = $2, text_source = 'manual', text_status = 'done' WHERE id = $1",
            into.id,
            source.text,
        )
    # Favourites arrive with accounts (issue 15); a library without that table has none to move.
    if await conn.fetchval("SELECT to_regclass('favourites') IS NOT NULL"):
        await conn.execute(
            """
            INSERT INTO favourites (user_id, image_id, created_at)
            SELECT user_id, $2, created_at FROM favourites WHERE image_id = $1
            ORDER BY user_id
            ON CONFLICT DO NOTHING
            """,
            source.id,
            into.id,
        )
    # A client holding the merged-away file (an importer re-run, a by-hash check) finds the kept image.
    await conn.execute(
        """
        INSERT INTO image_upload_hashes (upload_hash, image_id)
        SELECT upload_hash, $2::uuid FROM image_upload_hashes WHERE image_id = $1
        UNION SELECT $3::text, $2::uuid
        ON CONFLICT (upload_hash) DO UPDATE SET image_id = EXCLUDED.image_id
        """,
        source.id,
        into.id,
        source.hash,
    )
    await notify_changed(conn, into.id)
