"""Who is asking: a request's credentials (session cookie, API key, `API_TOKENS` token) resolved to a principal.

Resolution happens once per request. Reads must not pay for it (DESIGN: within 10% of an open library), so each
process keeps what it looked up for a short while, and forgets it the moment any replica changes accounts:
every change that can end a credential notifies `ACCOUNTS_CHANNEL` in its transaction (see db/accounts.py), and
every process listens on one connection, like the content index. While that connection is down nothing is cached,
so a missed notification can never keep a disabled user signed in.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import logging
import re
import time
import uuid
from collections import OrderedDict
from contextlib import AbstractAsyncContextManager
from typing import Literal

import asyncpg
import msgspec

from reactbin.db import accounts as db
from reactbin.db.listener import subscribed
from reactbin.db.pool import acquire
from reactbin.errors import Forbidden, Unauthorized
from reactbin.settings import Settings

log = logging.getLogger(__name__)

Auth = Literal["session", "key", "token", "open", "anonymous"]
SESSION_COOKIE = "reactbin_session"
KEY_PREFIX = "rb_"
_CREDENTIAL = re.compile(r"^[A-Za-z0-9_-]{20,100}$")
_CACHE_SECONDS = 30.0
"""How long a looked-up credential is trusted without asking again (changes evict it sooner, see above)."""
_TOUCH_SECONDS = 60.0
"""`last_seen_at` of sessions and `last_used_at` of keys are written at most this often per credential."""
_LISTENER_NAME = "reactbin-accounts"


class Principal(msgspec.Struct, frozen=True, kw_only=True):
    """The requester. `role` None: anonymous on a library that has users (or tokens)."""

    auth: Auth
    role: db.Role | None
    user_id: uuid.UUID | None = None
    name: str | None = None
    scope: db.Scope = "full"
    csrf_token: str | None = None
    session_hash: bytes | None = None

    @property
    def is_user(self) -> bool:
        return self.user_id is not None


class SignedInUser(msgspec.Struct, frozen=True):
    """A principal that is a real user (session or key), for what belongs to a person: keys, favourites."""

    id: uuid.UUID
    name: str

    @classmethod
    def of(cls, principal: Principal) -> SignedInUser:
        """Raises:
        Forbidden: the principal is no user (an `API_TOKENS` token, or the open library).
        """
        if principal.user_id is None or principal.name is None:
            raise Forbidden("This needs a signed-in user: favourites and keys belong to a person")
        return cls(principal.user_id, principal.name)


ANONYMOUS = Principal(auth="anonymous", role=None)
OPEN = Principal(auth="open", role="admin")
"""Anyone, on a library with no user and no `API_TOKENS`: everything is allowed, as before accounts existed."""
TOKEN = Principal(auth="token", role="admin")


def credential_hash(secret: str) -> bytes:
    """What is stored for a session id, key or setup code: their SHA-256 (256 random bits need no slow hash)."""
    return hashlib.sha256(secret.encode()).digest()


def csrf_token_of(session_id: str) -> str:
    """The session's CSRF token, derived from the session id (nothing to store; unguessable without the cookie)."""
    digest = hmac.new(session_id.encode(), b"reactbin-csrf", hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class _Entry(msgspec.Struct):
    credential: db.Credential | None
    fetched: float


class Authenticator:
    """Resolves credentials, with a per-process cache that is only trusted while invalidations can arrive."""

    def __init__(self, pool: asyncpg.Pool, settings: Settings, capacity: int = 10_000) -> None:
        self._pool = pool
        self._settings = settings
        self._tokens = [token.encode() for token in settings.api_tokens]
        self._capacity = capacity
        self._entries: OrderedDict[bytes, _Entry] = OrderedDict()
        self._users_exist: bool | None = None
        self._live = False
        self._generation = 0

    # The cache

    def forget(self) -> None:
        """Drop everything cached. Other replicas do so when the change's notification arrives; the replica that made
        the change calls this as well, so its very next request already sees it."""
        self._generation += 1
        self._entries.clear()
        self._users_exist = None

    def set_live(self, live: bool) -> None:
        self.forget()
        self._live = live

    def on_notify(self, *_: object) -> None:
        self.forget()

    @property
    def live(self) -> bool:
        return self._live

    # Resolution

    async def library_open(self) -> bool:
        """Whether anyone may do anything: no user exists and no `API_TOKENS` are set."""
        if self._tokens:
            return False
        return not await self.users_exist()

    async def users_exist(self) -> bool:
        if self._live and self._users_exist is not None:
            return self._users_exist
        generation = self._generation
        async with acquire(self._pool, self._settings.db_connect_timeout) as conn:
            exists = await db.any_user(conn)
        if self._live and generation == self._generation:
            self._users_exist = exists
        return exists

    async def resolve(self, *, cookie: str | None, authorization: bytes | None) -> Principal:
        """The principal of a request.

        A bearer credential that names nobody is refused (a client must learn its key was revoked); a session cookie
        that names nobody (expired, signed out) leaves the request anonymous, since browsers keep stale cookies.

        Raises:
            Unauthorized: a bearer token or key that is not valid, on a library that has users or tokens.
            DatabaseUnavailable: the credentials could not be checked.
        """
        if authorization:
            return await self._bearer(authorization)
        if cookie and _CREDENTIAL.match(cookie):
            credential = await self._lookup(cookie, session=True)
            if credential is not None:
                return Principal(
                    auth="session",
                    role=credential.role,
                    user_id=credential.user_id,
                    name=credential.name,
                    csrf_token=csrf_token_of(cookie),
                    session_hash=credential_hash(cookie),
                )
        return OPEN if await self.library_open() else ANONYMOUS

    def _expired(self, credential: db.Credential | None) -> bool:
        """A cached session past its idle time (sessions only; keys do not expire)."""
        if credential is None or credential.key_id is not None or credential.used_at is None:
            return False
        return time.time() - credential.used_at.timestamp() > self._settings.session_ttl

    def _stale(self, credential: db.Credential) -> bool:
        """Whether its last use should be written now: at most once a minute, and often enough for short TTLs."""
        if credential.used_at is None:
            return True
        interval = min(_TOUCH_SECONDS, self._settings.session_ttl / 4)
        return time.time() - credential.used_at.timestamp() > interval

    async def _bearer(self, authorization: bytes) -> Principal:
        presented = authorization[7:].strip() if authorization[:7].lower() == b"bearer " else b""
        # Compare against every token, always: the time taken says nothing about which one nearly matched.
        matches = [hmac.compare_digest(presented, token) for token in self._tokens]
        if presented and any(matches):
            return TOKEN
        text = presented.decode("latin-1")
        if text.startswith(KEY_PREFIX) and _CREDENTIAL.match(text[len(KEY_PREFIX) :]):
            credential = await self._lookup(text, session=False)
            if credential is not None:
                return Principal(
                    auth="key",
                    role=credential.role,
                    user_id=credential.user_id,
                    name=credential.name,
                    scope=credential.scope,
                )
        if await self.library_open():
            return OPEN  # as before accounts: an open library ignores whatever Authorization a client sends
        raise Unauthorized("The API key or token is not valid (revoked, mistyped, or its user is disabled)")

    async def _lookup(self, secret: str, *, session: bool) -> db.Credential | None:
        digest = credential_hash(secret)
        now = time.monotonic()
        if self._live:
            entry = self._entries.get(digest)
            if entry is not None and now - entry.fetched < _CACHE_SECONDS and not self._expired(entry.credential):
                self._entries.move_to_end(digest)
                return entry.credential
        generation = self._generation
        async with acquire(self._pool, self._settings.db_connect_timeout) as conn:
            if session:
                credential = await db.session_credential(conn, digest, self._settings.session_ttl)
            else:
                credential = await db.key_credential(conn, digest)
            if credential is not None and self._stale(credential):
                if session:
                    await db.touch_session(conn, digest)
                elif credential.key_id is not None:
                    await db.touch_key(conn, credential.key_id)
                credential = msgspec.structs.replace(credential, used_at=dt.datetime.now(dt.UTC))
        if self._live and generation == self._generation and self._settings.auth_cache:
            self._entries[digest] = _Entry(credential, now)
            if len(self._entries) > self._capacity:
                self._entries.popitem(last=False)
        return credential


def listening(authenticator: Authenticator, dsn: str, connect_timeout: float) -> AbstractAsyncContextManager[None]:
    """Keep `authenticator`'s cache subscribed to account changes for the block, reconnecting after outages."""
    return subscribed(authenticator, dsn, db.ACCOUNTS_CHANNEL, name=_LISTENER_NAME, connect_timeout=connect_timeout)
