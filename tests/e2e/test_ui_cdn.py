"""With `S3_PUBLIC_BASE_URL` set, the browser loads image bytes from the CDN (a local stand-in) and nowhere else."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from playwright.async_api import Browser, expect

from tests.e2e.conftest import CdnServer, Session, browser_session, make_image, origin_of, thumbnails_loaded


@pytest.fixture
async def cdn_app(cdn_server: CdnServer) -> CdnServer:
    await cdn_server.server.reset()
    cdn_server.cdn.hits.clear()
    return cdn_server


@pytest.fixture
async def cdn_session(browser: Browser, cdn_app: CdnServer) -> AsyncIterator[Session]:
    async with browser_session(browser, cdn_app.server.url, other_origins=(cdn_app.cdn.url,)) as session:
        yield session


async def test_images_load_from_the_cdn_and_stay_cached(cdn_session: Session, cdn_app: CdnServer) -> None:
    server, cdn = cdn_app.server, cdn_app.cdn
    uploaded = [await server.upload(f"cdn-{seed}.png", make_image(60 + seed, (360, 240)), "cdn") for seed in range(3)]
    for image in uploaded:
        assert image["file_url"] == f"{cdn.url}/{image['storage_key']}"
        assert image["thumbnail_url"] == f"{cdn.url}/{image['thumbnail_key']}"

    page = cdn_session.page
    await cdn_session.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
    await page.goto("/")
    assert await thumbnails_loaded(page, 3) == [360, 360, 360]
    srcs = await page.locator(".grid img").evaluate_all("imgs => imgs.map(img => img.currentSrc)")
    assert srcs == [image["thumbnail_url"] for image in reversed(uploaded)]
    assert sorted(cdn.hits) == sorted(f"/{image['thumbnail_key']}" for image in uploaded)
    api_images = [url for url in cdn_session.requests if "/file" in url or "/thumbnail" in url]
    assert [url for url in api_images if origin_of(url) == server.url] == []

    # The detail page shows the original from the CDN, and "Copy link" copies the CDN URL as it is.
    image = uploaded[0]
    await page.locator(f'a[data-id="{image["id"]}"]').click()
    # The original is asked for once the thumbnail has painted (Detail.tsx).
    await expect(page.locator("img.full")).to_have_attribute("src", image["file_url"])
    await expect(page.locator("img.full")).to_have_js_property("complete", True)
    await expect(page.locator("img.full")).to_have_js_property("naturalWidth", 360)
    assert f"/{image['storage_key']}" in cdn.hits
    await page.get_by_role("button", name="Copy link").click()
    await expect(page.get_by_text("Link copied")).to_be_visible()
    assert await page.evaluate("navigator.clipboard.readText()") == image["file_url"]
    download = page.get_by_role("link", name="Download")
    await expect(download).to_have_attribute("href", image["file_url"])
    await expect(download).to_have_attribute("target", "_blank")  # `download` is ignored across origins

    # A second visit takes every image from the browser's cache: the CDN sees no new request.
    hits_before = len(cdn.hits)
    second = await cdn_session.context.new_page()
    cdp = await cdn_session.context.new_cdp_session(second)
    responses: dict[str, dict[str, Any]] = {}
    cdp.on("Network.responseReceived", lambda event: responses.__setitem__(event["response"]["url"], event["response"]))
    await cdp.send("Network.enable")
    await second.goto("/")
    assert await thumbnails_loaded(second, 3) == [360, 360, 360]
    await second.goto(f"/images/{image['id']}")
    await expect(second.locator("img.full")).to_have_attribute("src", image["file_url"])
    await expect(second.locator("img.full")).to_have_js_property("complete", True)
    await expect(second.locator("img.full")).to_have_js_property("naturalWidth", 360)
    assert len(cdn.hits) == hits_before, cdn.hits[hits_before:]
    from_cdn = {url: response for url, response in responses.items() if url.startswith(cdn.url)}
    assert len(from_cdn) == 4
    assert all(r.get("fromDiskCache") or r.get("fromMemoryCache") for r in from_cdn.values()), from_cdn
