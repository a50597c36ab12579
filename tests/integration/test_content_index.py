"""Revalidations answered from memory stay correct across replicas: deletes reach every process."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import asyncpg
from litestar.testing import AsyncTestClient

from reactbin.db.listener import subscribed
from reactbin.domain.serving.index import LISTENER_NAME
from tests.conftest import AppFactory, settings_of, upload


async def _status_soon(client: AsyncTestClient[Any], url: str, etag: str, wanted: int) -> int:
    status = 0
    for _ in range(40):
        status = (await client.get(url, headers={"if-none-match": etag})).status_code
        if status == wanted:
            break
        await asyncio.sleep(0.05)
    return status


async def test_a_delete_on_one_replica_stops_revalidations_on_another(make_client: AppFactory) -> None:
    async with make_client() as one:
        bucket = settings_of(one).s3.bucket  # type: ignore[union-attr]
        async with make_client(s3={"bucket": bucket}) as two:
            image = (await upload(one, "photo.jpg")).json()
            etag = f'"{image["hash"]}"'
            # Replica two answers (and remembers) the revalidation.
            assert await _status_soon(two, image["file_url"], etag, 304) == 304
            assert (await two.get(image["file_url"], headers={"if-none-match": etag})).status_code == 304

            assert (await one.delete(f"/api/v1/images/{image['id']}")).status_code == 204

            assert await _status_soon(two, image["file_url"], etag, 404) == 404


async def test_without_its_listener_a_replica_asks_the_database(make_client: AppFactory, database_url: str) -> None:
    async with make_client() as client:
        image = (await upload(client, "photo.jpg")).json()
        etag = f'"{image["hash"]}"'
        assert await _status_soon(client, image["file_url"], etag, 304) == 304
        conn = await asyncpg.connect(database_url)
        try:
            # Cut the invalidation listener, then delete the row behind the app's back (no notification at all).
            await conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1", LISTENER_NAME
            )
            await asyncio.sleep(0.2)
            await conn.execute("DELETE FROM images WHERE id = $1", image["id"])
        finally:
            await conn.close()

        assert (await client.get(image["file_url"], headers={"if-none-match": etag})).status_code == 404


class _Idle:
    def __init__(self) -> None:
        self.live = False

    def set_live(self, live: bool) -> None:
        self.live = live

    def on_notify(self, conn: object, pid: int, channel: str, payload: object) -> None:
        pass


async def test_leaving_a_subscription_ends_it_even_as_its_probe_completes(database_url: str) -> None:
    """A shutdown that cancels the listener just as its liveness probe returns still ends it: on Python 3.11,
    `asyncio.wait_for` swallowed such a cancellation and a test app's shutdown once waited forever."""
    subscriber = _Idle()
    for _ in range(40):
        # A lost cancellation would hang the exit: bounded by a timeout (which cancels again), it shows as expired.
        bound = asyncio.timeout(3)
        async with (
            bound,
            subscribed(
                subscriber,
                database_url,
                "reactbin_test_probe",
                name="probe-test",
                connect_timeout=5,
                reconnect_delay=0.001,
            ),
        ):
            # The loop probes every millisecond, so many exits land while a probe is completing.
            await asyncio.sleep(random.uniform(0.005, 0.03))
        assert not bound.expired(), "leaving the block did not end the listener"
    assert not subscriber.live
