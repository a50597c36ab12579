"""Accounts under attack, table by table: bad names and passwords, guessing, forged and stale credentials, CSRF,
and secrets that must never reach a log line or an error body."""

from __future__ import annotations

import logging
import secrets
import statistics
import time
from typing import Any

import asyncpg
import pytest

from reactbin.domain import accounts, passwords
from reactbin.domain.resources import open_resources
from reactbin.errors import InvalidCredentials, RateLimited
from tests.conftest import AppFactory, fixture_bytes, settings_of
from tests.support.accounts import PASSWORD, Session, bearer, make_user, new_key, sign_in

BAD_NAMES = [
    ("html", "<script>alert(1)</script>"),
    ("sql", "'; DROP TABLE users; --"),
    ("10 KB", "a" * 10_240),
    ("NUL byte", "al\x00ice"),
    ("empty", ""),
    ("33 characters", "a" * 33),
    ("space", "alice smith"),
    ("non-ASCII", "ålice"),
    ("slash", "../etc"),
    ("newline", "alice\n"),
]


@pytest.mark.parametrize(("case", "name"), BAD_NAMES, ids=[case for case, _ in BAD_NAMES])
async def test_bad_user_names_are_refused(
    make_client: AppFactory, db: asyncpg.Connection, case: str, name: str
) -> None:
    async with make_client() as client:
        await make_user(client, "root", "admin")
        admin = await sign_in(client, "root")
        created = await client.post("/api/v1/users", json={"name": name, "password": PASSWORD}, headers=admin.headers())
        signed_in = await client.post("/api/v1/session", json={"username": name, "password": PASSWORD})
    assert created.status_code == 422, case
    assert created.json()["code"] == "invalid_user_name"
    assert signed_in.status_code == 401
    assert await db.fetchval("SELECT count(*) FROM users") == 1


async def test_names_are_unique_ignoring_case(make_client: AppFactory, db: asyncpg.Connection) -> None:
    async with make_client() as client:
        await make_user(client, "root", "admin")
        admin = await sign_in(client, "root")
        first = await client.post(
            "/api/v1/users", json={"name": "alice", "password": PASSWORD}, headers=admin.headers()
        )
        answers = [
            await client.post("/api/v1/users", json={"name": name, "password": PASSWORD}, headers=admin.headers())
            for name in ("Alice", "ALICE", "aLiCe")
        ]
    assert first.status_code == 201
    assert [(a.status_code, a.json()["code"]) for a in answers] == [(409, "user_exists")] * 3
    assert await db.fetchval("SELECT count(*) FROM users") == 2


BAD_PASSWORDS = [
    ("9 characters", "123456789"),
    ("257 characters", "p" * 257),
    ("10 KB", "p" * 10_240),
    ("NUL byte", "password\x00123"),
    ("empty", ""),
]


@pytest.mark.parametrize(("case", "password"), BAD_PASSWORDS, ids=[case for case, _ in BAD_PASSWORDS])
async def test_bad_passwords_are_refused_before_hashing(
    make_client: AppFactory, db: asyncpg.Connection, case: str, password: str
) -> None:
    async with make_client() as client:
        root = await make_user(client, "root", "admin")
        admin = await sign_in(client, "root")
        started = time.perf_counter()
        created = await client.post(
            "/api/v1/users", json={"name": "bob", "password": password}, headers=admin.headers()
        )
        elapsed = time.perf_counter() - started
        reset = await client.patch(f"/api/v1/users/{root.id}", json={"password": password}, headers=admin.headers())
        signed_in = await client.post("/api/v1/session", json={"username": "root", "password": password})
    assert (created.status_code, created.json()["code"]) == (422, "invalid_password"), case
    assert (reset.status_code, reset.json()["code"]) == (422, "invalid_password")
    assert signed_in.status_code == 401
    assert elapsed < 5  # refused, not hashed (a 10 KB argon2 input would still be quick, so this only bounds it)
    assert await db.fetchval("SELECT count(*) FROM users") == 1


async def test_unknown_user_and_wrong_password_look_the_same(make_client: AppFactory) -> None:
    async with make_client() as client:
        await make_user(client, "alice", "member")
        await make_user(client, "carol", "member")
        await sign_in(client, "carol")
        disabled = await make_user(client, "dave", "member")
        async with open_resources(settings_of(client), cpu_threads=1, serving=False) as res:
            await accounts.update_user(res, disabled.id, accounts.UserChange(disabled=True))
        timings: dict[str, list[float]] = {"unknown": [], "wrong": [], "disabled": []}
        bodies: dict[str, set[str]] = {"unknown": set(), "wrong": set(), "disabled": set()}
        for round_ in range(3):  # 9 failures: under the per-client limit of 10
            for case, name in (("unknown", f"nobody{round_}"), ("wrong", "alice"), ("disabled", "dave")):
                started = time.perf_counter()
                response = await client.post("/api/v1/session", json={"username": name, "password": "wrong-password-1"})
                timings[case].append(time.perf_counter() - started)
                assert response.status_code == 401
                bodies[case].add(response.text)
    assert bodies["unknown"] == bodies["wrong"] == bodies["disabled"]
    assert len(bodies["wrong"]) == 1
    unknown, wrong = statistics.median(timings["unknown"]), statistics.median(timings["wrong"])
    # Both check one argon2id hash; without the dummy hash an unknown user answered in well under a tenth.
    assert 0.5 < unknown / wrong < 2, timings


async def test_too_many_failures_are_429_with_retry_after(make_client: AppFactory) -> None:
    async with make_client() as client:
        await make_user(client, "alice", "member")
        answers = [
            await client.post("/api/v1/session", json={"username": "alice", "password": f"wrong-password-{n}"})
            for n in range(11)
        ]
        # The right password too, once the limit is reached: a guesser learns nothing from the 12th try.
        right = await client.post("/api/v1/session", json={"username": "alice", "password": PASSWORD})
    assert [a.status_code for a in answers] == [401] * 11
    assert right.status_code == 429
    assert right.json()["code"] == "rate_limited"
    assert 0 < int(right.headers["retry-after"]) <= 15 * 60


@pytest.mark.parametrize("limit", ["per user name", "per client"])
async def test_failures_are_counted_per_name_and_per_client_across_replicas(
    make_client: AppFactory, limit: str
) -> None:
    async with make_client() as client:
        await make_user(client, "alice", "member")
        await make_user(client, "carol", "member")
        settings = settings_of(client)
    # Two "replicas" (two pools), each taking half of the failures: the count is PostgreSQL's, shared by both.
    async with (
        open_resources(settings, cpu_threads=1, serving=False) as one,
        open_resources(settings, cpu_threads=1, serving=False) as two,
    ):
        for n in range(11):
            replica = one if n % 2 else two
            name, client_address = ("alice", f"10.0.0.{n}") if limit == "per user name" else (f"user{n}", "10.9.9.9")
            with pytest.raises(InvalidCredentials):
                await accounts.sign_in(replica, name, "wrong-password-x", client=client_address)
        name, client_address = ("alice", "10.1.1.1") if limit == "per user name" else ("alice", "10.9.9.9")
        with pytest.raises(RateLimited):
            await accounts.sign_in(one, name, PASSWORD, client=client_address)
        # Another name (from the limited client's neighbour) or another client is not affected.
        other = "carol" if limit == "per user name" else "alice"
        assert (await accounts.sign_in(two, other, PASSWORD, client="10.2.2.2")).user.name == other


async def _image(client: Any, session: Session) -> str:
    files = {"file": ("photo.jpg", fixture_bytes("photo.jpg"), "image/jpeg")}
    response = await client.post("/api/v1/images", files=files, headers=session.headers())
    assert response.status_code == 201, response.text
    image_id: str = response.json()["id"]
    return image_id


async def test_cookie_writes_need_the_csrf_token_and_this_site(make_client: AppFactory) -> None:
    async with make_client(public_url="https://reactbin.example.com") as client:
        await make_user(client, "alice", "member")
        await make_user(client, "bob", "member")
        alice, bob = await sign_in(client, "alice"), await sign_in(client, "bob")
        key = await new_key(client, alice)
        cookie = {"cookie": f"reactbin_session={alice.session_id}"}
        image = await _image(client, alice)
        cases: dict[str, dict[str, str]] = {
            "no token": cookie,
            "wrong token": {**cookie, "x-csrf-token": "x" * 43},
            "another session's token": {**cookie, "x-csrf-token": bob.csrf_token},
            "empty token": {**cookie, "x-csrf-token": ""},
            "foreign origin": {**alice.headers(), "origin": "https://evil.example"},
            "null origin": {**alice.headers(), "origin": "null"},
            "look-alike origin": {**alice.headers(), "origin": "https://reactbin.example.com.evil.example"},
        }
        refused = {
            case: await client.patch(f"/api/v1/images/{image}/tags", json={"tags": ["pwned"]}, headers=headers)
            for case, headers in cases.items()
        }
        upload_refused = await client.post(
            "/api/v1/images", files={"file": ("a.png", fixture_bytes("alpha.png"), "image/png")}, headers=cookie
        )
        tags = (await client.get(f"/api/v1/images/{image}")).json()["tags"]
        same_site = await client.patch(
            f"/api/v1/images/{image}/tags",
            json={"tags": ["fine"]},
            headers={**alice.headers(), "origin": "https://reactbin.example.com"},
        )
        # A bearer key is never sent by a browser by itself: no CSRF token needed, whatever the Origin.
        with_key = await client.patch(
            f"/api/v1/images/{image}/tags",
            json={"tags": ["keyed"]},
            headers={**bearer(key), "origin": "https://evil.example"},
        )
    for case, response in refused.items():
        assert (response.status_code, response.json()["code"]) == (403, "csrf_failed"), case
    assert upload_refused.status_code == 403
    assert tags == []  # nothing changed
    assert same_site.status_code == 200
    assert with_key.status_code == 200


async def test_anonymous_writes_from_another_site_are_refused_on_an_open_library(make_client: AppFactory) -> None:
    async with make_client() as client:
        forged = await client.post(
            "/api/v1/images",
            files={"file": ("a.png", fixture_bytes("alpha.png"), "image/png")},
            headers={"origin": "https://evil.example"},
        )
        listed = (await client.get("/api/v1/images")).json()["items"]
    assert forged.status_code == 403
    assert forged.json()["code"] == "csrf_failed"
    assert listed == []


async def test_forged_stale_reused_and_revoked_credentials(make_client: AppFactory, db: asyncpg.Connection) -> None:
    async with make_client() as client:
        await make_user(client, "root", "admin")
        alice_row = await make_user(client, "alice", "member")
        await make_user(client, "carol", "member")
        admin = await sign_in(client, "root")
        alice = await sign_in(client, "alice")
        image = await _image(client, alice)
        signed_out = await sign_in(client, "alice")
        assert (await client.delete("/api/v1/session", headers=signed_out.headers())).status_code == 204
        expired = await sign_in(client, "alice")
        await db.execute(
            "UPDATE sessions SET last_seen_at = now() - interval '31 days' WHERE id_hash = sha256($1::bytea)",
            expired.session_id.encode(),
        )
        revoked_key = await new_key(client, alice)
        listed = (await client.get("/api/v1/me/keys", headers=alice.headers())).json()["items"]
        await client.delete(f"/api/v1/me/keys/{listed[0]['id']}", headers=alice.headers())
        carol = await sign_in(client, "carol")
        carol_key = await new_key(client, carol)
        carol_id = (await client.get("/api/v1/me", headers=bearer(carol_key))).json()["id"]
        disabled = await client.patch(f"/api/v1/users/{carol_id}", json={"disabled": True}, headers=admin.headers())
        assert disabled.status_code == 200
        forged_session = secrets.token_urlsafe(32)
        cases: dict[str, dict[str, str]] = {
            "forged session": {"cookie": f"reactbin_session={forged_session}", "x-csrf-token": "x"},
            "malformed session": {"cookie": "reactbin_session=%00%00';--", "x-csrf-token": "x"},
            "signed-out session": signed_out.headers(),
            "expired session": expired.headers(),
            "disabled user's session": carol.headers(),
            "forged key": bearer("rb_" + secrets.token_urlsafe(32)),
            "malformed key": bearer("rb_!!'; DROP TABLE api_keys; --"),
            "revoked key": bearer(revoked_key),
            "disabled user's key": bearer(carol_key),
            "session id as a key": bearer(alice.session_id),
            "not bearer": {"authorization": f"Basic {alice.session_id}"},
            "10 KB bearer": bearer("rb_" + "a" * 10_240),
        }
        answers = {
            case: await client.patch(f"/api/v1/images/{image}/tags", json={"tags": ["pwned"]}, headers=headers)
            for case, headers in cases.items()
        }
        tags = (await client.get(f"/api/v1/images/{image}")).json()["tags"]
        still_fine = await client.get("/api/v1/me", headers=alice.headers(csrf=False))
    for case, response in answers.items():
        assert response.status_code == 401, (case, response.text)
        assert response.json()["code"] == "unauthorized", case
        assert response.headers["www-authenticate"].startswith("Bearer"), case
    assert tags == []
    assert still_fine.json()["name"] == "alice"
    assert alice_row.name == "alice"


async def test_no_secret_reaches_a_log_line_or_an_error_body(
    make_client: AppFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret_password = "sup3r-s3cret-passw0rd"
    bodies: list[str] = []
    async with make_client(access_log=True) as client:
        await make_user(client, "root", "admin", password=secret_password)
        ok = await client.post("/api/v1/session", json={"username": "root", "password": secret_password})
        session = Session(ok.cookies["reactbin_session"], ok.json()["csrf_token"])
        client.cookies.clear()
        key = await new_key(client, session)
        answers = [
            await client.post("/api/v1/session", json={"username": "root", "password": secret_password + "x"}),
            await client.post("/api/v1/session", json={"username": secret_password, "password": secret_password}),
            await client.post(
                "/api/v1/users", json={"name": "x y", "password": secret_password}, headers=session.headers()
            ),
            await client.post("/api/v1/users", json={"name": "bob", "password": "short"}, headers=session.headers()),
            await client.patch("/api/v1/images/nope/tags", json={"tags": []}, headers=session.headers(csrf=False)),
            await client.get("/api/v1/me", headers=bearer(key + "x")),
            await client.get("/api/v1/me", headers=bearer(key)),
            await client.post("/api/v1/setup", json={"code": "c", "username": "x", "password": secret_password}),
            await client.delete("/api/v1/session", headers=session.headers()),
        ]
        bodies = [a.text for a in answers]
    secrets_seen = [secret_password, session.session_id, session.csrf_token, key, key[3:]]
    lines = [record.getMessage() for record in caplog.records] + [
        str(record.args) for record in caplog.records if record.args
    ]
    assert any("POST /api/v1/session" in line for line in lines), "the access log was not captured"
    for secret in secrets_seen:
        assert not any(secret in line for line in lines), secret
        assert not any(secret in body for body in bodies if "csrf_token" not in body), secret


async def test_a_hash_made_with_older_parameters_is_redone_at_sign_in(
    make_client: AppFactory, db: asyncpg.Connection
) -> None:
    from argon2 import PasswordHasher, Type

    old = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1, type=Type.ID).hash(PASSWORD)
    async with make_client() as client:
        user = await make_user(client, "alice", "member")
        await db.execute("UPDATE users SET password_hash = $2 WHERE id = $1", user.id, old)
        signed_in = await client.post("/api/v1/session", json={"username": "alice", "password": PASSWORD})
        stored = await db.fetchval("SELECT password_hash FROM users WHERE id = $1", user.id)
    assert signed_in.status_code == 200
    assert stored != old
    assert stored.startswith(f"$argon2id$v=19$m={passwords.MEMORY_KIB},t={passwords.TIME_COST},p=1$")


async def test_cookies_never_authenticate_the_chat_integration_routes(
    database_url: str, db: asyncpg.Connection
) -> None:
    """Chat platforms sign their own requests; a browser's cookie must not turn such a route into a CSRF target."""
    import contextlib
    from collections.abc import AsyncIterator

    from litestar import Litestar, Request, post
    from litestar.middleware import DefineMiddleware
    from litestar.testing import AsyncTestClient

    from reactbin.db.pool import create_pool
    from reactbin.domain.principals import Authenticator
    from reactbin.routes.access import AccessControl, access, principal_of
    from reactbin.routes.errors import EXCEPTION_HANDLERS
    from reactbin.settings import Settings

    settings = Settings(database_url=database_url)
    holder: dict[str, Authenticator] = {}

    @contextlib.asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        pool = await create_pool(settings)
        holder["auth"] = Authenticator(pool, settings)
        try:
            yield
        finally:
            await pool.close()

    @post("/api/v1/integrations/chat", opt=access("use"), status_code=200)
    async def chat(request: Request[Any, Any, Any]) -> dict[str, str | None]:
        return {"auth": principal_of(request).auth}

    @post("/api/v1/elsewhere", opt=access("use"), status_code=200)
    async def elsewhere(request: Request[Any, Any, Any]) -> dict[str, str | None]:
        return {"auth": principal_of(request).auth}

    app = Litestar(
        route_handlers=[chat, elsewhere],
        lifespan=[lifespan],
        middleware=[
            DefineMiddleware(AccessControl, authenticator=lambda: holder.get("auth"), public_read=True, public_url=None)
        ],
        exception_handlers=EXCEPTION_HANDLERS,
    )
    async with open_resources(settings, cpu_threads=1, serving=False) as res:
        user = await accounts.create_user(res, "alice", "member", PASSWORD)
        session_id = (await accounts.start_session(res, user.id)).session_id
    from reactbin.domain.principals import csrf_token_of

    headers = {"cookie": f"reactbin_session={session_id}", "x-csrf-token": csrf_token_of(session_id)}
    async with AsyncTestClient(app) as client:
        integration = await client.post("/api/v1/integrations/chat", headers=headers)
        other = await client.post("/api/v1/elsewhere", headers=headers)
    assert integration.status_code == 401  # the cookie was ignored: anonymous on a library with users
    assert other.json() == {"auth": "session"}
