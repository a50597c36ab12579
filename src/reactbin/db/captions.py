"""Caption text of images: OCR job state, hand-set text, and what `reactbin reindex` queues.

An image's OCR job is a pgqueuer job with the dedupe key `ocr:<image id>`, so an image has at most one queued
or running OCR job however many uploads, reindex runs and clean-ups ask for one.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal

import asyncpg
import msgspec

from reactbin.db import queue
from reactbin.db.images import notify_changed

Outcome = Literal["done", "none", "failed"]
_NOT_MANUAL = "text_source IS DISTINCT FROM 'manual'"


class OcrTarget(msgspec.Struct, frozen=True):
    """What an OCR job reads: the stored original, and how many times its job has started."""

    storage_key: str
    mime_type: str
    attempts: int


class ReindexCounts(msgspec.Struct, frozen=True):
    pending: int
    done: int
    failed: int


def dedupe_key(image_id: uuid.UUID) -> str:
    return f"ocr:{image_id}"


async def queue_ocr(conn: asyncpg.Connection, image_ids: list[uuid.UUID]) -> int:
    """Queue an OCR job for each image in the caller's transaction; return how many were new (not already queued)."""
    if not image_ids:
        return 0
    return await queue.enqueue_unique(
        conn, queue.OCR_ENTRYPOINT, [(image_id.bytes, dedupe_key(image_id)) for image_id in image_ids]
    )


async def mark_queued(conn: asyncpg.Connection, image_id: uuid.UUID) -> None:
    """A new image's OCR is queued now (its status is already the default, pending)."""
    await conn.execute("UPDATE images SET text_queued_at = now() WHERE id = $1", image_id)


async def mark_batch_for_reindex(
    conn: asyncpg.Connection, *, after: uuid.UUID | None, redo_all: bool, limit: int
) -> list[uuid.UUID]:
    """Set the next `limit` images (by id, after `after`) that need OCR back to pending, and return their ids.

    Without `redo_all`: images whose text is pending or failed; with it: every image whose text is not hand-set.
    """
    condition = _NOT_MANUAL if redo_all else f"text_status IN ('pending', 'failed') AND {_NOT_MANUAL}"
    records = await conn.fetch(
        f"""
        UPDATE images SET text_status = 'pending', text_attempts = 0, text_queued_at = now()
        WHERE id IN (
            SELECT id FROM images WHERE id > $1 AND {condition} ORDER BY id LIMIT $2 FOR UPDATE
        )
        RETURNING id
        """,
        after or uuid.UUID(int=0),
        limit,
    )
    return sorted(record["id"] for record in records)


async def reindex_counts(conn: asyncpg.Connection, since: dt.datetime) -> ReindexCounts:
    """Where the images queued since `since` stand: still pending, read (done or no text), failed."""
    record = await conn.fetchrow(
        """
        SELECT count(*) FILTER (WHERE text_status = 'pending') AS pending,
               count(*) FILTER (WHERE text_status IN ('done', 'none')) AS done,
               count(*) FILTER (WHERE text_status = 'failed') AS failed
        FROM images WHERE text_queued_at >= $1
        """,
        since,
    )
    assert record is not None
    return ReindexCounts(record["pending"], record["done"], record["failed"])


async def claim_ocr(conn: asyncpg.Connection, image_id: uuid.UUID) -> OcrTarget | None:
    """Count a start of the image's OCR job; None when there is nothing to read (gone, read, or hand-set)."""
    record = await conn.fetchrow(
        f"""
        UPDATE images SET text_attempts = text_attempts + 1
        WHERE id = $1 AND text_status = 'pending' AND {_NOT_MANUAL}
        RETURNING storage_key, mime_type, text_attempts
        """,
        image_id,
    )
    if record is None:
        return None
    return OcrTarget(record["storage_key"], record["mime_type"], record["text_attempts"])


async def finish_ocr(conn: asyncpg.Connection, image_id: uuid.UUID, status: Outcome, text: str | None) -> bool:
    """Record an OCR outcome unless the text was set by hand meanwhile; a failure keeps any earlier text."""
    result: str = await conn.execute(
        f"""
        UPDATE images
        SET text = CASE WHEN $2 = 'failed' THEN text ELSE $3 END,
            text_source = CASE WHEN $2 = 'failed' THEN text_source ELSE 'ocr' END,
            text_status = $2
        WHERE id = $1 AND text_status = 'pending' AND {_NOT_MANUAL}
        """,
        image_id,
        status,
        text,
    )
    if result == "UPDATE 1":
        await notify_changed(conn, image_id)  # share pages show the caption: their cards are dropped everywhere
    return result == "UPDATE 1"


async def set_manual_text(conn: asyncpg.Connection, image_id: uuid.UUID, text: str | None) -> bool:
    """Hand-set caption text (None: the image has none); no later OCR run overwrites it. False if no such image."""
    result: str = await conn.execute(
        """
        UPDATE images
        SET text = $2, text_source = 'manual', text_status = CASE WHEN $2::text IS NULL THEN 'none' ELSE 'done' END
        WHERE id = $1
        """,
        image_id,
        text,
    )
    if result == "UPDATE 1":
        await notify_changed(conn, image_id)
    return result == "UPDATE 1"


async def lost_ocr_jobs(conn: asyncpg.Connection, *, older_than: dt.timedelta, limit: int) -> list[uuid.UUID]:
    """Images queued for OCR longer than `older_than` ago, still pending, whose queue job is gone."""
    records = await conn.fetch(
        f"""
        SELECT i.id FROM images i
        WHERE i.text_queued_at < now() - $1::interval AND i.text_status = 'pending' AND {_NOT_MANUAL}
          AND NOT EXISTS (
              SELECT 1 FROM {queue.QUEUE_TABLE} q
              WHERE q.dedupe_key = 'ocr:' || i.id::text AND q.status IN ('queued', 'picked')
          )
        ORDER BY i.text_queued_at LIMIT $2
        """,
        older_than,
        limit,
    )
    return [record["id"] for record in records]


async def touch_queued(conn: asyncpg.Connection, image_ids: list[uuid.UUID]) -> None:
    await conn.execute("UPDATE images SET text_queued_at = now() WHERE id = ANY($1::uuid[])", image_ids)
