"""One contract, both backends: the filesystem store and a real S3 server behave the same."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from reactbin.errors import ObjectMissing
from reactbin.settings import Settings
from reactbin.storage import Storage, open_storage
from tests.conftest import S3Server


@pytest.fixture(params=["filesystem", "s3"])
async def storage(request: pytest.FixtureRequest, s3_server: S3Server, tmp_path: Path) -> AsyncIterator[Storage]:
    if request.param == "s3":
        settings = Settings(storage_backend="s3", s3=s3_server.settings(s3_server.new_bucket()))
    else:
        settings = Settings(storage_backend="filesystem", storage_dir=tmp_path / "store")
    async with open_storage(settings) as opened:
        yield opened


async def read_all(storage: Storage, key: str, byte_range: tuple[int, int] | None = None) -> bytes:
    reader = await storage.open(key, byte_range)
    return b"".join([chunk async for chunk in reader.chunks()])


async def test_put_bytes_then_read_back(storage: Storage) -> None:
    await storage.put_bytes("thumbnails/v1/abc.webp", b"hello", "image/webp")

    assert await storage.exists("thumbnails/v1/abc.webp")
    assert await storage.read_bytes("thumbnails/v1/abc.webp") == b"hello"
    assert await read_all(storage, "thumbnails/v1/abc.webp") == b"hello"


async def test_put_file_streams_large_objects_in_chunks(storage: Storage, tmp_path: Path) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    path = tmp_path / "big.bin"
    path.write_bytes(data)

    await storage.put_file("images/big.png", path, "image/png")
    reader = await storage.open("images/big.png")
    chunks = [chunk async for chunk in reader.chunks()]

    assert b"".join(chunks) == data
    assert len(chunks) > 1
    assert max(len(c) for c in chunks) <= 1024 * 1024


async def test_ranges_are_inclusive(storage: Storage) -> None:
    await storage.put_bytes("images/r.gif", bytes(range(256)), "image/gif")

    assert await read_all(storage, "images/r.gif", (10, 19)) == bytes(range(10, 20))
    assert await read_all(storage, "images/r.gif", (250, 255)) == bytes(range(250, 256))


async def test_missing_keys(storage: Storage) -> None:
    assert not await storage.exists("images/none.jpg")
    with pytest.raises(ObjectMissing):
        await storage.open("images/none.jpg")
    with pytest.raises(ObjectMissing):
        await storage.read_bytes("images/none.jpg")
    await storage.delete("images/none.jpg")  # not an error


async def test_delete_and_list(storage: Storage) -> None:
    for key in ("images/a.jpg", "images/b.jpg", "thumbnails/v1/a.webp"):
        await storage.put_bytes(key, b"x", "image/jpeg")

    assert [k async for k in storage.list_keys("images/")] == ["images/a.jpg", "images/b.jpg"]
    await storage.delete("images/a.jpg")
    assert not await storage.exists("images/a.jpg")
    assert sorted([k async for k in storage.list_keys("")]) == ["images/b.jpg", "thumbnails/v1/a.webp"]


async def test_overwrite_replaces_content(storage: Storage) -> None:
    await storage.put_bytes("images/o.png", b"one", "image/png")
    await storage.put_bytes("images/o.png", b"two", "image/png")
    assert await storage.read_bytes("images/o.png") == b"two"


async def test_closing_early_is_safe(storage: Storage) -> None:
    await storage.put_bytes("images/c.png", os.urandom(2 * 1024 * 1024), "image/png")
    for _ in range(40):  # more than the S3 connection pool holds: unclosed bodies would exhaust it
        reader = await storage.open("images/c.png")
        async for _chunk in reader.chunks():
            break
        await reader.aclose()
    assert len(await storage.read_bytes("images/c.png")) == 2 * 1024 * 1024


async def test_check_passes(storage: Storage) -> None:
    await storage.check()


async def test_hand_signed_gets_match_botocore() -> None:
    """The proxy's reads and the upload's writes are signed here; the signature must be the one botocore would send."""
    import datetime as dt

    import aiohttp
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    from reactbin.storage.sigv4 import SignedRequests

    class UnsignedPayload(S3SigV4Auth):
        def payload(self, request: AWSRequest) -> str:
            return "UNSIGNED-PAYLOAD"

    async with aiohttp.ClientSession() as session:
        for endpoint, region in [("http://127.0.0.1:8333", "us-east-1"), ("https://acct.r2.example.com", "auto")]:
            getter = SignedRequests(
                session,
                endpoint_url=endpoint,
                bucket="bucket-1",
                region=region,
                access_key_id="AK",
                secret_access_key="SK",
            )
            for method in ("GET", "PUT"):
                request = AWSRequest(method=method, url=f"{endpoint}/bucket-1/thumbnails/v1/{'ab' * 32}.webp")
                UnsignedPayload(Credentials("AK", "SK"), "s3", region).add_auth(request)
                stamp = request.headers["X-Amz-Date"]
                now = dt.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)

                ours = getter.headers(f"/bucket-1/thumbnails/v1/{'ab' * 32}.webp", now, method)

                assert ours["authorization"] == request.headers["Authorization"], method
