"""Motion in the browser: placeholders first, hover previews (not under reduced motion), video playback through the
proxy and the CDN, Copy image vs copy link, and the keyboard flow."""

from __future__ import annotations

import asyncio
import re
import uuid
from typing import Any

from playwright.async_api import Browser, Page, Route, expect

from reactbin.domain.media_jobs import index_media
from reactbin.domain.resources import open_resources
from reactbin.settings import Settings
from tests.conftest import MEDIA, S3Server
from tests.e2e.conftest import PHONE, CdnServer, Session, browser_session, make_image
from tests.support.live import Server


async def upload_with_preview(server: Server, s3: S3Server, name: str, tags: str = "") -> dict[str, Any]:
    """Upload, then do the queued media job here (live servers run no worker: the queue is shared by the suite)."""
    image = await server.upload(name, (MEDIA / name).read_bytes(), tags)
    settings = Settings(database_url=server.database_url, storage_backend="s3", s3=s3.settings(server.bucket))
    async with open_resources(settings, serving=False) as res:
        outcome = await index_media(res, uuid.UUID(image["id"]))
    assert outcome.preview, outcome
    body: dict[str, Any] = (await server.get(f"/images/{image['id']}")).json()
    assert body["preview_url"]
    return body


async def wait_for_playback(page: Page, seconds: float = 0.3, timeout: float = 10.0) -> float:
    """Poll until the detail page's video has played past `seconds` (wait_for_function would need unsafe-eval,
    which the page's CSP refuses)."""
    deadline = asyncio.get_running_loop().time() + timeout
    video = page.locator("video.full")
    while True:
        state = await video.evaluate("v => [v.currentTime, v.error && v.error.message]")
        assert state[1] is None, f"the video failed: {state[1]}"
        if state[0] > seconds:
            return float(state[0])
        assert asyncio.get_running_loop().time() < deadline, f"the video did not play (currentTime {state[0]})"
        await asyncio.sleep(0.1)


async def test_placeholders_paint_before_any_thumbnail_byte(session_without_worker: Session, app: Server) -> None:
    session = session_without_worker  # thumbnails are held with page.route, which the service worker would bypass
    for seed in range(50):
        await app.upload(f"p{seed}.jpg", make_image(seed, (64, 48), fmt="JPEG"))
    page = session.page
    held: list[Route] = []

    async def hold(route: Route) -> None:
        held.append(route)  # never answered while we look: no thumbnail byte arrives

    await page.route("**/thumbnail", hold)
    await page.goto("/")
    tiles = page.locator(".grid .tile a")
    # The first page (30); the next may follow at once when the end of the grid is already near the viewport.
    await expect(tiles.nth(29)).to_be_attached()
    # The first tiles paint theirs with the grid, the rest a few milliseconds later (media.ts, usePlaceholder).
    for index in range(30):
        await expect(tiles.nth(index)).to_have_css("background-image", re.compile(r'^url\("data:image/png;base64,'))
    painted = await tiles.evaluate_all("as => as.map(a => getComputedStyle(a).backgroundImage)")
    first_paint = await page.evaluate("performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? 0")
    thumbnails_done = await page.locator(".grid img.thumb").evaluate_all(
        "imgs => imgs.filter(img => img.complete && img.naturalWidth > 0).length"
    )

    assert all(style.startswith('url("data:image/png;base64,') for style in painted)
    assert thumbnails_done == 0
    assert first_paint > 0
    print(f"first contentful paint, 30 placeholders and no thumbnail byte: {first_paint:.0f} ms")
    assert held  # the thumbnails were asked for, and are still held
    await page.unroute_all(behavior="ignoreErrors")


async def test_hover_plays_the_preview_and_reduced_motion_never_does(
    browser: Browser, app: Server, s3_server: S3Server
) -> None:
    image = await upload_with_preview(app, s3_server, "animated.webp", "loop")
    async with browser_session(browser, app.url) as session:
        page = session.page
        await page.goto("/")
        tile = page.locator(f'a[data-id="{image["id"]}"]')
        await expect(tile.locator(".tile-kind")).to_have_text("WebP")
        await expect(tile.locator("img.preview")).to_have_count(0)
        await tile.hover()
        preview = tile.locator("img.preview")
        await expect(preview).to_have_attribute("src", image["preview_url"])
        await expect(preview).to_have_js_property("complete", True)
        assert await preview.evaluate("img => img.naturalWidth") == 160
        await page.mouse.move(1, 1)
        await expect(tile.locator("img.preview")).to_have_count(0)

    async with browser_session(browser, app.url) as session:
        page = session.page
        await page.emulate_media(reduced_motion="reduce")
        await page.goto("/")
        tile = page.locator(f'a[data-id="{image["id"]}"]')
        await tile.hover()
        await page.wait_for_timeout(300)
        await expect(tile.locator("img.preview")).to_have_count(0)
        # The image page shows the still thumbnail instead of the moving original.
        await tile.click()
        await expect(page.locator("img.full")).to_have_attribute("src", image["thumbnail_url"])
        assert not any("/preview" in url for url in session.requests)


async def test_phones_play_previews_in_view(browser: Browser, app: Server, s3_server: S3Server) -> None:
    image = await upload_with_preview(app, s3_server, "animated.gif")
    # A touch screen has no hover: the preview plays while the tile is in view.
    context = await browser.new_context(viewport=PHONE, has_touch=True, is_mobile=True, base_url=app.url)
    try:
        page = await context.new_page()
        await page.goto("/")
        preview = page.locator(f'a[data-id="{image["id"]}"] img.preview')
        await expect(preview).to_have_attribute("src", image["preview_url"])
    finally:
        await context.close()


async def test_video_plays_and_seeks_through_the_proxy(session: Session, app: Server) -> None:
    image = await app.upload("clip.webm", (MEDIA / "vp9-sound.webm").read_bytes(), "clip")
    page = session.page
    await page.goto(f"/images/{image['id']}")
    video = page.locator("video.full")
    await expect(video).to_have_attribute("src", image["file_url"])
    await expect(page.locator(".sound-badge")).to_have_text("Has sound")
    await expect(page.locator(".duration")).to_have_text("0:01")
    await wait_for_playback(page)
    assert await video.evaluate("v => v.muted && v.loop && v.controls && !v.error")
    await video.evaluate("v => { v.currentTime = 0.5; }")
    await wait_for_playback(page, 0.55)
    ranged = [url for url in session.requests if url.endswith(image["file_url"])]
    assert ranged, "the video was fetched through the proxy"

    # H.264 in MP4 plays in this (Debian) Chromium too.
    mp4 = await app.upload("clip.mp4", (MEDIA / "h264-sound.mp4").read_bytes())
    await page.goto(f"/images/{mp4['id']}")
    await wait_for_playback(page)


async def test_video_plays_from_the_cdn(browser: Browser, cdn_server: CdnServer) -> None:
    await cdn_server.server.reset()
    server, cdn = cdn_server.server, cdn_server.cdn
    image = await server.upload("cdn.webm", (MEDIA / "vp8.webm").read_bytes())
    assert image["file_url"] == f"{cdn.url}/{image['storage_key']}"
    async with browser_session(browser, server.url, other_origins=(cdn.url,)) as session:
        page = session.page
        await page.goto(f"/images/{image['id']}")
        await wait_for_playback(page)
        assert f"/{image['storage_key']}" in cdn.hits


async def test_copy_image_puts_png_bytes_and_motion_copies_the_link(session: Session, app: Server) -> None:
    still = await app.upload("still.png", make_image(7, (120, 90)))
    video = await app.upload("clip.webm", (MEDIA / "vp9.webm").read_bytes())
    page = session.page
    await session.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=app.url)

    await page.goto(f"/images/{still['id']}")
    await page.get_by_role("button", name="Copy image").click()
    await expect(page.get_by_text("Image copied")).to_be_visible()
    copied = await page.evaluate(
        """async () => {
            const [item] = await navigator.clipboard.read();
            const blob = await item.getType("image/png");
            const bitmap = await createImageBitmap(blob);
            return [item.types, bitmap.width, bitmap.height];
        }"""
    )
    assert copied == [["image/png"], 120, 90]

    await page.goto(f"/images/{video['id']}")
    await expect(page.locator("video.full")).to_be_visible()
    await expect(page.get_by_role("button", name="Copy image")).to_have_count(0)  # motion would be lost
    await page.get_by_role("button", name="Copy video link").click()
    await expect(page.get_by_text("Video link copied")).to_be_visible()
    assert await page.evaluate("navigator.clipboard.readText()") == app.url + video["file_url"]


async def test_keyboard_flow(session: Session, app: Server) -> None:
    images = [await app.upload(f"k{seed}.png", make_image(30 + seed, (200, 150)), "kb") for seed in range(4)]
    newest_first = list(reversed(images))
    page = session.page
    await session.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=app.url)
    await page.goto("/")
    await expect(page.locator(".grid .tile a")).to_have_count(4)

    await page.keyboard.press("/")
    await expect(page.get_by_role("combobox", name="Search")).to_be_focused()
    await page.locator(f'a[data-id="{newest_first[0]["id"]}"]').focus()
    await page.keyboard.press("ArrowRight")
    await expect(page.locator(f'a[data-id="{newest_first[1]["id"]}"]')).to_be_focused()
    await page.keyboard.press("ArrowLeft")
    await expect(page.locator(f'a[data-id="{newest_first[0]["id"]}"]')).to_be_focused()
    await page.keyboard.press("ArrowRight")
    await page.keyboard.press("c")
    await expect(page.get_by_text("Image copied")).to_be_visible()
    png = await page.evaluate("async () => (await navigator.clipboard.read())[0].types")
    assert png == ["image/png"]
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(f"{app.url}/images/{newest_first[1]['id']}")
