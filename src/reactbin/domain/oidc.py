"""Sign-in through an OpenID Connect provider: authorization code flow with PKCE (S256), state and nonce.

The protocol and the JOSE work are authlib's (and joserfc's, which authlib builds on): the authorization URL with
the S256 code challenge, the code exchange, the ID token's signature checked against the provider's JWKS and its
claims (`iss`, `aud`, `exp`, `iat`, `nonce`, `azp`, `at_hash`). What is ours: where the flow's secrets live
between the two requests (PostgreSQL, so any replica may receive the callback), how a provider's user becomes a
reactbin user (by `(issuer, sub)`, never by e-mail), and that an unreachable provider is a clear error, never a 500.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

import httpx2
import msgspec
from authlib.common.security import generate_token
from authlib.integrations.base_client import OAuthError
from authlib.integrations.httpx_client import AsyncOAuth2Client
from authlib.oauth2.rfc6749.errors import OAuth2Error
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

from reactbin.db import accounts as db
from reactbin.domain import accounts
from reactbin.domain.principals import credential_hash
from reactbin.domain.resources import Resources
from reactbin.errors import InvalidCredentials, OidcFailed, OidcUnavailable
from reactbin.settings import OidcSettings

log = logging.getLogger(__name__)

LOGIN_MAX_AGE = 600.0
"""Seconds a sign-in may take between leaving for the provider and coming back."""
_METADATA_SECONDS = 3600.0
_LEEWAY = 60


class Started(msgspec.Struct, frozen=True):
    url: str
    state: str
    """Also set as a cookie: the callback must come back to the browser that started it."""


class _Provider(msgspec.Struct, frozen=True):
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    algorithms: list[str]
    userinfo_endpoint: str | None = None


class OidcClient:
    """One configured provider. Its discovery document and keys are cached in the process: they are the provider's
    public configuration, the same for every replica, and refetched when a token names a key we do not have."""

    def __init__(self, settings: OidcSettings) -> None:
        self._settings = settings
        self._provider: _Provider | None = None
        self._fetched = 0.0
        self._keys: KeySet | None = None

    def _http(self) -> httpx2.AsyncClient:
        return httpx2.AsyncClient(timeout=self._settings.timeout, follow_redirects=False)

    async def _get_json(self, url: str) -> Any:
        try:
            async with self._http() as http:
                response = await http.get(url, headers={"accept": "application/json"})
            response.raise_for_status()
            return response.json()
        except (httpx2.HTTPError, ValueError) as exc:
            log.warning("OpenID provider unavailable: %s from %s", type(exc).__name__, url)
            raise OidcUnavailable() from exc

    async def provider(self) -> _Provider:
        if self._provider is not None and time.monotonic() - self._fetched < _METADATA_SECONDS:
            return self._provider
        issuer = self._settings.issuer
        metadata = await self._get_json(issuer.rstrip("/") + "/.well-known/openid-configuration")
        try:
            provider = _Provider(
                issuer=metadata["issuer"],
                authorization_endpoint=metadata["authorization_endpoint"],
                token_endpoint=metadata["token_endpoint"],
                jwks_uri=metadata["jwks_uri"],
                algorithms=list(metadata.get("id_token_signing_alg_values_supported") or ["RS256"]),
                userinfo_endpoint=metadata.get("userinfo_endpoint"),
            )
        except (KeyError, TypeError):
            log.warning("OpenID provider's discovery document lacks required fields")
            raise OidcUnavailable() from None
        if provider.issuer.rstrip("/") != issuer.rstrip("/"):
            # OpenID Connect Discovery 4.3: the document must be the configured issuer's own.
            log.warning("OpenID provider's discovery document names another issuer")
            raise OidcUnavailable()
        # Never accept unsigned tokens, whatever a provider lists.
        provider = msgspec.structs.replace(provider, algorithms=[a for a in provider.algorithms if a != "none"])
        self._provider, self._fetched = provider, time.monotonic()
        return provider

    async def _key_set(self, provider: _Provider, *, refresh: bool) -> KeySet:
        if self._keys is None or refresh:
            try:
                self._keys = KeySet.import_key_set(await self._get_json(provider.jwks_uri))
            except (JoseError, ValueError, TypeError, KeyError) as exc:
                raise OidcUnavailable() from exc
        return self._keys

    def _client(self, redirect_uri: str) -> AsyncOAuth2Client:
        scope = "openid profile email" + (" groups" if self._settings.admin_group else "")
        return AsyncOAuth2Client(
            client_id=self._settings.client_id,
            client_secret=self._settings.client_secret,
            scope=scope,
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            token_endpoint_auth_method="client_secret_basic" if self._settings.client_secret else "none",
            timeout=self._settings.timeout,
        )

    async def start(self, res: Resources, redirect_uri: str) -> Started:
        """Remember a new sign-in (state, nonce, PKCE verifier) and give the provider's URL to send the browser to."""
        provider = await self.provider()
        state, nonce, verifier = generate_token(32), generate_token(32), generate_token(64)
        async with res.db() as conn:
            await db.insert_oidc_login(conn, credential_hash(state), nonce, verifier)
        async with self._client(redirect_uri) as client:
            url, _ = client.create_authorization_url(
                provider.authorization_endpoint, state=state, code_verifier=verifier, nonce=nonce
            )
        return Started(url=url, state=state)

    async def finish(
        self,
        res: Resources,
        redirect_uri: str,
        *,
        state: str,
        browser_state: str | None,
        code: str,
        issuer: str | None = None,
    ) -> accounts.SignedIn:
        """Check the callback's state against the browser's, exchange the code, verify the ID token, sign in.

        Raises:
            OidcFailed: state missing, mismatched, used or stale; the code or token refused; a disabled user.
            OidcUnavailable: the provider could not be reached.
        """
        if not state or not browser_state or state != browser_state or len(state) > 200 or len(code) > 4096:
            raise OidcFailed("The sign-in did not start in this browser, or took too long: start again")
        async with res.db() as conn:
            started = await db.take_oidc_login(conn, credential_hash(state), LOGIN_MAX_AGE)
        if started is None:
            raise OidcFailed("The sign-in was already used or took too long: start again")
        nonce, verifier = started
        provider = await self.provider()
        if issuer is not None and issuer != provider.issuer:
            # RFC 9207: a response naming another issuer comes from a provider we did not send the browser to.
            raise OidcFailed("The answer came from another provider")
        try:
            async with self._client(redirect_uri) as client:
                token = await client.fetch_token(
                    provider.token_endpoint, code=code, code_verifier=verifier, redirect_uri=redirect_uri
                )
        except httpx2.HTTPError as exc:
            log.warning("OpenID provider unavailable during the code exchange: %s", type(exc).__name__)
            raise OidcUnavailable() from exc
        except (OAuth2Error, OAuthError) as exc:
            log.info("OpenID provider refused the code: %s", exc.error)
            raise OidcFailed() from exc
        claims = await self._verified_claims(provider, token, nonce)
        claims = await self._with_userinfo(provider, token, claims)
        return await self._sign_in(res, provider.issuer, claims)

    async def _with_userinfo(
        self, provider: _Provider, token: dict[str, Any], claims: dict[str, Any]
    ) -> dict[str, Any]:
        """Many providers put the name and `groups` only in the UserInfo answer, not in the ID token; it may add
        claims but never change who signed in (its `sub` must be the ID token's, OpenID Connect Core 5.3.2)."""
        access_token = token.get("access_token")
        if provider.userinfo_endpoint is None or not isinstance(access_token, str):
            return claims
        try:
            async with self._http() as http:
                response = await http.get(
                    provider.userinfo_endpoint,
                    headers={"authorization": f"Bearer {access_token}", "accept": "application/json"},
                )
            response.raise_for_status()
            info = response.json()
        except (httpx2.HTTPError, ValueError) as exc:
            log.warning("OpenID provider's UserInfo unavailable: %s", type(exc).__name__)
            raise OidcUnavailable() from exc
        if not isinstance(info, dict) or info.get("sub") != claims["sub"]:
            raise OidcFailed("The provider's UserInfo is about someone else")
        return {**info, **claims}

    async def _verified_claims(self, provider: _Provider, token: dict[str, Any], nonce: str) -> dict[str, Any]:
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise OidcFailed("The provider sent no ID token")
        registry = JWSRegistry(algorithms=provider.algorithms)
        try:
            try:
                decoded = jwt.decode(id_token, await self._key_set(provider, refresh=False), registry=registry)
            except JoseError:
                # A key rotated since we fetched the set: fetch once more before refusing.
                decoded = jwt.decode(id_token, await self._key_set(provider, refresh=True), registry=registry)
            claims = CodeIDToken(
                decoded.claims,
                decoded.header,
                {
                    "iss": {"essential": True, "values": [provider.issuer]},
                    "aud": {"essential": True, "values": [self._settings.client_id]},
                    "exp": {"essential": True},
                    "sub": {"essential": True},
                },
                {"nonce": nonce, "client_id": self._settings.client_id, "access_token": token.get("access_token")},
            )
            claims.validate(now=int(time.time()), leeway=_LEEWAY)
        except (JoseError, ValueError, TypeError) as exc:
            log.info("ID token refused: %s", type(exc).__name__)
            raise OidcFailed("The provider's ID token did not verify") from exc
        return dict(claims)

    async def _sign_in(self, res: Resources, issuer: str, claims: dict[str, Any]) -> accounts.SignedIn:
        subject = str(claims["sub"])
        groups = claims.get("groups")
        in_admin_group = (
            self._settings.admin_group is not None and isinstance(groups, list) and self._settings.admin_group in groups
        )
        async with res.tx() as conn:
            await db.lock_accounts(conn)
            user = await db.user_of_identity(conn, issuer, subject)
            if user is None:
                role: db.Role = "admin" if in_admin_group else self._settings.default_role
                user = await _new_user(conn, _name_from(claims), role)
                await db.insert_identity(conn, issuer, subject, user.id)
                if role == "admin":
                    await db.delete_setup_codes(conn)
                await db.notify_changed(conn, user.id)
            elif in_admin_group and user.role != "admin":
                # The provider's group is the source of admin rights: joining it promotes. Leaving it does not demote
                # here, so a provider's mistake can never remove the last admin; admins change roles in reactbin.
                await db.update_user(conn, user.id, role="admin")
                await db.notify_changed(conn, user.id)
            if user.disabled:
                raise OidcFailed("This account is disabled")
        try:
            return await accounts.start_session(res, user.id)
        except InvalidCredentials:
            raise OidcFailed("This account is disabled") from None


_NAME_CHARS = re.compile(r"[^A-Za-z0-9_.-]+")


def _name_from(claims: dict[str, Any]) -> str:
    """A reactbin name from the provider's preferred name (its characters that are allowed, at most 32)."""
    for claim in ("preferred_username", "nickname", "name", "email"):
        value = claims.get(claim)
        if isinstance(value, str):
            if claim == "email":
                value = value.split("@", 1)[0]
            cleaned = _NAME_CHARS.sub("-", value).strip("-.")[:32]
            if cleaned:
                return cleaned
    return "user"


async def _new_user(conn: Any, name: str, role: db.Role) -> db.UserRow:
    """Create the user under `name`, or `name-2`, `name-3`... when it is taken."""
    for attempt in range(1, 100):
        suffix = "" if attempt == 1 else f"-{attempt}"
        candidate = name[: 32 - len(suffix)] + suffix
        user = await db.insert_user(conn, user_id=uuid.uuid4(), name=candidate, role=role, password_hash=None)
        if user is not None:
            return user
    return await _new_user(conn, f"user-{uuid.uuid4().hex[:8]}", role)
