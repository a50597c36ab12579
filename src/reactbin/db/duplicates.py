"""Near-duplicates: perceptual hashes, Hamming-distance neighbours, merging one image into another."""

from __future__ import annotations

import datetime as dt
import uuid

import asyncpg
import msgspec

from reactbin.db.images import IMAGE_COLUMNS, ImageRow, TextStatus, notify_changed

EF_SEARCH = 100
"""HNSW candidates per query: 40 (pgvector's default) missed planted neighbours at a million hashes (see bench)."""


class HashedImage(msgspec.Struct, frozen=True, kw_only=True):
    """What deciding `duplicate` or `template` needs to know about one image."""

    id: uuid.UUID
    phash: str | None
    text_status: TextStatus
    text_compact: str


class Neighbour(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    distance: int
    text_status: TextStatus
    text_compact: str


def _bits(phash: str) -> asyncpg.BitString:
    return asyncpg.BitString.from_int(int(phash, 2), len(phash))


async def hashed_image(conn: asyncpg.Connection, image_id: uuid.UUID) -> HashedImage | None:
    record = await conn.fetchrow(
        "SELECT id, phash::text AS phash, text_status, text_compact FROM images WHERE id = $1", image_id
    )
    return None if record is None else msgspec.convert(dict(record), HashedImage)


async def neighbours(
    conn: asyncpg.Connection, phash: str, *, max_distance: int, limit: int, exclude: uuid.UUID | None = None
) -> list[Neighbour]:
    """Images whose hash is within `max_distance` bits of `phash`, nearest first; run inside a transaction.

    The HNSW index walks hashes nearest first and the LIMIT stops it; rows further than `max_distance` are then
    dropped, so a query never reads more than `limit` + 1 candidates.
    """
    await conn.execute(f"SET LOCAL hnsw.ef_search = {max(EF_SEARCH, limit + 1)}")
    records = await conn.fetch(
        """
        SELECT n.id, n.distance, i.text_status, i.text_compact
        FROM (
            SELECT id, (phash <~> $1::bit(64))::int AS distance FROM images
            WHERE phash IS NOT NULL ORDER BY phash <~> $1::bit(64) LIMIT $2
        ) n JOIN images i ON i.id = n.id
        WHERE n.distance <= $3 AND n.id IS DISTINCT FROM $4::uuid
        ORDER BY n.distance, n.id
        """,
        _bits(phash),
        limit + 1,
        max_distance,
        exclude,
    )
    return [msgspec.convert(dict(r), Neighbour) for r in records]


async def images_by_id(conn: asyncpg.Connection, ids: list[uuid.UUID]) -> dict[uuid.UUID, ImageRow]:
    records = await conn.fetch(f"SELECT {IMAGE_COLUMNS} FROM images i WHERE i.id = ANY($1::uuid[])", ids)
    return {r["id"]: msgspec.convert(dict(r), ImageRow) for r in records}


async def set_phash(conn: asyncpg.Connection, image_id: uuid.UUID, phash: str | None) -> None:
    await conn.execute(
        "UPDATE images SET phash = $2::bit(64), phash_indexed = true WHERE id = $1",
        image_id,
        None if phash is None else _bits(phash),
    )


class HashRow(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    phash: str
    text_status: TextStatus
    text_compact: str
    created_at: dt.datetime


async def hashed_images(conn: asyncpg.Connection, *, after: uuid.UUID | None, limit: int) -> list[HashRow]:
    """Every hashed image, by id, one batch at a time (for `reactbin dupes`)."""
    records = await conn.fetch(
        """
        SELECT id, phash::text AS phash, text_status, text_compact, created_at FROM images
        WHERE phash IS NOT NULL AND ($1::uuid IS NULL OR id > $1) ORDER BY id LIMIT $2
        """,
        after,
        limit,
    )
    return [msgspec.convert(dict(r), HashRow) for r in records]


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
