"""The migration runner: idempotent, safe when replicas start together, refuses out-of-order files."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import asyncpg
import pytest

from reactbin.db.migrations import MigrationError, load_migrations, migrate
from reactbin.embedded import EmbeddedPostgres


@pytest.fixture
async def fresh_database(postgres: EmbeddedPostgres | None, database_url: str) -> str:
    if postgres is None:
        pytest.skip("needs the embedded PostgreSQL to create databases")
    return postgres.create_database(f"m_{uuid.uuid4().hex[:10]}")


async def test_concurrent_migrate_applies_each_file_once(fresh_database: str) -> None:
    conns = [await asyncpg.connect(fresh_database) for _ in range(4)]
    try:
        results = await asyncio.gather(*(migrate(conn) for conn in conns))
        versions = [m.version for m in load_migrations()]
        assert sorted(v for applied in results for v in applied) == versions
        assert await migrate(conns[0]) == []
        rows = await conns[0].fetch("SELECT version FROM schema_migrations ORDER BY version")
        assert [r["version"] for r in rows] == versions
    finally:
        for conn in conns:
            await conn.close()


async def test_out_of_order_file_is_refused(fresh_database: str, tmp_path: Path) -> None:
    (tmp_path / "0001_a.sql").write_text("-- migrate:up\nCREATE TABLE a (x int);\n-- migrate:down\nDROP TABLE a;\n")
    (tmp_path / "0003_c.sql").write_text("-- migrate:up\nCREATE TABLE c (x int);\n")
    conn = await asyncpg.connect(fresh_database)
    try:
        assert await migrate(conn, load_migrations(tmp_path)) == ["0001", "0003"]
        (tmp_path / "0002_b.sql").write_text("-- migrate:up\nCREATE TABLE b (x int);\n")
        with pytest.raises(MigrationError, match="0002_b"):
            await migrate(conn, load_migrations(tmp_path))
    finally:
        await conn.close()


async def test_failed_file_leaves_no_trace(fresh_database: str, tmp_path: Path) -> None:
    (tmp_path / "0001_bad.sql").write_text("-- migrate:up\nCREATE TABLE ok (x int);\nSELECT nonsense;\n")
    conn = await asyncpg.connect(fresh_database)
    try:
        with pytest.raises(asyncpg.PostgresError):
            await migrate(conn, load_migrations(tmp_path))
        assert await conn.fetchval("SELECT to_regclass('ok')") is None
        assert await conn.fetchval("SELECT count(*) FROM schema_migrations") == 0
    finally:
        await conn.close()


def test_badly_named_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "1_x.sql").write_text("-- migrate:up\nSELECT 1;\n")
    with pytest.raises(MigrationError):
        load_migrations(tmp_path)
