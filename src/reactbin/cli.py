"""`reactbin serve | migrate | dev | worker | openapi`: the only place that reads the environment."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
from pathlib import Path

import asyncpg
import msgspec

from reactbin.settings import ConfigError, Settings

log = logging.getLogger("reactbin")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="reactbin", description="A self-hosted library of reaction images.")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="serve the API and UI using settings from the environment")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")

    commands.add_parser("migrate", help="apply pending database migrations")

    dev = commands.add_parser("dev", help="run everything on one machine: embedded PostgreSQL, files under ./data")
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--port", type=int, default=8000)
    dev.add_argument("--data-dir", type=Path, default=Path("data"))

    worker = commands.add_parser("worker", help="run thumbnail job workers (no HTTP); stop with SIGTERM or Ctrl-C")
    worker.add_argument(
        "--concurrency", type=int, default=None, help="jobs run at once (default: WORKER_CONCURRENCY, else 2)"
    )

    commands.add_parser("openapi", help="print the OpenAPI schema as JSON")

    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = Settings.from_env()
        if args.command == "serve":
            _serve(_require_database(settings), args.host, args.port, args.workers)
        elif args.command == "migrate":
            applied = asyncio.run(_migrate(_require_database(settings).database_url or ""))
            print(f"applied {len(applied)} migration(s)" + (f": {', '.join(applied)}" if applied else ""))
        elif args.command == "dev":
            _dev(settings, args.host, args.port, args.data_dir)
        elif args.command == "worker":
            concurrency = settings.worker_concurrency if args.concurrency is None else args.concurrency
            if concurrency < 1:
                raise ConfigError("--concurrency must be at least 1")
            _run_worker(_require_database(settings), concurrency)
        elif args.command == "openapi":
            _print_openapi(settings)
    except ConfigError as exc:
        print(f"reactbin: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def _require_database(settings: Settings) -> Settings:
    if settings.database_url is None:
        raise ConfigError("DATABASE_URL is required (or use `reactbin dev` for an embedded database)")
    return settings


async def _migrate(database_url: str) -> list[str]:
    from reactbin.db.migrations import migrate

    conn = await asyncpg.connect(database_url, timeout=10)
    try:
        return await migrate(conn)
    finally:
        await conn.close()


def _serve(settings: Settings, host: str, port: int, workers: int = 1) -> None:
    import uvicorn

    from reactbin.app import create_app

    if workers > 1:
        # Each worker process builds its own app from the same environment (uvicorn needs an import string).
        uvicorn.run(
            "reactbin.cli:app_from_env",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            loop="uvloop",
            http="httptools",
            log_level="info",
        )
        return
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        loop="uvloop",
        http="httptools",
        log_level="info",
        timeout_graceful_shutdown=30,
    )


def app_from_env() -> object:
    """Factory for uvicorn worker processes."""
    from reactbin.app import create_app

    return create_app(Settings.from_env())


def _run_worker(settings: Settings, concurrency: int) -> None:
    import uvloop

    uvloop.run(_work(settings, concurrency))


async def _work(settings: Settings, concurrency: int) -> None:
    from reactbin.domain.resources import open_resources
    from reactbin.worker import running_worker

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    # One CPU thread per job slot: `concurrency` decodes at once, never more.
    async with open_resources(settings, cpu_threads=concurrency) as res, running_worker(res, concurrency=concurrency):
        await stop.wait()
        log.info("stopping: waiting for running jobs")


def _dev(settings: Settings, host: str, port: int, data_dir: Path) -> None:
    from reactbin.embedded import EmbeddedPostgres

    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    postgres = None
    if settings.database_url is None:
        postgres = EmbeddedPostgres(data_dir / "postgres", durable=True)
        postgres.start()
        log.info("embedded PostgreSQL running at %s", postgres.dsn)
        settings = settings.with_database_url(postgres.dsn)
    if settings.storage_backend == "filesystem" and "STORAGE_DIR" not in os.environ:
        settings = msgspec.structs.replace(settings, storage_dir=data_dir / "objects")
    try:
        applied = asyncio.run(_migrate(settings.database_url or ""))
        if applied:
            log.info("applied migrations %s", ", ".join(applied))
        log.info("reactbin is running at http://%s:%d", host, port)
        _serve(settings, host, port)
    finally:
        if postgres is not None:
            postgres.stop()


def _print_openapi(settings: Settings) -> None:
    from reactbin.app import create_app

    app = create_app(settings)
    print(json.dumps(app.openapi_schema.to_schema(), indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
