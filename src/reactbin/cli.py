"""`reactbin serve | migrate | dev | worker | fsck | reindex | openapi | import | export | discord`: the only place
that reads the environment."""

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
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import asyncpg
import msgspec

from reactbin.logs import configure_logging, uvicorn_log_config
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
        help="queue background work again for existing images (workers do it); safe while serving, any workers",
        description="Queue work for existing images, one or more kinds: --ocr, --media. Workers (`reactbin worker`, "
        "or `serve`/`dev`) do the work; --ocr shows their progress until it is done.",
    )
    reindex.add_argument(
        "--ocr", action="store_true", help="caption text (OCR): images whose text is pending or failed"
    )
    reindex.add_argument(
        "--media",
        action="store_true",
        help="probe media kind, duration and sound; make missing placeholders and previews",
    )
    reindex.add_argument(
        "--all",
        action="store_true",
        help="every image, not only those that lack something (OCR: hand-set text stays)",
    )
    reindex.add_argument("--no-wait", action="store_true", help="queue and exit without watching the progress")
    reindex.add_argument("--data-dir", type=Path, default=Path("data"), help="embedded data (without DATABASE_URL)")

    commands.add_parser("openapi", help="print the OpenAPI schema as JSON")

    importer = commands.add_parser(
        "import",
        help="import files and folders into a server over its API (safe to re-run: known files are skipped)",
        description="Walks the given files and folders, skips files the server already has (by SHA-256, without "
        "sending them), uploads the rest in parallel and prints a summary. Exit code 1 when any file failed, "
        "130 when interrupted with Ctrl+C.",
    )
    importer.add_argument("paths", nargs="*", type=Path, metavar="PATH", help="files and folders to import")
    importer.add_argument("--manifest", type=Path, help="restore an export: the manifest.json `reactbin export` wrote")
    importer.add_argument("--tag", action="append", default=[], help="add this tag to every file (repeatable)")
    importer.add_argument(
        "--tags-from-folders", action="store_true", help="tag each file with the names of its folders below PATH"
    )
    _client_arguments(importer)

    exporter = commands.add_parser("export", help="write every original and a manifest.json into DIR")
    exporter.add_argument("directory", type=Path, metavar="DIR")
    _client_arguments(exporter)

    discord = commands.add_parser("discord", help="Discord's /react command")
    discord_commands = discord.add_subparsers(dest="discord_command", required=True)
    discord_commands.add_parser(
        "register",
        help="register (or update) the global /react command (DISCORD_APPLICATION_ID, DISCORD_BOT_TOKEN)",
    )

    args = parser.parse_args(argv)
    configure_logging("text")
    # httpx logs every request at INFO; import and export report progress themselves.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if args.command == "import":
        raise SystemExit(_import(parser, args))
    if args.command == "export":
        raise SystemExit(_export(args))
    try:
        settings = Settings.from_env()
        configure_logging(settings.log_format)
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
            kinds = [kind for kind in _REINDEX_KINDS if getattr(args, kind)]
            if not kinds:
                raise ConfigError("say what to reindex: --ocr, --media, or both")
            _reindex(settings, args.data_dir, kinds, redo_all=args.all, wait=not args.no_wait)
        elif args.command == "openapi":
            _print_openapi(settings)
        elif args.command == "discord":
            raise SystemExit(_discord_register(settings))
    except ConfigError as exc:
        print(f"reactbin: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def _client_arguments(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--server",
        default=os.environ.get("REACTBIN_SERVER", "http://127.0.0.1:8000"),
        help="the server's URL (default: REACTBIN_SERVER, else http://127.0.0.1:8000)",
    )
    command.add_argument(
        "--token", default=os.environ.get("REACTBIN_TOKEN") or None, help="write token (default: REACTBIN_TOKEN)"
    )
    command.add_argument("--jobs", type=int, default=4, help="files sent or fetched at once (default 4)")
    command.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for any one answer")


def _import(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from reactbin.transfer import importer
    from reactbin.transfer.walk import Problem, find_files

    if not args.paths and args.manifest is None:
        parser.error("import needs a PATH or --manifest")
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    try:
        items: list[importer.Item] = []
        problems: list[Problem] = []
        if args.manifest is not None:
            items, problems = importer.items_from_manifest(args.manifest)
        if args.paths:
            extra = tuple(tag.strip() for tag in args.tag if tag.strip())
            found = find_files(args.paths, extra_tags=extra, tags_from_folders=args.tags_from_folders)
            items += importer.items_from_walk(found.files)
            problems += found.problems
            if found.hidden:
                print(f"left out {found.hidden} hidden file(s) and folder(s)", file=sys.stderr)
        summary = asyncio.run(
            importer.run_import(
                args.server,
                args.token,
                items,
                problems,
                jobs=args.jobs,
                stream=sys.stderr,
                timeout=args.timeout,
            )
        )
    except importer.Fatal as exc:
        print(f"reactbin import: {exc}", file=sys.stderr)
        return 2
    print(summary.render())
    if summary.interrupted:
        return 130
    return 1 if summary.failed else 0


def _export(args: argparse.Namespace) -> int:
    from reactbin.transfer.exporter import ExportError, run_export

    if args.jobs < 1:
        print("reactbin export: --jobs must be at least 1", file=sys.stderr)
        return 2
    try:
        summary = asyncio.run(
            run_export(args.server, args.token, args.directory, jobs=args.jobs, stream=sys.stderr, timeout=args.timeout)
        )
    except (ExportError, OSError) as exc:
        print(f"reactbin export: {exc}", file=sys.stderr)
        return 2
    print(summary.render(args.directory))
    return 1 if summary.failed else 0


def _discord_register(settings: Settings) -> int:
    from reactbin.integrations.discord import RegistrationError, register_command

    application_id, token = settings.discord_application_id, settings.discord_bot_token
    if application_id is None:
        raise ConfigError("DISCORD_APPLICATION_ID is required to register the command (Developer Portal: General)")
    if token is None:
        raise ConfigError("DISCORD_BOT_TOKEN is required to register the command (Developer Portal: Bot)")
    try:
        command_id = asyncio.run(register_command(settings.discord_api_url, application_id, token))
    except RegistrationError as exc:
        print(f"reactbin: {exc}", file=sys.stderr)
        return 1
    print(
        f"registered /react (command {command_id}) for application {application_id}; "
        "Discord can take a minute to show it in every server"
    )
    return 0


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
        with _metrics_shared_by_workers(settings):
            uvicorn.run("reactbin.cli:app_from_env", factory=True, workers=workers, **common)  # type: ignore[arg-type]
        return
    uvicorn.run(create_app(settings), **common)  # type: ignore[arg-type]


# Read by prometheus-client when it is imported; named here so the parent process never imports it.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


@contextlib.contextmanager
def _metrics_shared_by_workers(settings: Settings) -> Iterator[None]:
    """prometheus-client's multiprocess mode for `--workers N`: a directory of value files every worker writes.

    Set before any worker imports prometheus-client. An operator's PROMETHEUS_MULTIPROC_DIR is emptied at start
    (old files would add counts of processes long gone); otherwise a temporary one is made and removed after.
    """
    if not settings.metrics:
        yield
        return
    given = os.environ.get(MULTIPROC_ENV)
    path = Path(given) if given else Path(tempfile.mkdtemp(prefix="reactbin-metrics-"))
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink()
    os.environ[MULTIPROC_ENV] = str(path)
    try:
        yield
    finally:
        if not given:
            shutil.rmtree(path, ignore_errors=True)


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(0)


def app_from_env() -> object:
    """Factory for uvicorn worker processes."""
    from reactbin.app import create_app

    settings = Settings.from_env()
    configure_logging(settings.log_format)
    return create_app(settings)


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
        ("images without their preview, placeholder or media facts", report.missing_media),
        ("objects no image references", report.orphan_objects),
        ("thumbnails regenerated", report.thumbnails_regenerated),
        ("previews, placeholders and media facts made", report.media_repaired),
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


async def _reindex_media(res: Resources, redo_all: bool, wait: bool) -> None:
    from reactbin.domain.media import queue_reindex

    queued = await queue_reindex(res, everything=redo_all)
    print(f"queued media work for {queued} image(s); `reactbin worker` (or serve/dev) processes it", flush=True)


_REINDEX_KINDS: dict[str, Callable[[Resources, bool, bool], Awaitable[None]]] = {
    "media": _reindex_media,
    "ocr": _reindex_ocr,
}
"""What `reactbin reindex --<kind>` queues, in this order."""


def _print_openapi(settings: Settings) -> None:
    from reactbin.app import create_app

    app = create_app(settings)
    print(json.dumps(app.openapi_schema.to_schema(), indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
