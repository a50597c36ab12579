"""Tag aliases and implications, and the canonical form of tags written to images."""

from __future__ import annotations

import datetime as dt

import asyncpg
import msgspec


class AliasRow(msgspec.Struct, frozen=True):
    alias: str
    tag: str
    created_at: dt.datetime


class ImplicationRow(msgspec.Struct, frozen=True):
    tag: str
    implies: str
    created_at: dt.datetime


_RULES_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended('reactbin:tag-rules', 0))"
_RULES_LOCK_SHARED = "SELECT pg_advisory_xact_lock_shared(hashtextextended('reactbin:tag-rules', 0))"


async def lock_rules(conn: asyncpg.Connection) -> None:
    """Serialise rule writes across replicas until the transaction ends (cycle checks and rewrites see all rules)."""
    await conn.execute(_RULES_LOCK)


async def canonical_tags(conn: asyncpg.Connection, tags: list[str]) -> list[str]:
    """`tags` with aliases replaced by their tags, first occurrence kept; call inside the transaction that writes them.

    The shared lock waits for a rule write in progress, so a tag is never written under a name that is being made
    an alias (whose existing uses that write rewrites).
    """
    if not tags:
        return []
    await conn.execute(_RULES_LOCK_SHARED)
    canonical: list[str] = await conn.fetchval(
        """
        SELECT ARRAY(
            SELECT coalesce(a.tag, u.t) FROM unnest($1::text[]) WITH ORDINALITY u(t, n)
            LEFT JOIN tag_aliases a ON a.alias = u.t ORDER BY u.n
        )
        """,
        tags,
    )
    return list(dict.fromkeys(canonical))


async def list_aliases(conn: asyncpg.Connection) -> list[AliasRow]:
    records = await conn.fetch("SELECT alias, tag, created_at FROM tag_aliases ORDER BY alias")
    return [AliasRow(r["alias"], r["tag"], r["created_at"]) for r in records]


async def list_implications(conn: asyncpg.Connection) -> list[ImplicationRow]:
    records = await conn.fetch("SELECT tag, implies, created_at FROM tag_implications ORDER BY tag, implies")
    return [ImplicationRow(r["tag"], r["implies"], r["created_at"]) for r in records]


async def alias_target(conn: asyncpg.Connection, alias: str) -> str | None:
    target: str | None = await conn.fetchval("SELECT tag FROM tag_aliases WHERE alias = $1", alias)
    return target


async def get_alias(conn: asyncpg.Connection, alias: str) -> AliasRow | None:
    r = await conn.fetchrow("SELECT alias, tag, created_at FROM tag_aliases WHERE alias = $1", alias)
    return None if r is None else AliasRow(r["alias"], r["tag"], r["created_at"])


async def implies(conn: asyncpg.Connection, tag: str, implied: str) -> bool:
    """Whether `tag` implies `implied` through one or more implications."""
    found: bool = await conn.fetchval(
        """
        WITH RECURSIVE reach(tag) AS (
            SELECT $1::text
            UNION
            SELECT r.implies FROM reach JOIN tag_implications r ON r.tag = reach.tag
        )
        SELECT EXISTS (SELECT 1 FROM reach WHERE tag = $2)
        """,
        tag,
        implied,
    )
    return found


async def insert_alias(conn: asyncpg.Connection, alias: str, tag: str) -> AliasRow:
    """Add the alias, point aliases of `alias` at `tag`, and move every use of `alias` (images, implications)."""
    await conn.execute("UPDATE tag_aliases SET tag = $2 WHERE tag = $1", alias, tag)
    r = await conn.fetchrow(
        "INSERT INTO tag_aliases (alias, tag) VALUES ($1, $2) RETURNING alias, tag, created_at", alias, tag
    )
    # Two statements, not UPDATE: an image that has both tags keeps one row.
    await conn.execute(
        """
        INSERT INTO image_tags (image_id, tag, created_at)
        SELECT image_id, $2, created_at FROM image_tags WHERE tag = $1 ORDER BY image_id
        ON CONFLICT DO NOTHING
        """,
        alias,
        tag,
    )
    await conn.execute("DELETE FROM image_tags WHERE tag = $1", alias)
    await conn.execute(
        """
        INSERT INTO tag_implications (tag, implies, created_at)
        SELECT CASE WHEN tag = $1 THEN $2 ELSE tag END, CASE WHEN implies = $1 THEN $2 ELSE implies END, created_at
        FROM tag_implications WHERE tag = $1 OR implies = $1
        ON CONFLICT DO NOTHING
        """,
        alias,
        tag,
    )
    await conn.execute("DELETE FROM tag_implications WHERE tag = $1 OR implies = $1", alias)
    assert r is not None
    return AliasRow(r["alias"], r["tag"], r["created_at"])


async def implications_touching(conn: asyncpg.Connection, tag: str) -> list[ImplicationRow]:
    records = await conn.fetch(
        "SELECT tag, implies, created_at FROM tag_implications WHERE tag = $1 OR implies = $1", tag
    )
    return [ImplicationRow(r["tag"], r["implies"], r["created_at"]) for r in records]


async def delete_alias(conn: asyncpg.Connection, alias: str) -> bool:
    status: str = await conn.execute("DELETE FROM tag_aliases WHERE alias = $1", alias)
    return status == "DELETE 1"


async def insert_implication(conn: asyncpg.Connection, tag: str, implied: str) -> tuple[ImplicationRow, bool]:
    """Add the implication; the flag says whether it is new."""
    r = await conn.fetchrow(
        """
        INSERT INTO tag_implications (tag, implies) VALUES ($1, $2) ON CONFLICT DO NOTHING
        RETURNING tag, implies, created_at
        """,
        tag,
        implied,
    )
    if r is not None:
        return ImplicationRow(r["tag"], r["implies"], r["created_at"]), True
    r = await conn.fetchrow(
        "SELECT tag, implies, created_at FROM tag_implications WHERE tag = $1 AND implies = $2", tag, implied
    )
    assert r is not None  # rule writes hold the rules lock: nobody deleted it in between
    return ImplicationRow(r["tag"], r["implies"], r["created_at"]), False


async def delete_implication(conn: asyncpg.Connection, tag: str, implied: str) -> bool:
    status: str = await conn.execute("DELETE FROM tag_implications WHERE tag = $1 AND implies = $2", tag, implied)
    return status == "DELETE 1"
