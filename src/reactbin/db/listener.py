"""A LISTEN subscription kept for as long as a block runs, reconnecting after outages.

In-process caches (the content index, the accounts cache) follow changes made by every replica this way; while the
connection is down they call themselves not live and stop trusting what they hold.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Protocol

import asyncpg

_FAILURES = (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError)
"""What a lost or restarting server raises. `InternalClientError` too: a probe sent while the connection is still
taking in the server's "terminating connection" error finds "another operation in progress"."""


class Subscriber(Protocol):
    def set_live(self, live: bool) -> None:
        """Called with True once the subscription is up and False whenever it is lost."""

    def on_notify(self, conn: object, pid: int, channel: str, payload: object) -> None:
        """Called for each notification on the channel."""


@contextlib.asynccontextmanager
async def subscribed(
    subscriber: Subscriber,
    dsn: str,
    channel: str,
    *,
    name: str,
    connect_timeout: float,
    reconnect_delay: float = 1.0,
) -> AsyncIterator[None]:
    """Keep `subscriber` listening on `channel` (as connection `name`) for the block."""

    async def follow() -> None:
        while True:
            try:
                conn = await asyncpg.connect(dsn, timeout=connect_timeout, server_settings={"application_name": name})
            except _FAILURES:
                await asyncio.sleep(reconnect_delay)
                continue
            try:
                conn.add_termination_listener(lambda _conn: subscriber.set_live(False))
                await conn.add_listener(channel, subscriber.on_notify)
                subscriber.set_live(True)
                while not conn.is_closed():
                    await asyncio.sleep(reconnect_delay)
                    # A cheap probe also notices a server that vanished without closing the socket. Not
                    # `asyncio.wait_for`: on Python 3.11 it swallows a cancellation that arrives as the probe
                    # completes (CPython gh-86296), and the block's exit then waits for this loop forever.
                    async with asyncio.timeout(connect_timeout):
                        await conn.fetchval("SELECT 1")
            except _FAILURES:
                pass
            finally:
                subscriber.set_live(False)
                with contextlib.suppress(Exception):
                    await conn.close(timeout=1)
            await asyncio.sleep(reconnect_delay)

    task = asyncio.create_task(follow(), name=f"{name}-listener")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
