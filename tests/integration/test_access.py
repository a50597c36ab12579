"""Write tokens, upload rate limits and the security headers every response carries."""

from __future__ import annotations

from typing import Any

import pytest

from reactbin.settings import RateLimit
from tests.conftest import AppFactory, upload

TOKEN = "t0k3n-for-tests-0123456789"


async def test_without_tokens_nothing_changes(make_client: AppFactory) -> None:
    async with make_client() as client:
        assert (await upload(client, "photo.jpg")).status_code == 201


async def test_tokens_guard_every_write_and_leave_reads_public(make_client: AppFactory) -> None:
    async with make_client(api_tokens=("another-token-abcdefghij", TOKEN)) as client:
        good = {"authorization": f"Bearer {TOKEN}"}
        refused = [
            await upload(client, "photo.jpg"),
            await client.post(
                "/api/v1/images",
                files={"file": ("a.jpg", b"x", "image/jpeg")},
                headers={"authorization": "Bearer wrong-token-0123456789"},
            ),
            await client.post(
                "/api/v1/images", files={"file": ("a.jpg", b"x", "image/jpeg")}, headers={"authorization": TOKEN}
            ),
        ]
        created = await client.post(
            "/api/v1/images", files={"file": ("photo.jpg", _photo(), "image/jpeg")}, headers=good
        )
        image = created.json()
        url = f"/api/v1/images/{image['id']}"
        patch_refused = await client.patch(f"{url}/tags", json={"tags": ["x"]})
        text_refused = await client.patch(url, json={"text": "x"})
        delete_refused = await client.delete(url)
        job_refused = await client.post("/api/v1/thumbnails/", files={"image": ("a.jpg", _photo(), "image/jpeg")})
        reads = [
            await client.get("/api/v1/images"),
            await client.get(url),
            await client.get(f"{url}/file"),
            await client.get("/api/v1/tags"),
        ]
        patched = await client.patch(f"{url}/tags", json={"tags": ["x"]}, headers=good)
        text_patched = await client.patch(url, json={"text": "x"}, headers=good)
        deleted = await client.delete(url, headers=good)

    for response in [*refused, patch_refused, text_refused, delete_refused, job_refused]:
        assert response.status_code == 401
        assert response.json()["code"] == "unauthorized"
        assert response.headers["www-authenticate"].startswith("Bearer")
    assert created.status_code == 201
    assert all(r.status_code == 200 for r in reads)
    assert patched.status_code == 200
    assert text_patched.status_code == 200
    assert deleted.status_code == 204


@pytest.mark.parametrize("store", ["memory", "postgres"])
async def test_uploads_are_rate_limited_with_headers(make_client: AppFactory, store: str) -> None:
    async with make_client(upload_rate_limit=RateLimit(3, 3600), rate_limit_store=store) as client:
        answers = [await upload(client, name) for name in ("photo.jpg", "alpha.png", "tiny.png", "image.webp")]
        reads = await client.get("/api/v1/images")

    assert [a.status_code for a in answers] == [201, 201, 201, 429]
    assert [a.headers["ratelimit-remaining"] for a in answers] == ["2", "1", "0", "0"]
    assert answers[0].headers["ratelimit-limit"] == "3"
    assert answers[0].headers["ratelimit-policy"] == "3;w=3600"
    limited = answers[3]
    assert limited.json()["code"] == "rate_limited"
    assert int(limited.headers["retry-after"]) > 0
    assert reads.status_code == 200
    assert "ratelimit-limit" not in reads.headers


async def test_postgres_store_shares_the_limit_between_replicas(make_client: AppFactory) -> None:
    settings: dict[str, Any] = {"upload_rate_limit": RateLimit(2, 3600), "rate_limit_store": "postgres"}
    async with make_client(**settings) as one, make_client(**settings) as two:
        answers = [await upload(one, "photo.jpg"), await upload(two, "alpha.png"), await upload(one, "tiny.png")]
    assert [a.status_code for a in answers] == [201, 201, 429]


async def test_security_headers_on_every_response(make_client: AppFactory) -> None:
    async with make_client(public_base_url="https://cdn.example.com") as client:
        image = (await upload(client, "photo.jpg")).json()
        responses = {
            "page": await client.get("/"),
            "deep link": await client.get(f"/images/{image['id']}"),
            "json": await client.get("/api/v1/images"),
            "error": await client.get("/api/v1/images/nope"),
            "unknown path": await client.get("/api/v1/nothing-here"),
            "file": await client.get(f"/api/v1/images/{image['id']}/file"),
        }

    for name, response in responses.items():
        assert response.headers["x-content-type-options"] == "nosniff", name
        assert response.headers["referrer-policy"] == "no-referrer", name
        assert "content-security-policy" in response.headers, name
    page_csp = responses["page"].headers["content-security-policy"]
    assert "frame-ancestors 'none'" in page_csp
    assert "script-src 'self'" in page_csp
    assert "img-src 'self' data: blob: https://cdn.example.com" in page_csp
    assert "media-src 'self' https://cdn.example.com" in page_csp  # videos play from the CDN
    assert responses["json"].headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
    # User bytes keep their own, stricter policy.
    assert responses["file"].headers["content-security-policy"] == "default-src 'none'; sandbox"


def _photo() -> bytes:
    from tests.conftest import fixture_bytes

    return fixture_bytes("photo.jpg")
