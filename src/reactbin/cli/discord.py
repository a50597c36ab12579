"""`reactbin discord register`: the /react command, registered with Discord (once, and after changes to it)."""

from __future__ import annotations

import argparse
import asyncio
import sys

from reactbin.cli.common import load_settings
from reactbin.settings import ConfigError


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    discord = commands.add_parser("discord", help="Discord's /react command")
    discord_commands = discord.add_subparsers(dest="discord_command", required=True)
    registration = discord_commands.add_parser(
        "register",
        help="register (or update) the global /react command (DISCORD_APPLICATION_ID, DISCORD_BOT_TOKEN)",
        description="Creates or updates the global /react command of the Discord application, with an autocompleted "
        "query option, through Discord's REST API (DISCORD_API_URL). Safe to run again.",
    )
    registration.set_defaults(run=run_register)


def run_register(args: argparse.Namespace) -> int:
    from reactbin.integrations.discord import RegistrationError, register_command

    settings = load_settings()
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
