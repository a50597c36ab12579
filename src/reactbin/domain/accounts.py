"""Account use cases: users and roles, password sign-in and sessions, API keys, the first-run setup code.

Roles: `admin` (everything), `member` (upload, tag, caption; delete own uploads), `viewer` (read, favourites, uses).
At least one active admin remains at all times: changes that could remove the last one are serialised across
replicas by an advisory lock and refused with `LastAdmin`.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
import uuid

import asyncpg
import msgspec

from reactbin.db import accounts as db
from reactbin.db import ratelimits
from reactbin.domain import passwords
from reactbin.domain.principals import KEY_PREFIX, credential_hash
from reactbin.domain.resources import Resources
from reactbin.errors import (
    InvalidCredentials,
    InvalidSetupCode,
    InvalidUserName,
    KeyNotFound,
    LastAdmin,
    RateLimited,
    SetupDone,
    UserExists,
    UserNotFound,
)

log = logging.getLogger(__name__)

NAME_PATTERN = r"^[A-Za-z0-9_.-]{1,32}$"
_NAME = re.compile(NAME_PATTERN)
LOGIN_FAILURES = 10
"""More failed sign-ins than this per user name or per client within LOGIN_WINDOW seconds are refused (429)."""
LOGIN_WINDOW = 15 * 60


def check_name(name: str) -> str:
    """A user name as given, if it follows the rule (1-32 of letters, digits and `._-`).

    Raises:
        InvalidUserName: anything else (HTML, SQL, NUL bytes, 10 KB...).
    """
    if len(name) > 32 or not _NAME.fullmatch(name):
        raise InvalidUserName()
    return name


class SignedIn(msgspec.Struct, frozen=True):
    """A new session: the cookie value (shown to the browser once, stored hashed) and its user."""

    session_id: str
    user: db.UserRow


# Users


async def create_user(
    res: Resources, name: str, role: db.Role, password: str | None, *, setup_code: str | None = None
) -> db.UserRow:
    """Create a user (with a password, or none for OpenID-only users).

    With `setup_code`, only as the first user: the code must be one a serving process logged.

    Raises:
        InvalidUserName, InvalidPassword: the name or password breaks the rules (checked before hashing).
        UserExists: the name is taken, ignoring case.
        InvalidSetupCode, SetupDone: the setup code is wrong, or users exist already.
    """
    check_name(name)
    password_hash = None
    if password is not None:
        passwords.check_rule(password)
        password_hash = await res.run_cpu(passwords.hash_password, password)
    async with res.tx() as conn:
        await db.lock_accounts(conn)
        if setup_code is not None:
            if await db.active_admins(conn):
                raise SetupDone()
            if not await db.setup_code_exists(conn, credential_hash(setup_code)):
                raise InvalidSetupCode()
        user = await db.insert_user(conn, user_id=uuid.uuid4(), name=name, role=role, password_hash=password_hash)
        if user is None:
            raise UserExists()
        # The library stops being open: every replica must re-read that; with an admin, no setup code works any more.
        if role == "admin":
            await db.delete_setup_codes(conn)
        await db.notify_changed(conn, user.id)
    return user


async def list_users(res: Resources) -> list[db.UserRow]:
    async with res.db() as conn:
        return await db.list_users(conn)


async def find_user(res: Resources, name: str) -> db.UserRow:
    async with res.db() as conn:
        user = await db.find_user(conn, name)
    if user is None:
        raise UserNotFound()
    return user


class UserChange(msgspec.Struct, frozen=True, kw_only=True):
    name: str | None = None
    role: db.Role | None = None
    disabled: bool | None = None
    password: str | None = None


async def update_user(
    res: Resources, user_id: uuid.UUID, change: UserChange, *, keep_session: bytes | None = None
) -> db.UserRow:
    """Rename, change role, disable/enable or reset the password of a user.

    Disabling a user or changing their password ends their sessions and keys at once, on every replica (except
    `keep_session`: an admin resetting their own password stays signed in here).

    Raises:
        UserNotFound, UserExists, InvalidUserName, InvalidPassword, LastAdmin.
    """
    if change.name is not None:
        check_name(change.name)
    password_hash = None
    if change.password is not None:
        passwords.check_rule(change.password)
        password_hash = await res.run_cpu(passwords.hash_password, change.password)
    async with res.tx() as conn:
        await db.lock_accounts(conn)
        current = await db.get_user(conn, user_id)
        if current is None:
            raise UserNotFound()
        stays_admin = (change.role or current.role) == "admin" and not (
            change.disabled if change.disabled is not None else current.disabled
        )
        await _keep_an_admin(conn, current, stays_admin=stays_admin)
        try:
            user = await db.update_user(
                conn,
                user_id,
                name=change.name,
                role=change.role,
                disabled=change.disabled,
                password_hash=password_hash,
            )
        except asyncpg.UniqueViolationError:
            raise UserExists() from None
        assert user is not None
        if change.disabled or change.password is not None:
            await db.end_credentials(conn, user_id, keep_session=keep_session)
        await db.notify_changed(conn, user_id)
    return user


async def delete_user(res: Resources, user_id: uuid.UUID) -> None:
    """Delete a user, their sessions, keys and favourites; their uploads stay, with `uploaded_by` null.

    Raises:
        UserNotFound, LastAdmin.
    """
    async with res.tx() as conn:
        await db.lock_accounts(conn)
        current = await db.get_user(conn, user_id)
        if current is None:
            raise UserNotFound()
        await _keep_an_admin(conn, current, stays_admin=False)
        await db.delete_user(conn, user_id)
        await db.notify_changed(conn, user_id)


async def _keep_an_admin(conn: asyncpg.Connection, user: db.UserRow, *, stays_admin: bool) -> None:
    if stays_admin:
        return
    admins = await db.active_admins(conn)
    if admins == [user.id]:
        raise LastAdmin()


# Sign-in and sessions


async def sign_in(res: Resources, name: str, password: str, *, client: str) -> SignedIn:
    """Check a password and open a session.

    Unknown user, disabled user and wrong password are one answer in about the same time (a dummy hash is checked
    for unknown users). Failures are counted per user name and per client in PostgreSQL, shared by every replica.

    Raises:
        InvalidCredentials: wrong name or password.
        RateLimited: more than LOGIN_FAILURES failures for this name or client in LOGIN_WINDOW seconds.
    """
    keys = [f"login:user:{credential_hash(name.lower()).hex()}", f"login:client:{client}"]
    async with res.db() as conn:
        await _refuse_if_limited(conn, keys)
        row = await db.password_of(conn, name) if _NAME.fullmatch(name) else None
    stored = row.password_hash if row is not None and not row.disabled else None
    verified = await res.run_cpu(passwords.verify_password, stored, password)
    if row is None or not verified.matches:
        async with res.db() as conn:
            for key in keys:
                await ratelimits.count_hit(conn, key, _window_start(time.time()))
        raise InvalidCredentials()
    if verified.rehash:
        new_hash = await res.run_cpu(passwords.hash_password, password)
        async with res.db() as conn:
            await db.set_password_hash(conn, row.id, new_hash)
    return await start_session(res, row.id)


def _window_start(now: float) -> int:
    return int(now // LOGIN_WINDOW * LOGIN_WINDOW)


async def _refuse_if_limited(conn: asyncpg.Connection, keys: list[str]) -> None:
    """A sliding window estimated from two fixed ones: this window's failures plus the share of the previous
    window's that still lies within the last LOGIN_WINDOW seconds."""
    now = time.time()
    start = _window_start(now)
    elapsed = (now - start) / LOGIN_WINDOW
    for key in keys:
        current = await ratelimits.current_count(conn, key, start)
        previous = await ratelimits.current_count(conn, key, start - LOGIN_WINDOW)
        if current + previous * (1 - elapsed) > LOGIN_FAILURES:
            retry_after = max(1, int(start + LOGIN_WINDOW - now))
            raise RateLimited(f"Too many failed sign-ins; try again in {retry_after} s", retry_after=retry_after)


async def start_session(res: Resources, user_id: uuid.UUID) -> SignedIn:
    """A new session for an active user: a fresh random id every time (no fixation)."""
    session_id = secrets.token_urlsafe(32)
    async with res.tx() as conn:
        user = await db.get_user(conn, user_id)
        if user is None or user.disabled:
            raise InvalidCredentials()
        await db.insert_session(conn, credential_hash(session_id), user_id)
        if secrets.randbelow(100) == 0:
            await db.prune_sessions(conn, res.settings.session_ttl)
    return SignedIn(session_id=session_id, user=user)


async def end_session(res: Resources, session_hash: bytes) -> None:
    async with res.tx() as conn:
        user_id = await db.delete_session(conn, session_hash)
        if user_id is not None:
            await db.notify_changed(conn, user_id)


# First-run setup


async def offer_setup(res: Resources) -> str | None:
    """With no admin yet: a fresh one-time setup code (stored hashed) for the log; None once an admin exists."""
    async with res.tx() as conn:
        await db.lock_accounts(conn)
        if await db.active_admins(conn):
            return None
        code = secrets.token_urlsafe(24)
        await db.insert_setup_code(conn, credential_hash(code))
    return code


async def setup_needed(res: Resources) -> bool:
    async with res.db() as conn:
        return not await db.active_admins(conn)


async def complete_setup(res: Resources, code: str, name: str, password: str, *, client: str) -> SignedIn:
    """Create the first admin with a logged setup code and sign them in.

    Raises:
        InvalidSetupCode, SetupDone, InvalidUserName, InvalidPassword, RateLimited (too many wrong codes).
    """
    key = f"setup:client:{client}"
    async with res.db() as conn:
        await _refuse_if_limited(conn, [key])
    try:
        user = await create_user(res, name, "admin", password, setup_code=code[:100])
    except InvalidSetupCode:
        async with res.db() as conn:
            await ratelimits.count_hit(conn, key, _window_start(time.time()))
        raise
    return await start_session(res, user.id)


# API keys


class NewKey(msgspec.Struct, frozen=True):
    key: str
    row: db.KeyRow


async def create_key(res: Resources, user_id: uuid.UUID, name: str, scope: db.Scope) -> NewKey:
    """A new personal key; the key itself is returned this once and only its hash is kept."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    async with res.db() as conn:
        row = await db.insert_key(
            conn, key_id=uuid.uuid4(), user_id=user_id, name=name, scope=scope, key_hash=credential_hash(key)
        )
    return NewKey(key=key, row=row)


async def list_keys(res: Resources, user_id: uuid.UUID) -> list[db.KeyRow]:
    async with res.db() as conn:
        return await db.list_keys(conn, user_id)


async def revoke_key(res: Resources, user_id: uuid.UUID, key_id: uuid.UUID) -> None:
    async with res.tx() as conn:
        if not await db.delete_key(conn, user_id, key_id):
            raise KeyNotFound()
        await db.notify_changed(conn, user_id)
