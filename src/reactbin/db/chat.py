"""Signed chat requests already answered (the replay guard of reactbin.domain.chat)."""

from __future__ import annotations

import datetime as dt

import asyncpg


async def remember_request(conn: asyncpg.Connection, digest: bytes, expires_at: dt.datetime) -> bool:
    """Record a request by the digest of its signature; False when it was recorded before (a replay)."""
    inserted: bool | None = await conn.fetchval(
        """
        INSERT INTO chat_requests (digest, expires_at) VALUES ($1, $2)
        ON CONFLICT (digest) DO NOTHING RETURNING true
        """,
        digest,
        expires_at,
    )
    return inserted is not None


async def forget_expired(conn: asyncpg.Connection) -> None:
    """Drop requests whose signature has expired anyway (their timestamp check refuses them now)."""
    await conn.execute("DELETE FROM chat_requests WHERE expires_at < now()")
