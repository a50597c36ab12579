"""Thumbnail jobs: the API-visible state of each job (the queue itself is pgqueuer's, see `queue`).

A job is PENDING until a worker claims it (STARTED), then SUCCESS or FAILURE. A claim writes a fresh
`claim_token`; only the holder of the current token may finish the job, so a worker that lost its job to
another (after a stall or crash) can never overwrite the other's outcome. Finished jobs carry `expires_at`
and read as missing from then on, before the clean-up deletes them.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal

import asyncpg
import msgspec

from reactbin.db.queue import QUEUE_TABLE

JobStatus = Literal["PENDING", "STARTED", "SUCCESS", "FAILURE"]
Fit = Literal["contain", "cover"]
Format = Literal["webp", "jpeg", "png"]


class JobResult(msgspec.Struct, frozen=True, kw_only=True):
    """The thumbnail a successful job stored."""

    key: str
    hash: str
    width: int
    height: int
    mime_type: str
    size_bytes: int


class JobRow(msgspec.Struct, frozen=True, kw_only=True):
    """A job as clients see it; `result` is set exactly when SUCCESS, `error_code` exactly when FAILURE."""

    id: uuid.UUID
    status: JobStatus
    box_width: int
    box_height: int
    fit: Fit
    format: Format
    attempts: int
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    error_code: str | None
    error_detail: str | None
    result: JobResult | None


class NewJob(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    source_key: str
    source_mime_type: str
    box_width: int
    box_height: int
    fit: Fit
    format: Format


class ClaimedJob(msgspec.Struct, frozen=True, kw_only=True):
    """What a worker needs to run a job it has just claimed."""

    id: uuid.UUID
    source_key: str
    source_mime_type: str
    box_width: int
    box_height: int
    fit: Fit
    format: Format
    attempts: int


class ExpiredJob(msgspec.Struct, frozen=True):
    id: uuid.UUID
    source_key: str
    result_key: str | None


_COLUMNS = """
    id, status, box_width, box_height, fit, format, attempts, created_at, started_at, finished_at,
    error_code, error_detail, result_key, result_hash, result_width, result_height, result_mime_type,
    result_size_bytes
"""
_RESULT_FIELDS = ("key", "hash", "width", "height", "mime_type", "size_bytes")
_LIVE = "(expires_at IS NULL OR expires_at > clock_timestamp())"


def _job(record: asyncpg.Record) -> JobRow:
    data = dict(record)
    stored = {name: data.pop(f"result_{name}") for name in _RESULT_FIELDS}
    data["result"] = None if stored["key"] is None else stored
    return msgspec.convert(data, JobRow)


async def insert_job(conn: asyncpg.Connection, job: NewJob, queue_job_id: int) -> None:
    await conn.execute(
        """
        INSERT INTO thumbnail_jobs (id, source_key, source_mime_type, box_width, box_height, fit, format, queue_job_id)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
        """,
        job.id,
        job.source_key,
        job.source_mime_type,
        job.box_width,
        job.box_height,
        job.fit,
        job.format,
        queue_job_id,
    )


async def lock_job(conn: asyncpg.Connection, job_id: uuid.UUID) -> None:
    """Serialise storing a job's source with `reactbin fsck` looking at it, until the transaction ends."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"job:{job_id}")


async def job_exists(conn: asyncpg.Connection, job_id: uuid.UUID) -> bool:
    exists: bool = await conn.fetchval("SELECT EXISTS (SELECT 1 FROM thumbnail_jobs WHERE id = $1)", job_id)
    return exists


async def get_job(conn: asyncpg.Connection, job_id: uuid.UUID) -> JobRow | None:
    """The job, unless it does not exist or has expired."""
    record = await conn.fetchrow(f"SELECT {_COLUMNS} FROM thumbnail_jobs WHERE id = $1 AND {_LIVE}", job_id)
    return None if record is None else _job(record)


async def list_jobs(
    conn: asyncpg.Connection,
    *,
    status: JobStatus | None,
    limit: int,
    after: tuple[dt.datetime, uuid.UUID] | None,
) -> list[JobRow]:
    """Newest first, optionally of one status; `after` is the (created_at, id) of the last row already seen."""
    params: list[object] = []

    def param(value: object) -> str:
        params.append(value)
        return f"${len(params)}"

    conditions = [_LIVE]
    if status is not None:
        conditions.append(f"status = {param(status)}")
    if after is not None:
        conditions.append(f"(created_at, id) < ({param(after[0])}, {param(after[1])})")
    records = await conn.fetch(
        f"""
        SELECT {_COLUMNS} FROM thumbnail_jobs WHERE {" AND ".join(conditions)}
        ORDER BY created_at DESC, id DESC LIMIT {param(limit)}
        """,
        *params,
    )
    return [_job(record) for record in records]


async def claim_job(
    conn: asyncpg.Connection, job_id: uuid.UUID, queue_job_id: int, token: uuid.UUID, worker: str
) -> ClaimedJob | None:
    """Mark the job STARTED by `token` and count the attempt.

    None when there is nothing to do: the job finished, expired, was deleted, or is now run by another queue
    job (this one is a leftover).
    """
    record = await conn.fetchrow(
        """
        UPDATE thumbnail_jobs
        SET status = 'STARTED', attempts = attempts + 1, claim_token = $3, worker = $4,
            started_at = COALESCE(started_at, clock_timestamp())
        WHERE id = $1 AND queue_job_id = $2 AND status IN ('PENDING', 'STARTED')
        RETURNING id, source_key, source_mime_type, box_width, box_height, fit, format, attempts
        """,
        job_id,
        queue_job_id,
        token,
        worker,
    )
    return None if record is None else msgspec.convert(dict(record), ClaimedJob)


async def finish_success(
    conn: asyncpg.Connection, job_id: uuid.UUID, token: uuid.UUID, result: JobResult, ttl: dt.timedelta
) -> bool:
    """Record the thumbnail; False if the claim is no longer ours."""
    done = await conn.fetchval(
        """
        UPDATE thumbnail_jobs
        SET status = 'SUCCESS', finished_at = clock_timestamp(), expires_at = clock_timestamp() + $3::interval,
            result_key = $4, result_hash = $5, result_width = $6, result_height = $7, result_mime_type = $8,
            result_size_bytes = $9, error_code = NULL, error_detail = NULL
        WHERE id = $1 AND claim_token = $2 AND status = 'STARTED'
        RETURNING true
        """,
        job_id,
        token,
        ttl,
        result.key,
        result.hash,
        result.width,
        result.height,
        result.mime_type,
        result.size_bytes,
    )
    return bool(done)


async def finish_failure(
    conn: asyncpg.Connection, job_id: uuid.UUID, token: uuid.UUID, code: str, detail: str, ttl: dt.timedelta
) -> bool:
    """Record why the job failed for good; False if the claim is no longer ours."""
    done = await conn.fetchval(
        """
        UPDATE thumbnail_jobs
        SET status = 'FAILURE', finished_at = clock_timestamp(), expires_at = clock_timestamp() + $3::interval,
            error_code = $4, error_detail = $5
        WHERE id = $1 AND claim_token = $2 AND status = 'STARTED'
        RETURNING true
        """,
        job_id,
        token,
        ttl,
        code,
        detail,
    )
    return bool(done)


async def release_job(conn: asyncpg.Connection, job_id: uuid.UUID, token: uuid.UUID) -> bool:
    """Put a started job back to PENDING (it will run again); False if the claim is no longer ours."""
    done = await conn.fetchval(
        """
        UPDATE thumbnail_jobs SET status = 'PENDING', claim_token = NULL
        WHERE id = $1 AND claim_token = $2 AND status = 'STARTED'
        RETURNING true
        """,
        job_id,
        token,
    )
    return bool(done)


async def assign_queue_job(conn: asyncpg.Connection, job_id: uuid.UUID, queue_job_id: int) -> bool:
    """Hand an unfinished job to a new queue job (the old one is gone or about to be); PENDING again."""
    done = await conn.fetchval(
        """
        UPDATE thumbnail_jobs SET queue_job_id = $2, status = 'PENDING', claim_token = NULL
        WHERE id = $1 AND status IN ('PENDING', 'STARTED')
        RETURNING true
        """,
        job_id,
        queue_job_id,
    )
    return bool(done)


async def lock_unqueued_jobs(conn: asyncpg.Connection, *, older_than: dt.timedelta, limit: int) -> list[uuid.UUID]:
    """Unfinished jobs whose queue job no longer exists (lost to a bug, a cancelled shutdown or a manual purge).

    Locked until the transaction ends, so two workers never re-queue the same job.
    """
    records = await conn.fetch(
        f"""
        SELECT j.id FROM thumbnail_jobs j
        WHERE j.status IN ('PENDING', 'STARTED') AND j.created_at < clock_timestamp() - $1::interval
          AND NOT EXISTS (SELECT 1 FROM {QUEUE_TABLE} q WHERE q.id = j.queue_job_id)
        ORDER BY j.created_at
        LIMIT $2
        FOR UPDATE OF j SKIP LOCKED
        """,
        older_than,
        limit,
    )
    return [record["id"] for record in records]


async def expire_unstarted_jobs(
    conn: asyncpg.Connection, *, older_than: dt.timedelta, ttl: dt.timedelta, limit: int
) -> list[ExpiredJob]:
    """Fail up to `limit` jobs still PENDING after `older_than` (no worker took them) and return their sources.

    They become FAILURE `job_expired` and expire like any finished job after `ttl`; a worker that finds their queue
    job later claims nothing (only PENDING and STARTED jobs can be claimed).
    """
    records = await conn.fetch(
        """
        UPDATE thumbnail_jobs
        SET status = 'FAILURE', finished_at = clock_timestamp(), expires_at = clock_timestamp() + $2::interval,
            error_code = 'job_expired', error_detail = 'No worker started the job in time', claim_token = NULL
        WHERE id IN (
            SELECT id FROM thumbnail_jobs
            WHERE status = 'PENDING' AND created_at < clock_timestamp() - $1::interval
            ORDER BY created_at LIMIT $3 FOR UPDATE SKIP LOCKED
        )
        RETURNING id, source_key, result_key
        """,
        older_than,
        ttl,
        limit,
    )
    return [ExpiredJob(record["id"], record["source_key"], record["result_key"]) for record in records]


async def delete_expired_jobs(conn: asyncpg.Connection, *, limit: int) -> list[ExpiredJob]:
    """Delete up to `limit` expired jobs and return what they stored (delete it before committing)."""
    records = await conn.fetch(
        """
        DELETE FROM thumbnail_jobs WHERE id IN (
            SELECT id FROM thumbnail_jobs WHERE expires_at <= clock_timestamp()
            ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED
        )
        RETURNING id, source_key, result_key
        """,
        limit,
    )
    return [ExpiredJob(record["id"], record["source_key"], record["result_key"]) for record in records]


async def count_jobs_by_status(conn: asyncpg.Connection) -> dict[str, int]:
    """How many jobs are in each state (every state present, zero when none)."""
    records = await conn.fetch("SELECT status, count(*) AS n FROM thumbnail_jobs GROUP BY status")
    counts = dict.fromkeys(("PENDING", "STARTED", "SUCCESS", "FAILURE"), 0)
    counts.update({record["status"]: record["n"] for record in records})
    return counts


async def queue_depth(conn: asyncpg.Connection) -> int:
    """Queue entries not yet picked up by a worker."""
    depth: int = await conn.fetchval(f"SELECT count(*) FROM {QUEUE_TABLE} WHERE status = 'queued'")
    return depth
