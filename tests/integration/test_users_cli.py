"""`reactbin users ...` as a real subprocess on the test database, and `reactbin import --token` with an API key."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import asyncpg
import httpx

from reactbin.domain import accounts
from reactbin.domain.resources import open_resources
from reactbin.settings import Settings
from tests.conftest import S3Server
from tests.integration.test_transfer import image_bytes, run_cli
from tests.support.live import run_server

REACTBIN = str(Path(sys.executable).parent / "reactbin")


def users(database_url: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [REACTBIN, "users", *args],
        capture_output=True,
        text=True,
        input=stdin,
        timeout=60,
        check=False,
        env={**os.environ, "DATABASE_URL": database_url},
    )


async def test_users_commands(db: asyncpg.Connection, database_url: str) -> None:
    created = users(database_url, "create", "root", "--role", "admin")
    from_stdin = users(database_url, "create", "Alice", "--password-stdin", stdin="alice-password-123\n")
    taken = users(database_url, "create", "ALICE", "--password-stdin", stdin="alice-password-123\n")
    bad_name = users(database_url, "create", "<b>x</b>")
    short = users(database_url, "create", "bob", "--password-stdin", stdin="short\n")
    role = users(database_url, "set-role", "alice", "viewer")
    last_admin = users(database_url, "set-role", "root", "member")
    disabled = users(database_url, "disable", "alice")
    listed = users(database_url, "list")
    enabled = users(database_url, "enable", "alice")
    reset = users(database_url, "reset-password", "alice")
    unknown = users(database_url, "delete", "nobody")
    deleted = users(database_url, "delete", "alice")
    stored = await db.fetch("SELECT name, role, password_hash FROM users ORDER BY name")

    assert created.returncode == 0, created.stderr
    generated = created.stdout.split("password (shown once): ")[1].strip()
    assert len(generated) >= 20
    assert from_stdin.returncode == 0
    assert "alice-password-123" not in from_stdin.stdout
    assert (taken.returncode, "already exists" in taken.stderr) == (1, True)
    assert (bad_name.returncode, "user name" in bad_name.stderr) == (1, True)
    assert (short.returncode, "10 to 256" in short.stderr) == (1, True)
    assert role.stdout.strip() == "Alice is now viewer"
    assert (last_admin.returncode, "active admin" in last_admin.stderr) == (1, True)
    assert disabled.stdout.strip() == "Alice is disabled"
    assert listed.stdout.splitlines() == ["Alice\tviewer\tdisabled\tpassword", "root\tadmin\tactive\tpassword"]
    assert enabled.returncode == 0
    assert "(shown once)" in reset.stdout
    assert (unknown.returncode, "No such user" in unknown.stderr) == (1, True)
    assert deleted.stdout.strip() == "deleted Alice"
    assert [(r["name"], r["role"]) for r in stored] == [("root", "admin")]
    assert stored[0]["password_hash"].startswith("$argon2id$")
    # The generated password signs in.
    async with open_resources(Settings(database_url=database_url), cpu_threads=1, serving=False) as res:
        assert (await accounts.sign_in(res, "root", generated, client="cli-test")).user.name == "root"


async def test_import_takes_an_upload_key(
    db: asyncpg.Connection, database_url: str, s3_server: S3Server, tmp_path: Path
) -> None:
    root = tmp_path / "reactions"
    root.mkdir()
    for seed in range(3):
        (root / f"{seed}.png").write_bytes(image_bytes(300 + seed))
    async with open_resources(Settings(database_url=database_url), cpu_threads=1, serving=False) as res:
        alice = await accounts.create_user(res, "alice", "member", "alice-password-123")
        key = (await accounts.create_key(res, alice.id, "import", "upload")).key
    with run_server(database_url, s3_server, None, tmp_path) as server:
        first = run_cli("import", str(root), "--server", server.url, "--token", key)
        again = run_cli("import", str(root), "--server", server.url, "--token", key)
        async with httpx.AsyncClient(base_url=server.api) as client:
            items = (await client.get("/images")).json()["items"]
    assert first.returncode == 0, first.stdout + first.stderr
    assert first.stdout.startswith("imported 3, duplicates 0")
    assert again.stdout.startswith("imported 0, duplicates 3")  # the by-hash lookups work with an upload key
    assert {item["uploaded_by"]["name"] for item in items} == {"alice"}
