"""`reactbin serve | dev | worker | migrate | openapi`: running the service and preparing its database."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import math
import os
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path

from reactbin import scratch
from reactbin.cli.common import embedded_defaults, load_settings, migrate_database, require_database
from reactbin.logs import configure_logging, uvicorn_log_config
from reactbin.settings import ConfigError, Settings

log = logging.getLogger("reactbin")


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = commands.add_parser("serve", help="serve the API and UI using settings from the environment")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    serve.set_defaults(run=run_serve)

    migrate = commands.add_parser("migrate", help="apply pending database migrations")
    migrate.set_defaults(run=run_migrate)

    dev = commands.add_parser("dev", help="run everything on one machine: embedded PostgreSQL, files under ./data")
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--port", type=int, default=8000)
    dev.add_argument("--data-dir", type=Path, default=Path("data"))
    dev.set_defaults(run=run_dev)

    worker = commands.add_parser("worker", help="run thumbnail job workers (no HTTP); stop with SIGTERM or Ctrl-C")
    worker.add_argument(
        "--concurrency", type=int, default=None, help="jobs run at once (default: WORKER_CONCURRENCY, else 2)"
    )
    worker.set_defaults(run=run_worker)

    openapi = commands.add_parser("openapi", help="print the OpenAPI schema as JSON")
    openapi.set_defaults(run=run_openapi)


def run_serve(args: argparse.Namespace) -> int:
    serve(require_database(load_settings()), args.host, args.port, args.workers)
    return 0


def run_migrate(args: argparse.Namespace) -> int:
    applied = asyncio.run(migrate_database(require_database(load_settings()).database_url or ""))
    print(f"applied {len(applied)} migration(s)" + (f": {', '.join(applied)}" if applied else ""))
    return 0


def run_dev(args: argparse.Namespace) -> int:
    with embedded_defaults(load_settings(), args.data_dir) as local:
        log.info("reactbin is running at http://%s:%d", args.host, args.port)
        serve(local, args.host, args.port)
    return 0


def run_worker(args: argparse.Namespace) -> int:
    import uvloop

    settings = require_database(load_settings())
    concurrency = settings.worker_concurrency if args.concurrency is None else args.concurrency
    if concurrency < 1:
        raise ConfigError("--concurrency must be at least 1")
    uvloop.run(_work(settings, concurrency))
    return 0


def run_openapi(args: argparse.Namespace) -> int:
    from reactbin.app import create_app

    app = create_app(load_settings())
    print(json.dumps(app.openapi_schema.to_schema(), indent=2, sort_keys=True))
    return 0


def serve(settings: Settings, host: str, port: int, workers: int = 1) -> None:
    import uvicorn

    from reactbin.app import create_app
    from reactbin.cli.supervisor import WorkerSupervisor

    # uvicorn takes whole seconds; rounding up keeps a fractional grace period (0.5) from becoming none at all.
    grace = math.ceil(settings.shutdown_grace)
    # After a graceful shutdown uvicorn raises the SIGTERM it caught again. With the default handler that kills
    # the process on the spot (exit -15, and `reactbin dev` left its embedded PostgreSQL running); this handler
    # turns it into a normal exit that runs every `finally`.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    # Access lines come from the app (they carry the request id and route), not from uvicorn.
    common: dict[str, object] = {
        "host": host,
        "port": port,
        "loop": "uvloop",
        "http": "httptools",
        "log_level": "info",
        "log_config": uvicorn_log_config(),
        "access_log": False,
        "timeout_graceful_shutdown": grace,
    }
    if workers > 1:
        # Each worker process builds its own app from the same environment (uvicorn needs an import string).
        with _metrics_shared_by_workers(settings) as metrics_dir:
            config = uvicorn.Config("reactbin.cli.server:app_from_env", factory=True, workers=workers, **common)  # type: ignore[arg-type]
            WorkerSupervisor(config, [config.bind_socket()], metrics_dir).run()
        return
    uvicorn.run(create_app(settings, freeze_gc=True), **common)  # type: ignore[arg-type]


def app_from_env() -> object:
    """Factory for uvicorn worker processes."""
    from reactbin.app import create_app

    settings = Settings.from_env()
    configure_logging(settings.log_format)
    return create_app(settings, freeze_gc=True)


# Read by prometheus-client when it is imported; named here so the parent process never imports it.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


@contextlib.contextmanager
def _metrics_shared_by_workers(settings: Settings) -> Iterator[Path | None]:
    """prometheus-client's multiprocess mode for `--workers N`: a directory of value files every worker writes.

    Set before any worker imports prometheus-client. An operator's PROMETHEUS_MULTIPROC_DIR is emptied at start
    (old files would add counts of processes long gone); otherwise one is made in this process's temp directory
    and removed after (or swept by the next start, if this process is killed).
    """
    if not settings.metrics:
        yield None
        return
    given = os.environ.get(MULTIPROC_ENV)
    path = Path(given) if given else scratch.process_dir() / "metrics"
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink()
    os.environ[MULTIPROC_ENV] = str(path)
    try:
        yield path
    finally:
        if not given:
            shutil.rmtree(path, ignore_errors=True)


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(0)


async def _work(settings: Settings, concurrency: int) -> None:
    from reactbin.domain.resources import open_resources
    from reactbin.worker import running_worker

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    # One CPU thread per job slot: `concurrency` decodes at once, never more.
    async with (
        open_resources(settings, cpu_threads=concurrency, serving=False) as res,
        running_worker(res, concurrency=concurrency),
    ):
        await stop.wait()
        log.info("stopping: waiting for running jobs")
