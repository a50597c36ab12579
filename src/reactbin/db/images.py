"""Images and their tags."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal

import asyncpg
import msgspec

Kind = Literal["still", "animated", "video"]
TextStatus = Literal["pending", "done", "failed", "none"]
"""pending: not read yet; done: text found or set by hand; none: read, no text; failed: could not be read."""


class ImageRow(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    hash: str
    filename: str
    mime_type: str
    size_bytes: int
    width: int
    height: int
    storage_key: str
    thumbnail_key: str | None
    thumbnail_hash: str | None
    thumbnail_size_bytes: int | None
    created_at: dt.datetime
    tags: list[str]
    use_count: int = 0
    last_used_at: dt.datetime | None = None
    kind: Kind = "still"
    duration_ms: int | None = None
    frame_count: int | None = None
    has_audio: bool = False
    preview_key: str | None = None
    placeholder: str | None = None
    text: str | None = None
    text_status: TextStatus = "pending"
    uploaded_by: uuid.UUID | None = None
    uploaded_by_name: str | None = None
    favourite: bool | None = None
    """Whether the viewer a list was made for marked it; None when no viewer was asked about."""


class ContentRow(msgspec.Struct, frozen=True, kw_only=True):
    """What the proxy needs to serve an image's bytes; no tags, so one index lookup."""

    hash: str
    mime_type: str
    size_bytes: int
    storage_key: str
    thumbnail_key: str | None
    thumbnail_hash: str | None
    thumbnail_size_bytes: int | None
    preview_key: str | None = None
    preview_hash: str | None = None
    preview_size_bytes: int | None = None


class NewImage(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    hash: str
    filename: str
    mime_type: str
    size_bytes: int
    width: int
    height: int
    storage_key: str
    thumbnail_key: str | None
    thumbnail_hash: str | None
    thumbnail_size_bytes: int | None
    kind: Kind = "still"
    duration_ms: int | None = None
    frame_count: int | None = None
    has_audio: bool = False
    placeholder: str | None = None
    uploaded_by: uuid.UUID | None = None
    created_at: dt.datetime | None = None
    """None: now (the database's clock)."""


class TagCount(msgspec.Struct, frozen=True):
    name: str
    count: int
    tag: str | None = None
    """For an alias: the tag it stands for (whose count `count` is)."""


CHANGE_CHANNEL = "reactbin_image_changed"
"""NOTIFY channel: the payload is the id of an image that was deleted or whose thumbnail changed."""


async def notify_changed(conn: asyncpg.Connection, image_id: uuid.UUID) -> None:
    """Tell every process to forget what it cached about this image (delivered when the transaction commits)."""
    await conn.execute("SELECT pg_notify($1, $2)", CHANGE_CHANNEL, str(image_id))


_COLUMNS = """
    i.id, i.hash, i.filename, i.mime_type, i.size_bytes, i.width, i.height, i.storage_key,
    i.thumbnail_key, i.thumbnail_hash, i.thumbnail_size_bytes, i.created_at,
    i.kind, i.duration_ms, i.frame_count, i.has_audio, i.preview_key, i.placeholder,
    i.text, i.text_status,
    ARRAY(SELECT t.tag FROM image_tags t WHERE t.image_id = i.id ORDER BY t.tag) AS tags,
    i.use_count, i.last_used_at,
    i.uploaded_by, (SELECT u.name FROM users u WHERE u.id = i.uploaded_by) AS uploaded_by_name
"""


def favourite_column(viewer: str) -> str:
    """The `favourite` column of a viewer (a `$n` placeholder): one index probe per row, in the same query, so a
    signed-in list costs no extra round trip."""
    return f", EXISTS (SELECT 1 FROM favourites v WHERE v.user_id = {viewer} AND v.image_id = i.id) AS favourite"


IMAGE_COLUMNS = _COLUMNS
"""The columns of an `ImageRow` (table alias `i`), for other modules' queries."""


def _image(record: asyncpg.Record) -> ImageRow:
    return msgspec.convert(dict(record), ImageRow)


async def lock_hash(conn: asyncpg.Connection, sha256: str) -> None:
    """Serialise every ingest and delete of one content hash until the transaction ends, across replicas."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", sha256)


async def get_image(conn: asyncpg.Connection, image_id: uuid.UUID) -> ImageRow | None:
    record = await conn.fetchrow(f"SELECT {_COLUMNS} FROM images i WHERE i.id = $1", image_id)
    return None if record is None else _image(record)


async def get_image_by_hash(conn: asyncpg.Connection, sha256: str) -> ImageRow | None:
    record = await conn.fetchrow(f"SELECT {_COLUMNS} FROM images i WHERE i.hash = $1", sha256)
    return None if record is None else _image(record)


async def find_image_by_any_hash(conn: asyncpg.Connection, sha256: str) -> ImageRow | None:
    """The image whose stored bytes have this hash, or that an upload with this hash became (metadata stripped)."""
    record = await conn.fetchrow(
        f"""
        SELECT {_COLUMNS} FROM images i WHERE i.hash = $1
        UNION ALL
        SELECT {_COLUMNS} FROM image_upload_hashes u JOIN images i ON i.id = u.image_id WHERE u.upload_hash = $1
        LIMIT 1
        """,
        sha256,
    )
    return None if record is None else _image(record)


async def remember_upload_hash(conn: asyncpg.Connection, upload_hash: str, image_id: uuid.UUID) -> None:
    """Record that an upload whose own bytes hash to `upload_hash` became image `image_id` (if that still exists)."""
    await conn.execute(
        """
        INSERT INTO image_upload_hashes (upload_hash, image_id) SELECT $1, id FROM images WHERE id = $2
        ON CONFLICT (upload_hash) DO UPDATE SET image_id = EXCLUDED.image_id
        """,
        upload_hash,
        image_id,
    )


async def get_content(conn: asyncpg.Connection, image_id: uuid.UUID) -> ContentRow | None:
    record = await conn.fetchrow(
        """
        SELECT hash, mime_type, size_bytes, storage_key, thumbnail_key, thumbnail_hash, thumbnail_size_bytes,
               preview_key, preview_hash, preview_size_bytes
        FROM images WHERE id = $1
        """,
        image_id,
    )
    return None if record is None else msgspec.convert(dict(record), ContentRow)


async def insert_image(conn: asyncpg.Connection, image: NewImage) -> dt.datetime:
    """Insert a new image row and return its creation time."""
    created_at: dt.datetime = await conn.fetchval(
        """
        INSERT INTO images (id, hash, filename, mime_type, size_bytes, width, height, storage_key,
                            thumbnail_key, thumbnail_hash, thumbnail_size_bytes,
                            kind, duration_ms, frame_count, has_audio, placeholder, media_indexed, uploaded_by,
                            created_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, true, $17,
                coalesce($18, clock_timestamp()))
        RETURNING created_at
        """,
        image.id,
        image.hash,
        image.filename,
        image.mime_type,
        image.size_bytes,
        image.width,
        image.height,
        image.storage_key,
        image.thumbnail_key,
        image.thumbnail_hash,
        image.thumbnail_size_bytes,
        image.kind,
        image.duration_ms,
        image.frame_count,
        image.has_audio,
        image.placeholder,
        image.uploaded_by,
        image.created_at,
    )
    return created_at


async def lock_tag_counts(conn: asyncpg.Connection, names: list[str]) -> None:
    """Lock the shared count rows of `names` in name order, before the statements that change them.

    The tag trigger changes these rows statement by statement (removals, then additions) and not always in one
    order; a transaction that takes them all first, sorted, can never hold one while waiting for another that a
    concurrent transaction holds (a deadlock). New names have no row yet: inserting them follows.
    """
    if names:
        await conn.execute(
            "SELECT 1 FROM (SELECT name FROM tags WHERE name = ANY($1::text[]) ORDER BY name FOR UPDATE) locked",
            sorted(set(names)),
        )


async def add_tags(conn: asyncpg.Connection, image_id: uuid.UUID, tags: list[str]) -> None:
    """Add tags an image does not have yet."""
    if not tags:
        return
    await lock_tag_counts(conn, tags)
    await conn.execute(
        """
        INSERT INTO image_tags (image_id, tag, created_at)
        SELECT i.id, t.tag, i.created_at FROM images i, unnest($2::text[]) AS t(tag)
        WHERE i.id = $1
        ON CONFLICT DO NOTHING
        """,
        image_id,
        tags,
    )


async def replace_tags(conn: asyncpg.Connection, image_id: uuid.UUID, tags: list[str]) -> bool:
    """Make `tags` the image's whole tag set; False when the image does not exist."""
    current = await conn.fetchval("SELECT tag_list FROM images WHERE id = $1 FOR UPDATE", image_id)
    if current is None:
        return False
    await lock_tag_counts(conn, [*current, *tags])
    await conn.execute("DELETE FROM image_tags WHERE image_id = $1 AND NOT (tag = ANY($2::text[]))", image_id, tags)
    await add_tags(conn, image_id, tags)
    return True


class DeletedImage(msgspec.Struct, frozen=True):
    hash: str
    storage_key: str
    thumbnail_key: str | None
    preview_key: str | None

    @property
    def keys(self) -> list[str]:
        return [key for key in (self.storage_key, self.thumbnail_key, self.preview_key) if key is not None]


async def delete_image(conn: asyncpg.Connection, image_id: uuid.UUID) -> DeletedImage | None:
    """Delete an image row (its tags cascade); None if it did not exist."""
    tags = await conn.fetchval("SELECT tag_list FROM images WHERE id = $1 FOR UPDATE", image_id)
    if tags:
        await lock_tag_counts(conn, tags)
    record = await conn.fetchrow(
        "DELETE FROM images WHERE id = $1 RETURNING hash, storage_key, thumbnail_key, preview_key", image_id
    )
    if record is None:
        return None
    await notify_changed(conn, image_id)
    return DeletedImage(record["hash"], record["storage_key"], record["thumbnail_key"], record["preview_key"])


async def uploader_of(conn: asyncpg.Connection, image_id: uuid.UUID) -> tuple[bool, uuid.UUID | None]:
    """Whether the image exists and who uploaded it; the row stays locked until the transaction ends."""
    record = await conn.fetchrow("SELECT uploaded_by FROM images WHERE id = $1 FOR UPDATE", image_id)
    return (False, None) if record is None else (True, record["uploaded_by"])


async def hash_in_use(conn: asyncpg.Connection, sha256: str) -> bool:
    in_use: bool = await conn.fetchval("SELECT EXISTS (SELECT 1 FROM images WHERE hash = $1)", sha256)
    return in_use


async def list_images(
    conn: asyncpg.Connection,
    *,
    tags: list[str],
    limit: int,
    after: tuple[dt.datetime, uuid.UUID] | None,
    viewer: uuid.UUID | None = None,
) -> list[ImageRow]:
    """Newest first; every tag must match; `after` is the (created_at, id) of the last row already seen. With a
    `viewer`, each row says whether they marked it as a favourite."""
    params: list[object] = []

    def param(value: object) -> str:
        params.append(value)
        return f"${len(params)}"

    columns = _COLUMNS + (favourite_column(param(viewer)) if viewer is not None else "")

    if not tags:
        where = "TRUE"
        if after is not None:
            where = f"(i.created_at, i.id) < ({param(after[0])}, {param(after[1])})"
        sql = f"""
            SELECT {columns} FROM images i WHERE {where}
            ORDER BY i.created_at DESC, i.id DESC LIMIT {param(limit)}
        """
    else:
        # Walk the first tag's index in display order; check the other tags per row.
        conditions = [f"f.tag = {param(tags[0])}"]
        if after is not None:
            conditions.append(f"(f.created_at, f.image_id) < ({param(after[0])}, {param(after[1])})")
        conditions.extend(
            f"EXISTS (SELECT 1 FROM image_tags x WHERE x.image_id = f.image_id AND x.tag = {param(tag)})"
            for tag in tags[1:]
        )
        sql = f"""
            SELECT {columns} FROM image_tags f JOIN images i ON i.id = f.image_id
            WHERE {" AND ".join(conditions)}
            ORDER BY f.created_at DESC, f.image_id DESC LIMIT {param(limit)}
        """
    return [_image(record) for record in await conn.fetch(sql, *params)]


def like_escape(text: str) -> str:
    """`text` with LIKE's wildcards and escape character made literal."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def tag_counts(conn: asyncpg.Connection, *, prefix: str, limit: int) -> list[TagCount]:
    """Tags starting with `prefix`, most used first."""
    records = await conn.fetch(
        """
        SELECT name, count FROM tags WHERE name LIKE $1 || '%' AND count > 0
        ORDER BY count DESC, name LIMIT $2
        """,
        like_escape(prefix),
        limit,
    )
    return [TagCount(record["name"], record["count"]) for record in records]


class StoredImage(msgspec.Struct, frozen=True, kw_only=True):
    """The object keys of one image and what it still lacks, for consistency checks and media indexing."""

    id: uuid.UUID
    hash: str
    mime_type: str
    storage_key: str
    thumbnail_key: str | None
    kind: Kind = "still"
    preview_key: str | None = None
    placeholder: str | None = None
    media_indexed: bool = True
    phash_indexed: bool = True

    @property
    def needs_media(self) -> bool:
        """Not probed yet, or without a placeholder, or an animation/video without its preview, or not hashed."""
        return (
            not self.media_indexed
            or self.placeholder is None
            or (self.kind != "still" and not self.preview_key)
            or not self.phash_indexed
        )


_STORED_COLUMNS = (
    "id, hash, mime_type, storage_key, thumbnail_key, kind, preview_key, placeholder, media_indexed, phash_indexed"
)


async def stored_images(conn: asyncpg.Connection) -> list[StoredImage]:
    records = await conn.fetch(f"SELECT {_STORED_COLUMNS} FROM images ORDER BY id")
    return [msgspec.convert(dict(r), StoredImage) for r in records]


async def stored_image(conn: asyncpg.Connection, image_id: uuid.UUID) -> StoredImage | None:
    record = await conn.fetchrow(f"SELECT {_STORED_COLUMNS} FROM images WHERE id = $1", image_id)
    return None if record is None else msgspec.convert(dict(record), StoredImage)


async def images_needing_media(conn: asyncpg.Connection, *, everything: bool) -> list[uuid.UUID]:
    """Ids of images that `reindex --media` should (re)process: those still lacking something, or all of them."""
    where = (
        "TRUE"
        if everything
        else "NOT media_indexed OR placeholder IS NULL OR (kind <> 'still' AND preview_key IS NULL)"
        " OR NOT phash_indexed"
    )
    return [r["id"] for r in await conn.fetch(f"SELECT id FROM images WHERE {where} ORDER BY id")]


class MediaFacts(msgspec.Struct, frozen=True, kw_only=True):
    """What probing an already stored image found."""

    kind: Kind
    width: int
    height: int
    duration_ms: int | None
    frame_count: int | None
    has_audio: bool


async def set_media(conn: asyncpg.Connection, image_id: uuid.UUID, facts: MediaFacts) -> None:
    await conn.execute(
        """
        UPDATE images SET kind = $2, width = $3, height = $4, duration_ms = $5, frame_count = $6, has_audio = $7,
                          media_indexed = true
        WHERE id = $1
        """,
        image_id,
        facts.kind,
        facts.width,
        facts.height,
        facts.duration_ms,
        facts.frame_count,
        facts.has_audio,
    )
    await notify_changed(conn, image_id)


async def set_media_indexed(conn: asyncpg.Connection, image_id: uuid.UUID) -> None:
    await conn.execute("UPDATE images SET media_indexed = true WHERE id = $1", image_id)


async def set_placeholder(conn: asyncpg.Connection, image_id: uuid.UUID, placeholder: str) -> None:
    await conn.execute("UPDATE images SET placeholder = $2 WHERE id = $1", image_id, placeholder)


async def set_preview(conn: asyncpg.Connection, image_id: uuid.UUID, *, key: str, sha256: str, size_bytes: int) -> bool:
    status: str = await conn.execute(
        "UPDATE images SET preview_key = $2, preview_hash = $3, preview_size_bytes = $4 WHERE id = $1",
        image_id,
        key,
        sha256,
        size_bytes,
    )
    await notify_changed(conn, image_id)
    return status == "UPDATE 1"


async def set_thumbnail(
    conn: asyncpg.Connection, image_id: uuid.UUID, *, key: str, sha256: str, size_bytes: int
) -> bool:
    status: str = await conn.execute(
        "UPDATE images SET thumbnail_key = $2, thumbnail_hash = $3, thumbnail_size_bytes = $4 WHERE id = $1",
        image_id,
        key,
        sha256,
        size_bytes,
    )
    await notify_changed(conn, image_id)
    return status == "UPDATE 1"


async def record_use(conn: asyncpg.Connection, image_id: uuid.UUID) -> tuple[int, dt.datetime] | None:
    """Raise the use count in one statement (no read-modify-write); None when the image does not exist."""
    record = await conn.fetchrow(
        """
        UPDATE images SET use_count = use_count + 1, last_used_at = clock_timestamp() WHERE id = $1
        RETURNING use_count, last_used_at
        """,
        image_id,
    )
    return None if record is None else (record["use_count"], record["last_used_at"])
