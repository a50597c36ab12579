"""No response, header or error ever names the storage endpoint, the bucket or the credentials."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import boto3
from litestar.testing import AsyncTestClient

from tests.conftest import FAST_S3, AppFactory, S3Server, fixture_bytes, settings_of, storage_hung, upload


def _secrets(client: AsyncTestClient[Any], s3_server: S3Server) -> list[str]:
    s3 = settings_of(client).s3
    assert s3 is not None
    endpoint = urlsplit(s3_server.endpoint_url)
    return [
        s3_server.endpoint_url,
        endpoint.netloc,
        str(endpoint.port),
        s3.bucket,
        s3_server.access_key,
        s3_server.secret_key,
        "amazonaws",
        "X-Amz",
        "presigned",
        "Signature=",
    ]


async def test_every_response_is_free_of_storage_details(make_client: AppFactory, s3_server: S3Server) -> None:
    responses = []
    async with make_client(s3=FAST_S3) as client:
        secrets = _secrets(client, s3_server)
        created = await upload(client, "photo.jpg", tags="cat")
        image = created.json()
        image_url = f"/api/v1/images/{image['id']}"
        responses += [
            created,
            await upload(client, "photo.jpg"),
            await upload(client, "not-an-image.txt"),
            await upload(client, "truncated.png"),
            await client.get("/api/v1/images"),
            await client.get("/api/v1/images", params={"tag": "cat"}),
            await client.get(image_url),
            await client.patch(f"{image_url}/tags", json={"tags": ["dog"]}),
            await client.get(f"{image_url}/file"),
            await client.head(f"{image_url}/file"),
            await client.get(f"{image_url}/thumbnail"),
            await client.get(f"{image_url}/file", headers={"range": "bytes=0-3"}),
            await client.get(f"{image_url}/file", headers={"range": "bytes=999999-"}),
            await client.get("/api/v1/tags", params={"prefix": "d"}),
            await client.get("/api/v1/health"),
            await client.get("/api/v1/ready"),
            await client.get("/api/docs/openapi.json"),
            await client.get("/"),
            await client.get("/api/v1/images/00000000-0000-0000-0000-000000000000/file"),
        ]
        # Failures are where internals usually leak: a hung store, a vanished object.
        other = (await upload(client, "alpha.png")).json()
        with storage_hung(s3_server):
            responses += [
                await client.get(f"/api/v1/images/{other['id']}/file"),
                await client.get("/api/v1/ready"),
                await upload(client, "image.webp"),
                await client.delete(image_url),
            ]
        raw = boto3.client(
            "s3",
            endpoint_url=s3_server.endpoint_url,
            aws_access_key_id=s3_server.access_key,
            aws_secret_access_key=s3_server.secret_key,
            region_name="us-east-1",
        )
        raw.delete_object(Bucket=settings_of(client).s3.bucket, Key=other["storage_key"])  # type: ignore[union-attr]
        responses.append(await client.get(f"/api/v1/images/{other['id']}/file"))

    assert len(responses) > 20
    for response in responses:
        text = " ".join(f"{k}: {v}" for k, v in response.headers.items())
        if not response.headers.get("content-type", "").startswith("image/"):
            text += response.text
        for secret in secrets:
            assert secret not in text, f"{response.request.method} {response.request.url} leaks {secret!r}"


async def test_objects_carry_content_type_and_immutable_caching(
    client: AsyncTestClient[Any], s3_server: S3Server
) -> None:
    image = (await upload(client, "animated.gif")).json()
    raw = boto3.client(
        "s3",
        endpoint_url=s3_server.endpoint_url,
        aws_access_key_id=s3_server.access_key,
        aws_secret_access_key=s3_server.secret_key,
        region_name="us-east-1",
    )
    bucket = settings_of(client).s3.bucket  # type: ignore[union-attr]

    original = raw.head_object(Bucket=bucket, Key=image["storage_key"])
    thumbnail = raw.head_object(Bucket=bucket, Key=image["thumbnail_key"])

    assert original["ContentType"] == "image/gif"
    assert original["CacheControl"] == "public, max-age=31536000, immutable"
    assert original["ContentLength"] == len(fixture_bytes("animated.gif"))
    assert thumbnail["ContentType"] == "image/webp"
    assert thumbnail["CacheControl"] == "public, max-age=31536000, immutable"
