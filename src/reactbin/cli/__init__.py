"""The `reactbin` command. Each group of subcommands is a module here that registers its parsers; the settings are
read from the environment by the commands that need them, and nowhere else.

A group module has `register(commands)`, which adds its subcommands and sets `run` on each: a function of the
parsed arguments that returns the exit status.
"""

from __future__ import annotations

import argparse
import logging
import sys

from reactbin.cli import discord, maintenance, server, transfer, users
from reactbin.logs import configure_logging
from reactbin.settings import ConfigError

GROUPS = (server, maintenance, transfer, users, discord)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="reactbin", description="A self-hosted library of reaction images.")
    commands = parser.add_subparsers(dest="command", required=True)
    for group in GROUPS:
        group.register(commands)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    configure_logging("text")
    # httpx logs every request at INFO; import and export report progress themselves.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        status = args.run(args)
    except ConfigError as exc:
        print(f"reactbin: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    raise SystemExit(status)
