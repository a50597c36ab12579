"""Plain-SQL migrations: `NNNN_description.sql` files with `-- migrate:up` / `-- migrate:down` sections.

Each file runs with its `schema_migrations` row in one transaction, under an advisory lock, so several
replicas may start at once; a database that has a version newer than a pending file refuses to go on.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import asyncpg
import msgspec

_FILENAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_UP = re.compile(r"^--\s*migrate:up\s*$", re.MULTILINE)
_DOWN = re.compile(r"^--\s*migrate:down\s*$", re.MULTILINE)
# Any fixed number serves; it only has to be the same in every replica.
_LOCK_KEY = 0x7265_6163_7462_696E  # "reactbin"


class MigrationError(Exception):
    """The migrations on disk and in the database disagree."""


class Migration(msgspec.Struct, frozen=True):
    version: str
    name: str
    up: str


def migrations_dir() -> Path:
    """Where the SQL files are: packaged in the wheel, or the repository's `migrations/`."""
    packaged = resources.files("reactbin") / "_migrations"
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[3] / "migrations"


def load_migrations(directory: Path | None = None) -> list[Migration]:
    """Read and order every migration file."""
    directory = directory or migrations_dir()
    found = []
    for path in sorted(directory.glob("*.sql")):
        match = _FILENAME.match(path.name)
        if match is None:
            raise MigrationError(f"{path.name}: migration files are named NNNN_description.sql")
        text = path.read_text(encoding="utf-8")
        up = _UP.split(text, maxsplit=1)
        if len(up) != 2:
            raise MigrationError(f"{path.name}: missing '-- migrate:up'")
        found.append(Migration(version=match[1], name=match[2], up=_DOWN.split(up[1], maxsplit=1)[0]))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError("two migration files share a version number")
    return found


async def migrate(conn: asyncpg.Connection, migrations: list[Migration] | None = None) -> list[str]:
    """Apply pending migrations; return the versions applied."""
    migrations = load_migrations() if migrations is None else migrations
    applied_now: list[str] = []
    await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
    try:
        await conn.execute(
            """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version    text PRIMARY KEY,
                name       text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """
        )
        applied = {row["version"] for row in await conn.fetch("SELECT version FROM schema_migrations")}
        newest = max(applied, default="")
        for migration in migrations:
            if migration.version in applied:
                continue
            if migration.version < newest:
                raise MigrationError(
                    f"migration {migration.version}_{migration.name} is older than applied version {newest}; "
                    "renumber it after the newest one"
                )
            async with conn.transaction():
                await conn.execute(migration.up)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", migration.version, migration.name
                )
            applied_now.append(migration.version)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
    return applied_now
