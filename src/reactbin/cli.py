"""`reactbin serve | migrate | dev | worker | fsck | reindex | openapi`: the only place that reads the environment."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import math
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import asyncpg
import msgspec

from reactbin.settings import ConfigError, Settings

if TYPE_CHECKING:  # imported lazily at run time: `reactbin --help` and `migrate` stay quick to start
    from reactbin.domain.resources import Resources

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

    fsck = commands.add_parser(
        "fsck", help="check that database and store agree (dry run unless --repair); safe while serving"
    )
    fsck.add_argument("--repair", action="store_true", help="regenerate missing thumbnails, remove orphan objects")
    fsck.add_argument("--data-dir", type=Path, default=Path("data"), help="embedded data (without DATABASE_URL)")

    reindex = commands.add_parser(
        "reindex",
        help="queue background work again for existing images and watch it (safe while serving, any workers)",
        description="Queue work for existing images; with no kind given, every kind. Workers (`reactbin worker`, "
        "or `serve`/`dev`) do the work; this command shows their progress until it is done.",
    )
    reindex.add_argument(
        "--ocr", action="store_true", help="caption text (OCR): images whose text is pending or failed"
    )
    reindex.add_argument(
        "--all", action="store_true", help="redo every image, not only pending or failed ones (hand-set text stays)"
    )
    reindex.add_argument("--no-wait", action="store_true", help="queue and exit without watching the progress")
    reindex.add_argument("--data-dir", type=Path, default=Path("data"), help="embedded data (without DATABASE_URL)")

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
        elif args.command == "fsck":
            raise SystemExit(_fsck(settings, args.data_dir, repair=args.repair))
        elif args.command == "reindex":
            kinds = [kind for kind in _REINDEX_KINDS if getattr(args, kind)] or list(_REINDEX_KINDS)
            _reindex(settings, args.data_dir, kinds, redo_all=args.all, wait=not args.no_wait)
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

    # uvicorn takes whole seconds; rounding up keeps a fractional grace period (0.5) from becoming none at all.
    grace = math.ceil(settings.shutdown_grace)
    # After a graceful shutdown uvicorn raises the SIGTERM it caught again. With the default handler that kills
    # the process on the spot (exit -15, and `reactbin dev` left its embedded PostgreSQL running); this handler
    # turns it into a normal exit that runs every `finally`.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
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
            access_log=settings.access_log,
            timeout_graceful_shutdown=grace,
        )
        return
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        loop="uvloop",
        http="httptools",
        log_level="info",
        access_log=settings.access_log,
        timeout_graceful_shutdown=grace,
    )


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(0)


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
    async with (
        open_resources(settings, cpu_threads=concurrency, serving=False) as res,
        running_worker(res, concurrency=concurrency),
    ):
        await stop.wait()
        log.info("stopping: waiting for running jobs")


@contextlib.contextmanager
def _embedded_defaults(settings: Settings, data_dir: Path) -> Iterator[Settings]:
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
        applied = asyncio.run(_migrate(settings.database_url or ""))
        if applied:
            log.info("applied migrations %s", ", ".join(applied))
        yield settings
    finally:
        if owned is not None:
            owned.stop()


def _dev(settings: Settings, host: str, port: int, data_dir: Path) -> None:
    with _embedded_defaults(settings, data_dir) as local:
        log.info("reactbin is running at http://%s:%d", host, port)
        _serve(local, host, port)


def _fsck(settings: Settings, data_dir: Path, *, repair: bool) -> int:
    from reactbin.domain import fsck
    from reactbin.domain.resources import open_resources

    async def run(local: Settings) -> fsck.Report:
        async with open_resources(local, serving=False) as res:
            return await fsck.check(res, repair=repair)

    with _embedded_defaults(settings, data_dir) as local:
        report = asyncio.run(run(local))
    print(f"checked {report.images_checked} images and {report.objects_checked} objects")
    sections = [
        ("images whose original is missing", report.missing_originals),
        ("images without a thumbnail", report.missing_thumbnails),
        ("objects no image references", report.orphan_objects),
        ("thumbnails regenerated", report.thumbnails_regenerated),
        ("orphans removed", report.orphans_removed),
        ("repairs that failed", report.repair_failures),
    ]
    for title, items in sections:
        if items:
            print(f"{title}: {len(items)}")
            for item in items:
                print(f"  {item}")
    if report.clean:
        print("everything is consistent")
    elif not repair:
        print("dry run: nothing changed; run `reactbin fsck --repair` to regenerate thumbnails and remove orphans")
    return 0 if report.clean or (repair and not report.repair_failures and not report.missing_originals) else 1


def _reindex(settings: Settings, data_dir: Path, kinds: list[str], *, redo_all: bool, wait: bool) -> None:
    from reactbin.domain.resources import open_resources

    async def run(local: Settings) -> None:
        async with open_resources(local, serving=False) as res:
            for kind in kinds:
                await _REINDEX_KINDS[kind](res, redo_all, wait)

    with _embedded_defaults(settings, data_dir) as local:
        try:
            asyncio.run(run(local))
        except KeyboardInterrupt:
            print("\nstopped watching; the queued work goes on in the workers", file=sys.stderr)
            raise SystemExit(130) from None


async def _reindex_ocr(res: Resources, redo_all: bool, wait: bool) -> None:
    """Queue OCR for images that need it, then print `queued / done / failed / rate` until none is pending."""
    from reactbin.domain import captions

    async with res.db() as conn:
        since = await conn.fetchval("SELECT now()")
    queued = 0
    async for queued in captions.queue_reindex(res, redo_all=redo_all):
        print(f"ocr: queued {queued}", flush=True)
    print(f"ocr: {queued} image(s) queued" + ("" if queued else "; nothing to do"), flush=True)
    if not wait or not queued:
        return
    started = time.monotonic()
    interactive = sys.stdout.isatty()
    last_line = 0.0
    hinted = False
    while True:
        counts = await captions.reindex_counts(res, since)
        if not hinted and counts.done + counts.failed == 0 and time.monotonic() - started > _IDLE_HINT_AFTER:
            hinted = True
            print(
                "\nocr: nothing read yet: is a worker with RUN_OCR running (`reactbin worker`, or `serve`/`dev`)? "
                "Ctrl-C stops watching; the queued work stays queued",
                file=sys.stderr,
                flush=True,
            )
        elapsed = max(time.monotonic() - started, 1e-3)
        line = (
            f"ocr: queued {queued}, done {counts.done}, failed {counts.failed}, pending {counts.pending}, "
            f"{(counts.done + counts.failed) / elapsed:.1f} images/s"
        )
        finished = counts.pending == 0
        if interactive:
            print("\r" + line, end="\n" if finished else "", flush=True)
        elif finished or time.monotonic() - last_line >= 5:
            print(line, flush=True)
            last_line = time.monotonic()
        if finished:
            return
        await asyncio.sleep(0.5)


_IDLE_HINT_AFTER = 60.0

_REINDEX_KINDS: dict[str, Callable[[Resources, bool, bool], Awaitable[None]]] = {"ocr": _reindex_ocr}
"""What `reactbin reindex --<kind>` queues; with no kind given, every one in this order."""


def _print_openapi(settings: Settings) -> None:
    from reactbin.app import create_app

    app = create_app(settings)
    print(json.dumps(app.openapi_schema.to_schema(), indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
