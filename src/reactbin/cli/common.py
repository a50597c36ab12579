"""What several commands share: settings from the environment, the database they need, the embedded defaults."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import msgspec

from reactbin.logs import configure_logging
from reactbin.settings import ConfigError, Settings

log = logging.getLogger("reactbin")


def load_settings() -> Settings:
    """The settings from the environment, with logging configured as they say."""
    settings = Settings.from_env()
    configure_logging(settings.log_format)
    return settings


def require_database(settings: Settings) -> Settings:
    if settings.database_url is None:
        raise ConfigError("DATABASE_URL is required (or use `reactbin dev` for an embedded database)")
    return settings


async def migrate_database(database_url: str) -> list[str]:
    from reactbin.db.migrations import migrate

    conn = await asyncpg.connect(database_url, timeout=10)
    try:
        return await migrate(conn)
    finally:
        await conn.close()


@contextlib.contextmanager
def embedded_defaults(settings: Settings, data_dir: Path) -> Iterator[Settings]:
    """Settings for one machine: an embedded PostgreSQL in `data_dir` unless DATABASE_URL is set, files there too.

    A server already running on that directory (a `reactbin dev` in another terminal) is shared, not stopped.
    """
    from reactbin.embedded import EmbeddedPostgres

    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    owned = None
    if settings.database_url is None:
        server = EmbeddedPostgres(data_dir / "postgres", durable=True)
        shared = server.is_running()
        server.start()  # adopts a server that already runs
        owned = None if shared else server
        log.info("embedded PostgreSQL %s at %s", "shared" if shared else "running", server.dsn)
        settings = settings.with_database_url(server.dsn)
    if settings.storage_backend == "filesystem" and "STORAGE_DIR" not in os.environ:
        settings = msgspec.structs.replace(settings, storage_dir=data_dir / "objects")
    try:
        applied = asyncio.run(migrate_database(settings.database_url or ""))
        if applied:
            log.info("applied migrations %s", ", ".join(applied))
        yield settings
    finally:
        if owned is not None:
            owned.stop()


def data_dir_argument(command: argparse.ArgumentParser) -> None:
    """`--data-dir`, for commands that use the embedded database when DATABASE_URL is not set."""
    command.add_argument("--data-dir", type=Path, default=Path("data"), help="embedded data (without DATABASE_URL)")
