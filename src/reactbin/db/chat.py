"""Signed chat requests already answered (the replay guard of reactbin.domain.chat)."""

from __future__ import annotations

import datetime as dt

import asyncpg
import msgspec


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


class Completion(msgspec.Struct, frozen=True):
    text: str
    rank: int
    """0: the caption is the typed text; 1: it starts with it; 2: it holds it."""


async def caption_completions(conn: asyncpg.Connection, typed: str, *, limit: int, walk: int) -> list[Completion]:
    """Up to `limit` images' captions holding `typed` in one piece (compared in the compact form the search uses);
    the same caption may come more than once.

    The newest `walk` images are read first, newest first (common text fills the list there, at the cost of a short
    walk of the date index); only when they hold fewer does the trigram index find the rest, which is then rare
    text, read in the index's order (`reactbin_captions_holding`, migrations/0017_autocomplete.sql). Two statements
    at most, each bounded whatever the library's size.
    """
    found = await conn.fetch(
        """
        SELECT w.text, CASE WHEN w.text_compact = t.c THEN 0 WHEN starts_with(w.text_compact, t.c) THEN 1 ELSE 2 END
        FROM (SELECT reactbin_compact($1) AS c) t
        CROSS JOIN LATERAL (
            SELECT i.text, i.text_compact FROM images i ORDER BY i.created_at DESC, i.id DESC LIMIT $2
        ) w
        WHERE length(t.c) >= 3 AND strpos(w.text_compact, t.c) > 0 AND w.text IS NOT NULL
        LIMIT $3
        """,
        typed,
        walk,
        limit,
    )
    if len(found) < limit:
        found += await conn.fetch("SELECT caption, rank FROM reactbin_captions_holding($1, $2)", typed, limit)
    return [Completion(r[0], r[1]) for r in found]
