"""`reactbin users ...`: manage accounts from the server's shell (the first admin, a lost password, a lockout).

Works on the database of the environment's settings (or the embedded one of `reactbin dev` under `--data-dir`),
with the same rules as the API: names, password lengths, the last active admin. Passwords are generated and printed
once, or read from standard input (`--password-stdin`), never taken from the command line where `ps` shows them.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from reactbin.cli.common import data_dir_argument, embedded_defaults, load_settings
from reactbin.errors import ReactbinError
from reactbin.settings import Settings

if TYPE_CHECKING:
    from reactbin.domain.resources import Resources

ROLES = ("admin", "member", "viewer")


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `reactbin users` and its subcommands."""
    users = commands.add_parser("users", help="create users, change roles, disable, reset passwords")
    data_dir_argument(users)
    users.set_defaults(run=run)
    actions = users.add_subparsers(dest="action", required=True)

    create = actions.add_parser("create", help="create a user; prints a generated password unless --password-stdin")
    create.add_argument("name")
    create.add_argument("--role", choices=ROLES, default="member")
    create.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    create.set_defaults(act=_create)

    listing = actions.add_parser("list", help="list users with their role and state")
    listing.set_defaults(act=_list)

    role = actions.add_parser("set-role", help="change a user's role")
    role.add_argument("name")
    role.add_argument("role", choices=ROLES)
    role.set_defaults(act=_set_role)

    for action, disabled in (("disable", True), ("enable", False)):
        toggle = actions.add_parser(
            action,
            help="disable a user (their sessions and keys stop at once)" if disabled else "enable a disabled user",
        )
        toggle.add_argument("name")
        toggle.set_defaults(act=_toggle(disabled))

    reset = actions.add_parser("reset-password", help="set a new password (ends the user's sessions and keys)")
    reset.add_argument("name")
    reset.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    reset.set_defaults(act=_reset_password)

    remove = actions.add_parser("delete", help="delete a user; their uploads stay, with no uploader")
    remove.add_argument("name")
    remove.set_defaults(act=_delete)


Action = Callable[["Resources", argparse.Namespace], Awaitable[None]]


def run(args: argparse.Namespace) -> int:
    """Run the chosen action; 0 on success, 1 when the library refused it (the reason is printed)."""
    from reactbin.domain.resources import open_resources

    action: Action = args.act

    async def go(local: Settings) -> None:
        async with open_resources(local, cpu_threads=1, serving=False) as res:
            await action(res, args)

    with embedded_defaults(load_settings(), args.data_dir) as local:
        try:
            asyncio.run(go(local))
        except ReactbinError as exc:
            print(f"reactbin users: {exc.detail}", file=sys.stderr)
            return 1
    return 0


def _password(args: argparse.Namespace) -> tuple[str, bool]:
    """The password from standard input, or a generated one (True: print it)."""
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n"), False
    return secrets.token_urlsafe(15), True


async def _create(res: Resources, args: argparse.Namespace) -> None:
    from reactbin.domain import accounts

    password, generated = _password(args)
    user = await accounts.create_user(res, args.name, args.role, password)
    print(f"created {user.role} {user.name}")
    if generated:
        print(f"password (shown once): {password}")


async def _list(res: Resources, args: argparse.Namespace) -> None:
    from reactbin.domain import accounts

    for user in await accounts.list_users(res):
        state = "disabled" if user.disabled else "active"
        sign_in = ", ".join(kind for kind, has in (("password", user.has_password), ("oidc", user.oidc)) if has)
        print(f"{user.name}\t{user.role}\t{state}\t{sign_in or '-'}")


async def _set_role(res: Resources, args: argparse.Namespace) -> None:
    from reactbin.domain import accounts

    user = await accounts.find_user(res, args.name)
    changed = await accounts.update_user(res, user.id, accounts.UserChange(role=args.role))
    print(f"{changed.name} is now {changed.role}")


def _toggle(disabled: bool) -> Action:
    async def toggle(res: Resources, args: argparse.Namespace) -> None:
        from reactbin.domain import accounts

        user = await accounts.find_user(res, args.name)
        changed = await accounts.update_user(res, user.id, accounts.UserChange(disabled=disabled))
        print(f"{changed.name} is {'disabled' if changed.disabled else 'enabled'}")

    return toggle


async def _reset_password(res: Resources, args: argparse.Namespace) -> None:
    from reactbin.domain import accounts

    user = await accounts.find_user(res, args.name)
    password, generated = _password(args)
    await accounts.update_user(res, user.id, accounts.UserChange(password=password))
    print(f"new password for {user.name}" + (f" (shown once): {password}" if generated else " set"))


async def _delete(res: Resources, args: argparse.Namespace) -> None:
    from reactbin.domain import accounts

    user = await accounts.find_user(res, args.name)
    await accounts.delete_user(res, user.id)
    print(f"deleted {user.name}")
