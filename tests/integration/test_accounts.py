"""Accounts end to end over HTTP: the open library, first-run setup, sessions, roles, keys, users, favourites."""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

import asyncpg
import pytest

from reactbin.settings import Settings
from tests.conftest import AppFactory, fixture_bytes, upload
from tests.support.accounts import PASSWORD, Session, bearer, make_user, new_key, sign_in

TOKEN = "t0k3n-for-tests-0123456789"


def _file(name: str = "photo.jpg") -> dict[str, Any]:
    return {"file": (name, fixture_bytes(name), "application/octet-stream")}


async def test_a_library_without_users_stays_open(make_client: AppFactory) -> None:
    async with make_client() as client:
        created = await upload(client, "photo.jpg")
        me = await client.get("/api/v1/me")
        options = await client.get("/api/v1/sign-in")
        deleted = await client.delete(f"/api/v1/images/{created.json()['id']}")
    assert created.status_code == 201
    assert created.json()["uploaded_by"] is None
    assert created.json()["favourite"] is False
    assert me.json() == {
        "id": None, "name": None, "role": "admin", "auth": "open", "csrf_token": None, "scope": "full"
    }  # fmt: skip
    assert options.json() == {"setup_needed": True, "oidc": None, "public_read": True}
    assert deleted.status_code == 204


async def test_setup_needs_the_logged_code(make_client: AppFactory, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="reactbin.app")
    async with make_client() as client:
        code = re.search(r"/setup\?code=([A-Za-z0-9_-]+)", caplog.text)
        assert code is not None, caplog.text
        body = {"username": "root", "password": PASSWORD}
        wrong = await client.post("/api/v1/setup", json={**body, "code": "not-the-code"})
        done = await client.post("/api/v1/setup", json={**body, "code": code[1]})
        client.cookies.clear()
        again = await client.post("/api/v1/setup", json={**body, "username": "other", "code": code[1]})
        options = (await client.get("/api/v1/sign-in")).json()
        anonymous_upload = await upload(client, "photo.jpg")
    assert wrong.status_code == 403
    assert wrong.json()["code"] == "invalid_setup_code"
    assert done.status_code == 200
    assert done.json()["user"]["role"] == "admin"
    assert "reactbin_session" in done.cookies
    assert again.status_code == 409
    assert again.json()["code"] == "setup_done"
    assert options["setup_needed"] is False
    # The first user closed the library.
    assert anonymous_upload.status_code == 401


async def test_session_cookie_and_sign_out(make_client: AppFactory) -> None:
    async with make_client(public_url="https://reactbin.example.com") as client:
        await make_user(client, "alice", "member")
        first = await client.post("/api/v1/session", json={"username": "ALICE", "password": PASSWORD})
        client.cookies.clear()
        second = await sign_in(client, "alice")
        cookie = first.headers["set-cookie"]
        session = Session(first.cookies["reactbin_session"], first.json()["csrf_token"])
        me = await client.get("/api/v1/me", headers=session.headers(csrf=False))
        out = await client.delete(
            "/api/v1/session", headers={**session.headers(), "origin": "https://reactbin.example.com"}
        )
        after = await client.get("/api/v1/me", headers=session.headers(csrf=False))
        still = await client.get("/api/v1/me", headers=second.headers(csrf=False))
    assert first.status_code == 200
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie or "SameSite=Lax" in cookie
    assert "Secure" in cookie
    assert "Path=/" in cookie
    assert len(session.session_id) >= 43  # 256 random bits, base64
    assert session.session_id != second.session_id  # a new id at every sign-in
    assert me.json()["name"] == "alice"
    assert me.json()["auth"] == "session"
    assert me.json()["csrf_token"] == session.csrf_token
    assert out.status_code == 204
    assert after.status_code == 401
    assert still.status_code == 200


async def test_cookie_is_not_secure_on_plain_http(make_client: AppFactory) -> None:
    async with make_client() as client:
        await make_user(client, "alice")
        response = await client.post("/api/v1/session", json={"username": "alice", "password": PASSWORD})
    assert "Secure" not in response.headers["set-cookie"]


ROLES = ["admin", "member", "viewer", "anonymous"]

# What each role may do; every write of the API is here (its expected status per role).
WRITE_TABLE: list[tuple[str, dict[str, int]]] = [
    ("upload", {"admin": 201, "member": 201, "viewer": 403, "anonymous": 401}),
    ("retag", {"admin": 200, "member": 200, "viewer": 403, "anonymous": 401}),
    ("caption", {"admin": 200, "member": 200, "viewer": 403, "anonymous": 401}),
    ("use", {"admin": 200, "member": 200, "viewer": 200, "anonymous": 401}),
    ("favourite", {"admin": 204, "member": 204, "viewer": 204, "anonymous": 401}),
    ("unfavourite", {"admin": 204, "member": 204, "viewer": 204, "anonymous": 401}),
    ("thumbnail job", {"admin": 202, "member": 202, "viewer": 403, "anonymous": 401}),
    ("alias", {"admin": 201, "member": 403, "viewer": 403, "anonymous": 401}),
    ("implication", {"admin": 201, "member": 403, "viewer": 403, "anonymous": 401}),
    ("delete alias", {"admin": 204, "member": 403, "viewer": 403, "anonymous": 401}),
    ("delete implication", {"admin": 204, "member": 403, "viewer": 403, "anonymous": 401}),
    ("create user", {"admin": 201, "member": 403, "viewer": 403, "anonymous": 401}),
    ("change user", {"admin": 200, "member": 403, "viewer": 403, "anonymous": 401}),
    ("delete user", {"admin": 204, "member": 403, "viewer": 403, "anonymous": 401}),
    ("list users", {"admin": 200, "member": 403, "viewer": 403, "anonymous": 401}),
    ("create key", {"admin": 201, "member": 201, "viewer": 201, "anonymous": 401}),
    ("delete other's image", {"admin": 204, "member": 403, "viewer": 403, "anonymous": 401}),
]


async def _attempt(client: Any, action: str, headers: dict[str, str], image_id: str, n: int) -> Any:
    image = f"/api/v1/images/{image_id}"
    if action == "upload":
        files = {"file": ("new.png", _png(10_000 + n), "image/png")}
        return await client.post("/api/v1/images", files=files, headers=headers)
    if action == "retag":
        return await client.patch(f"{image}/tags", json={"tags": ["x"]}, headers=headers)
    if action == "caption":
        return await client.patch(image, json={"text": "hello"}, headers=headers)
    if action == "use":
        return await client.post(f"{image}/uses", headers=headers)
    if action == "favourite":
        return await client.put(f"{image}/favourite", headers=headers)
    if action == "unfavourite":
        return await client.delete(f"{image}/favourite", headers=headers)
    if action == "thumbnail job":
        files = {"image": ("a.jpg", fixture_bytes("photo.jpg"), "image/jpeg")}
        return await client.post("/api/v1/thumbnails/", files=files, headers=headers)
    if action == "alias":
        return await client.post("/api/v1/tag-aliases", json={"alias": f"kitty{n}", "tag": "cat"}, headers=headers)
    if action == "implication":
        return await client.post(
            "/api/v1/tag-implications", json={"tag": f"cat{n}", "implies": "animal"}, headers=headers
        )
    if action == "delete alias":
        return await client.delete("/api/v1/tag-aliases/seeded-alias", headers=headers)
    if action == "delete implication":
        return await client.delete("/api/v1/tag-implications/seeded/implied", headers=headers)
    if action == "create user":
        return await client.post("/api/v1/users", json={"name": f"new{n}", "password": PASSWORD}, headers=headers)
    if action == "change user":
        victim = await make_user(client, f"victim{n}", "viewer")
        return await client.patch(f"/api/v1/users/{victim.id}", json={"role": "member"}, headers=headers)
    if action == "delete user":
        victim = await make_user(client, f"gone{n}", "viewer")
        return await client.delete(f"/api/v1/users/{victim.id}", headers=headers)
    if action == "list users":
        return await client.get("/api/v1/users", headers=headers)
    if action == "create key":
        return await client.post("/api/v1/me/keys", json={"name": "k"}, headers=headers)
    if action == "delete other's image":
        return await client.delete(image, headers=headers)
    raise AssertionError(action)


async def test_every_role_on_every_write(make_client: AppFactory) -> None:
    """Each cell on a fresh image uploaded by someone else (the owner), so nothing depends on cell order."""
    outcomes: dict[tuple[str, str], int] = {}
    async with make_client() as client:
        owner = await make_user(client, "owner", "admin")
        owner_session = await sign_in(client, owner.name)
        sessions: dict[str, dict[str, str]] = {"anonymous": {}}
        for role in ("admin", "member", "viewer"):
            await make_user(client, f"a-{role}", role)  # type: ignore[arg-type]
            sessions[role] = (await sign_in(client, f"a-{role}")).headers()
        n = 0
        for action, _ in WRITE_TABLE:
            for role in ROLES:
                n += 1
                # Content must differ per image: the same bytes would be a duplicate of the last one.
                created = await client.post(
                    "/api/v1/images",
                    files={"file": (f"{n}.png", _png(n), "image/png")},
                    headers=owner_session.headers(),
                )
                assert created.status_code == 201, created.text
                await client.post(
                    "/api/v1/tag-aliases",
                    json={"alias": "seeded-alias", "tag": "seeded"},
                    headers=owner_session.headers(),
                )
                await client.post(
                    "/api/v1/tag-implications",
                    json={"tag": "seeded", "implies": "implied"},
                    headers=owner_session.headers(),
                )
                response = await _attempt(client, action, sessions[role], created.json()["id"], n)
                outcomes[(action, role)] = response.status_code
                if response.status_code in (401, 403):
                    assert response.json()["code"] in ("unauthorized", "forbidden"), response.text
    expected = {(action, role): status for action, by_role in WRITE_TABLE for role, status in by_role.items()}
    assert outcomes == expected


def _png(n: int) -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (n % 256, n // 256 % 256, 77)).save(buffer, "PNG")
    return buffer.getvalue()


async def test_members_delete_only_their_own_uploads(make_client: AppFactory) -> None:
    async with make_client() as client:
        await make_user(client, "alice", "member")
        await make_user(client, "bob", "member")
        await make_user(client, "root", "admin")
        alice, bob, root = [await sign_in(client, name) for name in ("alice", "bob", "root")]
        mine = (await client.post("/api/v1/images", files=_file("photo.jpg"), headers=alice.headers())).json()
        theirs = (await client.post("/api/v1/images", files=_file("alpha.png"), headers=bob.headers())).json()
        duplicate = await client.post("/api/v1/images", files=_file("photo.jpg"), headers=bob.headers())
        refused = await client.delete(f"/api/v1/images/{theirs['id']}", headers=alice.headers())
        kept = await client.get(f"/api/v1/images/{theirs['id']}")
        own = await client.delete(f"/api/v1/images/{mine['id']}", headers=alice.headers())
        by_admin = await client.delete(f"/api/v1/images/{theirs['id']}", headers=root.headers())
    assert mine["uploaded_by"]["name"] == "alice"
    assert duplicate.status_code == 200
    assert duplicate.json()["uploaded_by"]["name"] == "alice"  # a duplicate keeps the first uploader
    assert refused.status_code == 403
    assert refused.json()["code"] == "forbidden"
    assert kept.status_code == 200
    assert own.status_code == 204
    assert by_admin.status_code == 204


async def test_members_merge_away_only_their_own_uploads(make_client: AppFactory) -> None:
    """A merge deletes the image merged away: the same rule as delete (admins any, members their own)."""
    async with make_client() as client:
        await make_user(client, "alice", "member")
        await make_user(client, "bob", "member")
        alice, bob = [await sign_in(client, name) for name in ("alice", "bob")]
        mine = (await client.post("/api/v1/images", files=_file("photo.jpg"), headers=alice.headers())).json()
        theirs = (await client.post("/api/v1/images", files=_file("alpha.png"), headers=bob.headers())).json()
        refused = await client.post(
            f"/api/v1/images/{theirs['id']}/merge", json={"into": mine["id"]}, headers=alice.headers()
        )
        kept = await client.get(f"/api/v1/images/{theirs['id']}")
        merged = await client.post(
            f"/api/v1/images/{mine['id']}/merge", json={"into": theirs["id"]}, headers=alice.headers()
        )
    assert refused.status_code == 403, refused.text
    assert refused.json()["code"] == "forbidden"
    assert kept.status_code == 200
    assert merged.status_code == 200, merged.text
    assert merged.json()["id"] == theirs["id"]


async def test_the_last_admin_stays(make_client: AppFactory) -> None:
    async with make_client() as client:
        root = await make_user(client, "root", "admin")
        session = await sign_in(client, "root")
        url = f"/api/v1/users/{root.id}"
        attempts = [
            await client.patch(url, json={"role": "member"}, headers=session.headers()),
            await client.patch(url, json={"disabled": True}, headers=session.headers()),
            await client.delete(url, headers=session.headers()),
        ]
        second = await client.post(
            "/api/v1/users", json={"name": "root2", "role": "admin", "password": PASSWORD}, headers=session.headers()
        )
        demoted = await client.patch(url, json={"role": "member"}, headers=session.headers())
    for response in attempts:
        assert response.status_code == 409
        assert response.json()["code"] == "last_admin"
    assert second.status_code == 201
    assert demoted.status_code == 200
    assert demoted.json()["role"] == "member"


@pytest.mark.parametrize("change", [{"disabled": True}, {"password": "a-brand-new-password"}])
async def test_disabling_or_a_new_password_ends_sessions_and_keys_on_every_replica(
    make_client: AppFactory, change: dict[str, Any]
) -> None:
    async with make_client() as one, make_client() as two:
        await make_user(one, "root", "admin")
        alice = await make_user(one, "alice", "member")
        admin = await sign_in(one, "root")
        session = await sign_in(one, "alice")
        key = await new_key(one, session)
        # Both replicas have looked the credentials up (and may have cached them).
        for client in (one, two):
            assert (await client.get("/api/v1/me", headers=session.headers(csrf=False))).status_code == 200
            assert (await client.get("/api/v1/me", headers=bearer(key))).status_code == 200
        changed = await one.patch(f"/api/v1/users/{alice.id}", json=change, headers=admin.headers())
        # The replica that made the change refuses at once; the other as soon as the notification arrives
        # (milliseconds; the loop only gives a slow machine time).
        here = [
            (await one.get("/api/v1/me", headers=h)).status_code for h in (session.headers(csrf=False), bearer(key))
        ]
        there: list[int] = []
        for _ in range(40):
            there = [
                (await two.get("/api/v1/me", headers=h)).status_code for h in (session.headers(csrf=False), bearer(key))
            ]
            if there == [401, 401]:
                break
            await asyncio.sleep(0.05)
    assert changed.status_code == 200
    assert here == [401, 401]
    assert there == [401, 401]


async def test_keys_are_shown_once_scoped_and_revocable(make_client: AppFactory, db: asyncpg.Connection) -> None:
    async with make_client() as client:
        await make_user(client, "alice", "member")
        session = await sign_in(client, "alice")
        created = await client.post("/api/v1/me/keys", json={"name": "laptop"}, headers=session.headers())
        full = created.json()["key"]
        upload_key = await new_key(client, session, "upload", "sharex")
        listed = (await client.get("/api/v1/me/keys", headers=session.headers())).json()["items"]
        uploaded = await client.post("/api/v1/images", files=_file(), headers=bearer(upload_key))
        image_id = uploaded.json()["id"]
        upload_key_reads = await client.get("/api/v1/images", headers=bearer(upload_key))
        upload_key_deletes = await client.delete(f"/api/v1/images/{image_id}", headers=bearer(upload_key))
        full_reads = await client.get("/api/v1/me", headers=bearer(full))
        used = (await client.get("/api/v1/me/keys", headers=session.headers())).json()["items"]
        revoked = await client.delete(f"/api/v1/me/keys/{created.json()['id']}", headers=session.headers())
        after = await client.get("/api/v1/me", headers=bearer(full))
        stored = await db.fetch("SELECT key_hash FROM api_keys")
    assert created.status_code == 201
    assert full.startswith("rb_")
    assert all("key" not in item for item in listed)
    assert [item["scope"] for item in listed] == ["full", "upload"]
    assert uploaded.status_code == 201
    assert uploaded.json()["uploaded_by"]["name"] == "alice"  # a key acts as its user
    assert upload_key_reads.status_code == 403
    assert upload_key_deletes.status_code == 403
    assert full_reads.json()["auth"] == "key"
    assert all(item["last_used_at"] is not None for item in used)
    assert revoked.status_code == 204
    assert after.status_code == 401
    # Only hashes are stored.
    assert all(full.encode() not in row["key_hash"] and len(row["key_hash"]) == 32 for row in stored)


async def test_favourites_and_personal_search(make_client: AppFactory) -> None:
    async with make_client() as client:
        await make_user(client, "alice", "member")
        await make_user(client, "bob", "viewer")
        alice, bob = await sign_in(client, "alice"), await sign_in(client, "bob")
        first = (await client.post("/api/v1/images", files=_file("photo.jpg"), headers=alice.headers())).json()
        second = (await client.post("/api/v1/images", files=_file("alpha.png"), headers=alice.headers())).json()
        assert (await client.put(f"/api/v1/images/{first['id']}/favourite", headers=bob.headers())).status_code == 204
        again = await client.put(f"/api/v1/images/{first['id']}/favourite", headers=bob.headers())

        async def ids(q: str, session: Session | None) -> list[str]:
            headers = session.headers(csrf=False) if session else {}
            response = await client.get("/api/v1/images", params={"q": q}, headers=headers)
            assert response.status_code == 200, response.text
            return [item["id"] for item in response.json()["items"]]

        found = {
            "bob is:fav": await ids("is:fav", bob),
            "alice is:fav": await ids("is:fav", alice),
            "bob by:me": await ids("by:me", bob),
            "by:alice": await ids("by:alice", None),
            "by:ALICE": await ids("by:ALICE", None),
            "by:nobody": await ids("by:nobody", None),
            "-is:fav": await ids("-is:fav", bob),
        }
        listed = (await client.get("/api/v1/images", headers=bob.headers(csrf=False))).json()["items"]
        one = (await client.get(f"/api/v1/images/{first['id']}", headers=bob.headers(csrf=False))).json()
        anonymous_fav = await client.get("/api/v1/images", params={"q": "is:fav"})
        unmark = await client.delete(f"/api/v1/images/{first['id']}/favourite", headers=bob.headers())
        after = await ids("is:fav", bob)
        missing = await client.put(
            "/api/v1/images/00000000-0000-4000-8000-000000000000/favourite", headers=bob.headers()
        )
    assert again.status_code == 204
    assert found == {
        "bob is:fav": [first["id"]],
        "alice is:fav": [],
        "bob by:me": [],
        "by:alice": [second["id"], first["id"]],
        "by:ALICE": [second["id"], first["id"]],
        "by:nobody": [],
        "-is:fav": [second["id"]],
    }
    assert {item["id"]: item["favourite"] for item in listed} == {first["id"]: True, second["id"]: False}
    assert one["favourite"] is True
    assert anonymous_fav.status_code == 400
    assert anonymous_fav.json()["code"] == "invalid_query"
    assert unmark.status_code == 204
    assert after == []
    assert missing.status_code == 404


async def test_private_library_needs_a_user_for_every_read(make_client: AppFactory) -> None:
    async with make_client(public_read=False) as client:
        await make_user(client, "viewer", "viewer")
        session = await sign_in(client, "viewer")
        key = await new_key(client, session)
        await make_user(client, "root", "admin")
        root = await sign_in(client, "root")
        image = (await client.post("/api/v1/images", files=_file(), headers=root.headers())).json()
        paths = [
            "/api/v1/images",
            "/api/v1/images?q=cat",
            f"/api/v1/images/{image['id']}",
            f"/api/v1/images/{image['id']}/file",
            f"/api/v1/images/{image['id']}/thumbnail",
            f"/api/v1/images/by-hash/{image['hash']}",
            "/api/v1/tags",
            "/api/v1/tag-aliases",
            f"/i/{image['id']}",
            f"/api/v1/oembed?url=http://testserver.local/i/{image['id']}",
        ]
        anonymous = {path: (await client.get(path)).status_code for path in paths}
        with_key = {path: (await client.get(path, headers=bearer(key))).status_code for path in paths}
        with_cookie = {
            path: (await client.get(path, headers=session.headers(csrf=False))).status_code for path in paths
        }
        public = {
            path: (await client.get(path)).status_code
            for path in ("/api/v1/health", "/healthz", "/api/v1/sign-in", "/api/v1/limits", "/")
        }
    assert set(anonymous.values()) == {401}, anonymous
    assert set(with_key.values()) == {200}, with_key
    assert set(with_cookie.values()) == {200}, with_cookie
    assert set(public.values()) == {200}, public


async def test_api_tokens_act_as_an_admin(make_client: AppFactory) -> None:
    async with make_client(api_tokens=(TOKEN,)) as client:
        headers = bearer(TOKEN)
        created_user = await client.post("/api/v1/users", json={"name": "alice", "password": PASSWORD}, headers=headers)
        uploaded = await client.post("/api/v1/images", files=_file(), headers=headers)
        favourite = await client.put(f"/api/v1/images/{uploaded.json()['id']}/favourite", headers=headers)
        keys = await client.get("/api/v1/me/keys", headers=headers)
        me = await client.get("/api/v1/me", headers=headers)
    assert created_user.status_code == 201
    assert uploaded.status_code == 201
    assert uploaded.json()["uploaded_by"] is None  # tokens act for nobody in particular
    assert favourite.status_code == 403
    assert keys.status_code == 403
    assert me.json()["auth"] == "token"
    assert me.json()["role"] == "admin"


async def test_images_from_before_accounts_keep_working(make_client: AppFactory) -> None:
    async with make_client() as client:
        old = (await upload(client, "photo.jpg")).json()
        await make_user(client, "root", "admin")
        session = await sign_in(client, "root")
        read = await client.get(f"/api/v1/images/{old['id']}")
        retagged = await client.patch(
            f"/api/v1/images/{old['id']}/tags", json={"tags": ["old"]}, headers=session.headers()
        )
        by_anyone = await client.get("/api/v1/images", params={"q": "by:root"})
    assert read.status_code == 200
    assert read.json()["uploaded_by"] is None
    assert retagged.status_code == 200
    assert by_anyone.json()["items"] == []


async def test_limits_and_sharex_know_when_writes_need_a_key(make_client: AppFactory) -> None:
    async with make_client() as client:
        open_limits = (await client.get("/api/v1/limits")).json()
        open_sharex = (await client.get("/api/v1/sharex.sxcu")).json()
        await make_user(client, "alice", "member")
        session = await sign_in(client, "alice")
        key = await new_key(client, session, "upload")
        closed = (await client.get("/api/v1/limits")).json()
        with_key = (await client.get("/api/v1/limits", headers=bearer(key))).json()
        with_bad_key = (await client.get("/api/v1/limits", headers=bearer("rb_" + "x" * 43))).json()
        closed_sharex = (await client.get("/api/v1/sharex.sxcu")).json()
    assert open_limits["writes_need_token"] is False
    assert "Headers" not in open_sharex
    assert closed["writes_need_token"] is True
    assert with_key["token_accepted"] is True
    assert with_bad_key["token_accepted"] is False
    assert "Authorization" in closed_sharex["Headers"]


async def test_users_are_listed_and_renamed(make_client: AppFactory) -> None:
    async with make_client() as client:
        await make_user(client, "root", "admin")
        alice = await make_user(client, "alice", "viewer")
        session = await sign_in(client, "root")
        listed = (await client.get("/api/v1/users", headers=session.headers())).json()["items"]
        renamed = await client.patch(f"/api/v1/users/{alice.id}", json={"name": "Alicia"}, headers=session.headers())
        taken = await client.patch(f"/api/v1/users/{alice.id}", json={"name": "ROOT"}, headers=session.headers())
        unknown = await client.patch(
            "/api/v1/users/00000000-0000-4000-8000-000000000000", json={"role": "viewer"}, headers=session.headers()
        )
        not_an_id = await client.delete("/api/v1/users/nope", headers=session.headers())
    assert [u["name"] for u in listed] == ["alice", "root"]
    assert {"id", "name", "role", "disabled", "created_at", "has_password", "oidc"} == set(listed[0])
    assert renamed.json()["name"] == "Alicia"
    assert taken.status_code == 409
    assert taken.json()["code"] == "user_exists"
    assert unknown.status_code == 404
    assert not_an_id.status_code == 404


def test_settings_read_accounts_variables() -> None:
    settings = Settings.from_env(
        {
            "PUBLIC_READ": "false",
            "SESSION_TTL": "12h",
            "OIDC_ISSUER": "https://id.example.com/",
            "OIDC_CLIENT_ID": "reactbin",
            "OIDC_CLIENT_SECRET": "s3cret",
            "OIDC_ADMIN_GROUP": "admins",
            "OIDC_DEFAULT_ROLE": "viewer",
        }
    )
    assert settings.public_read is False
    assert settings.session_ttl == 12 * 3600
    assert settings.oidc is not None
    assert settings.oidc.issuer == "https://id.example.com/"
    assert settings.oidc.default_role == "viewer"
    assert settings.oidc.admin_group == "admins"


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"OIDC_ISSUER": "https://id.example.com"}, "OIDC_CLIENT_ID"),
        ({"OIDC_CLIENT_ID": "reactbin"}, "OIDC_ISSUER"),
        ({"OIDC_ISSUER": "id.example.com", "OIDC_CLIENT_ID": "x"}, "OIDC_ISSUER"),
        (
            {"OIDC_ISSUER": "https://id.example.com", "OIDC_CLIENT_ID": "x", "OIDC_DEFAULT_ROLE": "god"},
            "OIDC_DEFAULT_ROLE",
        ),
        ({"PUBLIC_READ": "maybe"}, "PUBLIC_READ"),
        ({"SESSION_TTL": "-1"}, "SESSION_TTL"),
    ],
)
def test_bad_accounts_settings_name_the_variable(env: dict[str, str], named: str) -> None:
    from reactbin.settings import ConfigError

    with pytest.raises(ConfigError, match=named):
        Settings.from_env(env)
