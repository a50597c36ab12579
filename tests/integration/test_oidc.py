"""OpenID Connect sign-in against a real provider (oidc-provider under Node), the browser's part played by httpx.

Chromium signs in through the same provider in tests/e2e/test_ui_accounts.py; here the protocol's failure modes are
driven one by one: a callback from another browser, a replayed callback, a tampered nonce or PKCE verifier, a
provider that is down.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import asyncpg
import httpx
import pytest

from reactbin.settings import OidcSettings
from tests.conftest import AppFactory
from tests.support.accounts import make_user
from tests.support.live import free_port
from tests.support.oidc import ADMIN_GROUP, OidcProvider, running_provider

ORIGIN = "http://testserver.local"
CALLBACK = f"{ORIGIN}/auth/oidc/callback"


@pytest.fixture(scope="module")
def provider() -> Iterator[OidcProvider]:
    with running_provider(CALLBACK) as running:
        yield running


def oidc_settings(provider: OidcProvider, **overrides: Any) -> dict[str, Any]:
    return {
        "public_url": ORIGIN,
        "oidc": OidcSettings(
            issuer=provider.issuer,
            client_id=provider.client_id,
            client_secret=provider.client_secret,
            admin_group=ADMIN_GROUP,
            name="Test ID",
            **overrides,
        ),
    }


async def provider_login(location: str, login: str) -> str:
    """Play the browser at the provider: follow its redirects, fill its login form; the callback URL it sends back."""
    async with httpx.AsyncClient(timeout=10) as browser:
        url = location
        for _ in range(10):
            response = await browser.get(url)
            if response.status_code in (302, 303):
                url = urljoin(url, response.headers["location"])
                if url.startswith(CALLBACK):
                    return url
                continue
            form = re.search(r'<form[^>]*action="([^"]+)"', response.text)
            assert form is not None, response.text
            posted = await browser.post(urljoin(url, form[1]), data={"login": login, "password": "anything"})
            assert posted.status_code in (302, 303), posted.text
            url = urljoin(url, posted.headers["location"])
            if url.startswith(CALLBACK):
                return url
    raise AssertionError("the provider never sent the browser back")


async def start(client: Any) -> str:
    started = await client.get("/auth/oidc/login", follow_redirects=False)
    assert started.status_code == 302, started.text
    location: str = started.headers["location"]
    query = parse_qs(urlsplit(location).query)
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) == 43
    assert query["state"]
    assert query["nonce"]
    return location


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


async def test_sign_in_matches_users_by_issuer_and_subject(
    make_client: AppFactory, provider: OidcProvider, db: asyncpg.Connection
) -> None:
    async with make_client(**oidc_settings(provider)) as client:
        await make_user(client, "alice", "admin")  # a password user who happens to have the same name
        options = (await client.get("/api/v1/sign-in")).json()
        callback = await provider_login(await start(client), "alice")
        done = await client.get(path_of(callback), follow_redirects=False)
        session = done.cookies.get("reactbin_session")
        client.cookies.clear()
        me = (await client.get("/api/v1/me", headers={"cookie": f"reactbin_session={session}"})).json()
        # The same person again: the same user, not a new one.
        again = await client.get(path_of(await provider_login(await start(client), "alice")), follow_redirects=False)
        client.cookies.clear()
        admin_callback = await provider_login(await start(client), "admin-bob")
        admin = await client.get(path_of(admin_callback), follow_redirects=False)
        admin_me = (
            await client.get("/api/v1/me", headers={"cookie": f"reactbin_session={admin.cookies['reactbin_session']}"})
        ).json()
        users = await db.fetch(
            "SELECT u.name, u.role, i.subject FROM users u LEFT JOIN user_identities i ON i.user_id = u.id"
            " ORDER BY u.name"
        )
    assert options["oidc"] == {"name": "Test ID", "login_url": "/auth/oidc/login"}
    assert done.status_code == 302
    assert done.headers["location"] == "/"
    assert me["name"] == "alice-2"  # never matched to the password user `alice` by name or e-mail
    assert me["role"] == "member"  # OIDC_DEFAULT_ROLE
    assert me["auth"] == "session"
    assert again.status_code == 302
    assert admin.status_code == 302
    assert admin_me["role"] == "admin"  # in OIDC_ADMIN_GROUP
    assert [(r["name"], r["role"], r["subject"]) for r in users] == [
        ("admin-bob", "admin", "admin-bob"),
        ("alice", "admin", None),
        ("alice-2", "member", "alice"),
    ]


async def test_a_callback_from_another_browser_or_twice_is_refused(
    make_client: AppFactory, provider: OidcProvider
) -> None:
    async with make_client(**oidc_settings(provider)) as client:
        callback = await provider_login(await start(client), "carol")
        state_cookie = client.cookies.get("reactbin_oidc_state")
        client.cookies.clear()
        # Another browser (no state cookie) opening the same callback URL.
        elsewhere = await client.get(path_of(callback), follow_redirects=False)
        client.cookies.set("reactbin_oidc_state", "someone-elses-state-value-0123456789", path="/auth/oidc")
        wrong_state = await client.get(path_of(callback), follow_redirects=False)
        client.cookies.clear()
        client.cookies.set("reactbin_oidc_state", state_cookie or "", path="/auth/oidc")
        first = await client.get(path_of(callback), follow_redirects=False)
        client.cookies.set("reactbin_oidc_state", state_cookie or "", path="/auth/oidc")
        replayed = await client.get(path_of(callback), follow_redirects=False)
        provider_error = await client.get("/auth/oidc/callback?error=access_denied&state=x", follow_redirects=False)
    for response in (elsewhere, wrong_state, replayed, provider_error):
        assert response.status_code == 400, response.text
        assert response.headers["content-type"].startswith("text/html")
        assert "Sign-in failed" in response.text
        assert "reactbin_session" not in response.cookies
    assert first.status_code == 302
    assert "reactbin_session" in first.cookies


@pytest.mark.parametrize("tampered", ["nonce", "code_verifier"])
async def test_a_tampered_nonce_or_verifier_is_refused(
    make_client: AppFactory, provider: OidcProvider, db: asyncpg.Connection, tampered: str
) -> None:
    async with make_client(**oidc_settings(provider)) as client:
        location = await start(client)
        # What an attacker who swapped the stored values (or replayed another sign-in's token) would meet.
        replacement = "A" * 64
        column = {"nonce": "nonce", "code_verifier": "code_verifier"}[tampered]
        await db.execute(f"UPDATE oidc_logins SET {column} = $1", replacement)  # noqa: S608 - a fixed column name
        callback = await provider_login(location, "mallory")
        answer = await client.get(path_of(callback), follow_redirects=False)
        users = await db.fetchval("SELECT count(*) FROM users")
    assert answer.status_code == 400
    assert "Sign-in failed" in answer.text
    assert "reactbin_session" not in answer.cookies
    assert users == 0


async def test_a_provider_that_is_down_is_a_clear_page(make_client: AppFactory) -> None:
    down = OidcProvider(f"http://127.0.0.1:{free_port()}", "reactbin", "secret")
    async with make_client(**oidc_settings(down)) as client:
        login = await client.get("/auth/oidc/login", follow_redirects=False)
        options = await client.get("/api/v1/sign-in")
    assert login.status_code == 502
    assert login.headers["content-type"].startswith("text/html")
    assert "could not be reached" in login.text
    assert options.status_code == 200


async def test_without_oidc_the_routes_say_so(make_client: AppFactory) -> None:
    async with make_client() as client:
        login = await client.get("/auth/oidc/login", follow_redirects=False)
        options = (await client.get("/api/v1/sign-in")).json()
    assert login.status_code == 404
    assert options["oidc"] is None


async def test_a_disabled_user_cannot_sign_in_through_the_provider(
    make_client: AppFactory, provider: OidcProvider, db: asyncpg.Connection
) -> None:
    async with make_client(**oidc_settings(provider)) as client:
        first = await client.get(path_of(await provider_login(await start(client), "dora")), follow_redirects=False)
        await db.execute("UPDATE users SET disabled = true WHERE name = 'dora'")
        client.cookies.clear()
        again = await client.get(path_of(await provider_login(await start(client), "dora")), follow_redirects=False)
    assert first.status_code == 302
    assert again.status_code == 400
    assert "disabled" in again.text
    assert "reactbin_session" not in again.cookies
