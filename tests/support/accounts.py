"""Helpers for tests of accounts: users made through the domain, sign-ins and keys through the HTTP API.

The test client keeps a cookie jar; these helpers empty it after each sign-in and pass the session explicitly, so one
client can act as several people in one test.
"""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient

from reactbin.db.accounts import Role, UserRow
from reactbin.domain import accounts
from reactbin.domain.resources import open_resources
from tests.conftest import settings_of

PASSWORD = "correct horse battery staple"


async def make_user(
    client: AsyncTestClient[Any], name: str, role: Role = "member", password: str = PASSWORD
) -> UserRow:
    """Create a user as `reactbin users create` does: from outside the app (whose loop runs in another thread)."""
    async with open_resources(settings_of(client), cpu_threads=1, serving=False) as res:
        return await accounts.create_user(res, name, role, password)


class Session:
    """A signed-in browser: its cookie and CSRF token, sent explicitly."""

    def __init__(self, session_id: str, csrf_token: str) -> None:
        self.session_id = session_id
        self.csrf_token = csrf_token

    def headers(self, *, csrf: bool = True) -> dict[str, str]:
        headers = {"cookie": f"reactbin_session={self.session_id}"}
        if csrf:
            headers["x-csrf-token"] = self.csrf_token
        return headers


async def sign_in(client: AsyncTestClient[Any], name: str, password: str = PASSWORD) -> Session:
    response = await client.post("/api/v1/session", json={"username": name, "password": password})
    assert response.status_code == 200, response.text
    session_id = response.cookies["reactbin_session"]
    client.cookies.clear()
    return Session(session_id, response.json()["csrf_token"])


async def new_key(client: AsyncTestClient[Any], session: Session, scope: str = "full", name: str = "test") -> str:
    response = await client.post("/api/v1/me/keys", json={"name": name, "scope": scope}, headers=session.headers())
    assert response.status_code == 201, response.text
    key: str = response.json()["key"]
    return key


def bearer(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}
