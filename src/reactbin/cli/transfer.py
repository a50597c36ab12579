"""`reactbin import | export`: a library in and out, as a client of a server's HTTP API (so every rule applies)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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
    importer.set_defaults(run=run_import, parser=importer)

    exporter = commands.add_parser("export", help="write every original and a manifest.json into DIR")
    exporter.add_argument("directory", type=Path, metavar="DIR")
    _client_arguments(exporter)
    exporter.set_defaults(run=run_export)


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


def run_import(args: argparse.Namespace) -> int:
    from reactbin.transfer import importer
    from reactbin.transfer.walk import Problem, find_files

    if not args.paths and args.manifest is None:
        args.parser.error("import needs a PATH or --manifest")
    if args.jobs < 1:
        args.parser.error("--jobs must be at least 1")
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


def run_export(args: argparse.Namespace) -> int:
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
