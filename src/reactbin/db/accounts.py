"""Users, sessions, API keys, favourites, setup codes and OpenID identities.

Credentials are looked up by the SHA-256 of what the client holds; the database never sees a session id, key or
setup code itself. Every change that can end a credential (sign-out, revoke, disable, role or password change,
delete) notifies `ACCOUNTS_CHANNEL` in its transaction, so every replica forgets what it cached at once.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal

import asyncpg
import msgspec

Role = Literal["admin", "member", "viewer"]
Scope = Literal["full", "upload"]

ACCOUNTS_CHANNEL = "reactbin_accounts_changed"
"""NOTIFY channel: the payload is the id of a user whose credentials or role changed (or `*`)."""


class UserRow(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    name: str
    role: Role
    disabled: bool
    created_at: dt.datetime
    has_password: bool
    oidc: bool


class Credential(msgspec.Struct, frozen=True, kw_only=True):
    """Who a session or key belongs to, as of now; only active users' credentials are found."""

    user_id: uuid.UUID
    name: str
    role: Role
    scope: Scope
    used_at: dt.datetime | None
    key_id: uuid.UUID | None = None


class KeyRow(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    name: str
    scope: Scope
    created_at: dt.datetime
    last_used_at: dt.datetime | None


_USER_COLUMNS = """
    u.id, u.name, u.role, u.disabled, u.created_at, u.password_hash IS NOT NULL AS has_password,
    EXISTS (SELECT 1 FROM user_identities x WHERE x.user_id = u.id) AS oidc
"""


def _user(record: asyncpg.Record) -> UserRow:
    return msgspec.convert(dict(record), UserRow)


async def notify_changed(conn: asyncpg.Connection, user_id: uuid.UUID | None) -> None:
    """Tell every process to drop what it cached about credentials (delivered when the transaction commits)."""
    await conn.execute("SELECT pg_notify($1, $2)", ACCOUNTS_CHANNEL, str(user_id) if user_id else "*")


async def lock_accounts(conn: asyncpg.Connection) -> None:
    """Serialise changes that must keep one active admin (and the creation of the first user) across replicas."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('reactbin-accounts', 0))")


async def any_user(conn: asyncpg.Connection) -> bool:
    exists: bool = await conn.fetchval("SELECT EXISTS (SELECT 1 FROM users)")
    return exists


async def insert_user(
    conn: asyncpg.Connection, *, user_id: uuid.UUID, name: str, role: Role, password_hash: str | None
) -> UserRow | None:
    """Insert a user; None when the name is taken (ignoring case)."""
    record = await conn.fetchrow(
        f"""
        WITH u AS (
            INSERT INTO users (id, name, role, password_hash) VALUES ($1, $2, $3, $4)
            ON CONFLICT (lower(name)) DO NOTHING RETURNING *
        )
        SELECT {_USER_COLUMNS} FROM u
        """,
        user_id,
        name,
        role,
        password_hash,
    )
    return None if record is None else _user(record)


async def get_user(conn: asyncpg.Connection, user_id: uuid.UUID) -> UserRow | None:
    record = await conn.fetchrow(f"SELECT {_USER_COLUMNS} FROM users u WHERE u.id = $1", user_id)
    return None if record is None else _user(record)


async def find_user(conn: asyncpg.Connection, name: str) -> UserRow | None:
    record = await conn.fetchrow(f"SELECT {_USER_COLUMNS} FROM users u WHERE lower(u.name) = lower($1)", name)
    return None if record is None else _user(record)


async def user_ids_named(conn: asyncpg.Connection, names: list[str]) -> list[uuid.UUID | None]:
    """The id of each name (ignoring case), None for names nobody has."""
    records = await conn.fetch(
        """
        SELECT n.i, u.id FROM unnest($1::text[]) WITH ORDINALITY n(name, i)
        LEFT JOIN users u ON lower(u.name) = lower(n.name) ORDER BY n.i
        """,
        names,
    )
    return [record["id"] for record in records]


async def list_users(conn: asyncpg.Connection) -> list[UserRow]:
    return [_user(r) for r in await conn.fetch(f"SELECT {_USER_COLUMNS} FROM users u ORDER BY lower(u.name)")]


class PasswordRow(msgspec.Struct, frozen=True):
    id: uuid.UUID
    name: str
    role: Role
    password_hash: str | None
    disabled: bool


async def password_of(conn: asyncpg.Connection, name: str) -> PasswordRow | None:
    record = await conn.fetchrow(
        "SELECT id, name, role, password_hash, disabled FROM users WHERE lower(name) = lower($1)", name
    )
    return None if record is None else msgspec.convert(dict(record), PasswordRow)


async def active_admins(conn: asyncpg.Connection) -> list[uuid.UUID]:
    records = await conn.fetch("SELECT id FROM users WHERE role = 'admin' AND NOT disabled")
    return [r["id"] for r in records]


async def update_user(
    conn: asyncpg.Connection,
    user_id: uuid.UUID,
    *,
    name: str | None = None,
    role: Role | None = None,
    disabled: bool | None = None,
    password_hash: str | None = None,
) -> UserRow | None:
    """Change the given fields (None: unchanged); None when there is no such user. Raises UniqueViolationError on a
    taken name."""
    record = await conn.fetchrow(
        f"""
        WITH u AS (
            UPDATE users SET name = coalesce($2, name), role = coalesce($3, role),
                             disabled = coalesce($4, disabled), password_hash = coalesce($5, password_hash)
            WHERE id = $1 RETURNING *
        )
        SELECT {_USER_COLUMNS} FROM u
        """,
        user_id,
        name,
        role,
        disabled,
        password_hash,
    )
    return None if record is None else _user(record)


async def set_password_hash(conn: asyncpg.Connection, user_id: uuid.UUID, password_hash: str) -> None:
    """Store a rehash (same password, new parameters): no credential changes, so no notification."""
    await conn.execute("UPDATE users SET password_hash = $2 WHERE id = $1", user_id, password_hash)


async def delete_user(conn: asyncpg.Connection, user_id: uuid.UUID) -> bool:
    status: str = await conn.execute("DELETE FROM users WHERE id = $1", user_id)
    return status == "DELETE 1"


async def end_credentials(conn: asyncpg.Connection, user_id: uuid.UUID, *, keep_session: bytes | None = None) -> None:
    """Delete every session (but `keep_session`) and key of a user."""
    await conn.execute(
        "DELETE FROM sessions WHERE user_id = $1 AND ($2::bytea IS NULL OR id_hash <> $2)", user_id, keep_session
    )
    await conn.execute("DELETE FROM api_keys WHERE user_id = $1", user_id)


# Sessions


async def insert_session(conn: asyncpg.Connection, id_hash: bytes, user_id: uuid.UUID) -> None:
    await conn.execute("INSERT INTO sessions (id_hash, user_id) VALUES ($1, $2)", id_hash, user_id)


async def session_credential(conn: asyncpg.Connection, id_hash: bytes, ttl: float) -> Credential | None:
    """The active user of a session that was used within `ttl` seconds."""
    record = await conn.fetchrow(
        """
        SELECT u.id AS user_id, u.name, u.role, 'full' AS scope, s.last_seen_at AS used_at
        FROM sessions s JOIN users u ON u.id = s.user_id
        WHERE s.id_hash = $1 AND NOT u.disabled AND s.last_seen_at > clock_timestamp() - make_interval(secs => $2)
        """,
        id_hash,
        ttl,
    )
    return None if record is None else msgspec.convert(dict(record), Credential)


async def touch_session(conn: asyncpg.Connection, id_hash: bytes) -> None:
    await conn.execute("UPDATE sessions SET last_seen_at = clock_timestamp() WHERE id_hash = $1", id_hash)


async def delete_session(conn: asyncpg.Connection, id_hash: bytes) -> uuid.UUID | None:
    """Delete a session; its user's id, or None when there was none."""
    user_id: uuid.UUID | None = await conn.fetchval(
        "DELETE FROM sessions WHERE id_hash = $1 RETURNING user_id", id_hash
    )
    return user_id


async def prune_sessions(conn: asyncpg.Connection, ttl: float) -> None:
    await conn.execute("DELETE FROM sessions WHERE last_seen_at < clock_timestamp() - make_interval(secs => $1)", ttl)


# API keys


async def insert_key(
    conn: asyncpg.Connection, *, key_id: uuid.UUID, user_id: uuid.UUID, name: str, scope: Scope, key_hash: bytes
) -> KeyRow:
    record = await conn.fetchrow(
        """
        INSERT INTO api_keys (id, user_id, name, scope, key_hash) VALUES ($1, $2, $3, $4, $5)
        RETURNING id, name, scope, created_at, last_used_at
        """,
        key_id,
        user_id,
        name,
        scope,
        key_hash,
    )
    assert record is not None
    return msgspec.convert(dict(record), KeyRow)


async def list_keys(conn: asyncpg.Connection, user_id: uuid.UUID) -> list[KeyRow]:
    records = await conn.fetch(
        "SELECT id, name, scope, created_at, last_used_at FROM api_keys WHERE user_id = $1 ORDER BY created_at, id",
        user_id,
    )
    return [msgspec.convert(dict(r), KeyRow) for r in records]


async def delete_key(conn: asyncpg.Connection, user_id: uuid.UUID, key_id: uuid.UUID) -> bool:
    status: str = await conn.execute("DELETE FROM api_keys WHERE id = $1 AND user_id = $2", key_id, user_id)
    return status == "DELETE 1"


async def key_credential(conn: asyncpg.Connection, key_hash: bytes) -> Credential | None:
    record = await conn.fetchrow(
        """
        SELECT u.id AS user_id, u.name, u.role, k.scope, k.last_used_at AS used_at, k.id AS key_id
        FROM api_keys k JOIN users u ON u.id = k.user_id
        WHERE k.key_hash = $1 AND NOT u.disabled
        """,
        key_hash,
    )
    return None if record is None else msgspec.convert(dict(record), Credential)


async def touch_key(conn: asyncpg.Connection, key_id: uuid.UUID) -> None:
    await conn.execute("UPDATE api_keys SET last_used_at = clock_timestamp() WHERE id = $1", key_id)


# Favourites


async def add_favourite(conn: asyncpg.Connection, user_id: uuid.UUID, image_id: uuid.UUID) -> bool:
    """False when the image does not exist."""
    exists: bool = await conn.fetchval(
        """
        WITH image AS (SELECT id FROM images WHERE id = $2),
             added AS (INSERT INTO favourites (user_id, image_id) SELECT $1, id FROM image ON CONFLICT DO NOTHING)
        SELECT EXISTS (SELECT 1 FROM image)
        """,
        user_id,
        image_id,
    )
    return exists


async def remove_favourite(conn: asyncpg.Connection, user_id: uuid.UUID, image_id: uuid.UUID) -> bool:
    """False when the image does not exist."""
    exists: bool = await conn.fetchval(
        """
        WITH removed AS (DELETE FROM favourites WHERE user_id = $1 AND image_id = $2)
        SELECT EXISTS (SELECT 1 FROM images WHERE id = $2)
        """,
        user_id,
        image_id,
    )
    return exists


async def favourites_among(conn: asyncpg.Connection, user_id: uuid.UUID, image_ids: list[uuid.UUID]) -> set[uuid.UUID]:
    records = await conn.fetch(
        "SELECT image_id FROM favourites WHERE user_id = $1 AND image_id = ANY($2::uuid[])", user_id, image_ids
    )
    return {r["image_id"] for r in records}


# First-run setup


async def insert_setup_code(conn: asyncpg.Connection, code_hash: bytes) -> None:
    await conn.execute("INSERT INTO setup_codes (code_hash) VALUES ($1) ON CONFLICT DO NOTHING", code_hash)


async def setup_code_exists(conn: asyncpg.Connection, code_hash: bytes) -> bool:
    exists: bool = await conn.fetchval("SELECT EXISTS (SELECT 1 FROM setup_codes WHERE code_hash = $1)", code_hash)
    return exists


async def delete_setup_codes(conn: asyncpg.Connection) -> None:
    await conn.execute("DELETE FROM setup_codes")


# OpenID Connect


async def user_of_identity(conn: asyncpg.Connection, issuer: str, subject: str) -> UserRow | None:
    record = await conn.fetchrow(
        f"""
        SELECT {_USER_COLUMNS} FROM user_identities i JOIN users u ON u.id = i.user_id
        WHERE i.issuer = $1 AND i.subject = $2
        """,
        issuer,
        subject,
    )
    return None if record is None else _user(record)


async def insert_identity(conn: asyncpg.Connection, issuer: str, subject: str, user_id: uuid.UUID) -> None:
    await conn.execute(
        "INSERT INTO user_identities (issuer, subject, user_id) VALUES ($1, $2, $3)", issuer, subject, user_id
    )


async def insert_oidc_login(conn: asyncpg.Connection, state_hash: bytes, nonce: str, code_verifier: str) -> None:
    await conn.execute(
        "INSERT INTO oidc_logins (state_hash, nonce, code_verifier) VALUES ($1, $2, $3)",
        state_hash,
        nonce,
        code_verifier,
    )
    await conn.execute("DELETE FROM oidc_logins WHERE created_at < clock_timestamp() - interval '1 hour'")


async def take_oidc_login(conn: asyncpg.Connection, state_hash: bytes, max_age: float) -> tuple[str, str] | None:
    """The (nonce, code_verifier) of a sign-in started within `max_age` seconds; each is taken once."""
    record = await conn.fetchrow(
        """
        DELETE FROM oidc_logins WHERE state_hash = $1 RETURNING nonce, code_verifier,
               created_at > clock_timestamp() - make_interval(secs => $2) AS fresh
        """,
        state_hash,
        max_age,
    )
    if record is None or not record["fresh"]:
        return None
    return record["nonce"], record["code_verifier"]
