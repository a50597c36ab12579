"""The job queue (pgqueuer, installed by migration 0002): enqueue inside the caller's transaction, retention.

pgqueuer deletes a queue row when its job ends and keeps a history in `pgqueuer_log` (and per-second counts in
`pgqueuer_statistics`) that it never prunes; `prune_history` is their retention (`JOB_TTL`).
"""

from __future__ import annotations

import datetime as dt

import asyncpg
from pgqueuer.db import AsyncpgDriver
from pgqueuer.queries import Queries

THUMBNAIL_ENTRYPOINT = "thumbnail"
MEDIA_ENTRYPOINT = "media"
"""Payload: an image id (16 bytes), then b"!" to re-probe an image that was already indexed."""
OCR_ENTRYPOINT = "ocr"
QUEUE_TABLE = "pgqueuer"
_PRUNE_BATCH = 10_000


async def enqueue(conn: asyncpg.Connection, entrypoint: str, payload: bytes) -> int:
    """Queue one job on `conn`, so it commits or rolls back with the caller's transaction; return its queue id.

    No dedupe key: a duplicate key would abort the caller's transaction (pgqueuer raises inside it), and the
    caller's own row already says which queue job is current.
    """
    ids = await Queries(AsyncpgDriver(conn)).enqueue(entrypoint, payload)
    return int(ids[0])


async def enqueue_unique(conn: asyncpg.Connection, entrypoint: str, jobs: list[tuple[bytes, str]]) -> int:
    """Queue `(payload, dedupe_key)` jobs on `conn` in one statement; a key that already has a queued or running
    job is skipped (never an error: a duplicate error would abort the caller's transaction). Return how many
    were queued."""
    ids = await Queries(AsyncpgDriver(conn)).enqueue(
        [entrypoint] * len(jobs),
        [payload for payload, _ in jobs],
        [0] * len(jobs),
        dedupe_key=[key for _, key in jobs],
        on_conflict="skip",
    )
    return sum(1 for job_id in ids if job_id is not None)


async def release_dedupe_key(conn: asyncpg.Connection, queue_job_id: int) -> None:
    """Take the dedupe key off a queue job that is ending (cancelled), so a new job with that key can be queued
    before pgqueuer has removed the old row."""
    await conn.execute(f"UPDATE {QUEUE_TABLE} SET dedupe_key = NULL WHERE id = $1", queue_job_id)


async def prune_history(conn: asyncpg.Connection, older_than: dt.timedelta) -> int:
    """Delete queue log and statistics rows older than `older_than`, in batches; return how many went."""
    total = 0
    for table in ("pgqueuer_log", "pgqueuer_statistics"):
        while True:
            status = await conn.execute(
                f"""
                DELETE FROM {table} WHERE id IN (
                    SELECT id FROM {table} WHERE created < now() - $1::interval LIMIT $2
                )
                """,
                older_than,
                _PRUNE_BATCH,
            )
            deleted = int(status.rsplit(" ", 1)[-1])
            total += deleted
            if deleted < _PRUNE_BATCH:
                break
    return total
