"""The installable app in Chromium: installability (DevTools protocol), the service worker's offline screen with the
network really cut, the share target, and the Share button (navigator.share stubbed in the page to observe it)."""

from __future__ import annotations

import contextlib
import hashlib
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from tests.conftest import FIXTURES, S3Server
from tests.e2e.conftest import CHROMIUM_ARGS, DESKTOP, Server, Session, browser_session, make_image
from tests.support.live import run_server

THUMBNAILS = "reactbin-thumbnails-v1"


async def controlled(page: Page) -> None:
    """Wait for the service worker, then load the page again under its control (as a second visit would be)."""
    ready = await page.evaluate(
        "Promise.race([navigator.serviceWorker.ready.then(() => true), new Promise(r => setTimeout(r, 15000, false))])"
    )
    assert ready, "the service worker did not install (its precache failed?)"
    await page.reload()
    await until(page, "navigator.serviceWorker.controller !== null")


async def until(page: Page, expression: str, timeout: float = 10.0) -> None:
    """Poll `expression` from the test side: `wait_for_function` evaluates it with eval, which the app's CSP forbids."""
    for _ in range(int(timeout / 0.05)):
        if await page.evaluate(expression):
            return
        await page.wait_for_timeout(50)
    raise AssertionError(f"still false after {timeout}s: {expression}")


async def kept_thumbnails(page: Page) -> list[str]:
    keys: list[str] = await page.evaluate(
        f"""async () => (await (await caches.open("{THUMBNAILS}")).keys()).map(request => request.url)"""
    )
    return keys


async def test_the_app_is_installable(app: Server, chromium: Path, tmp_path: Path) -> None:
    """Chromium's own installability check, in a persistent profile (an incognito one is never installable)."""
    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=str(chromium),
            args=CHROMIUM_ARGS,
            headless=True,
            base_url=app.url,
            viewport=DESKTOP,
        )
        try:
            page = context.pages[0] if context.pages else await context.new_page()
            await page.goto("/")
            await controlled(page)
            cdp = await context.new_cdp_session(page)
            manifest = await cdp.send("Page.getAppManifest")
            assert manifest["url"] == f"{app.url}/manifest.webmanifest"
            assert manifest["errors"] == []
            installability = await cdp.send("Page.getInstallabilityErrors")
            assert installability["installabilityErrors"] == []
        finally:
            await context.close()


async def test_the_manifest_and_the_worker_are_served_as_browsers_need(app: Server) -> None:
    async with httpx.AsyncClient(base_url=app.url) as client:
        manifest = await client.get("/manifest.webmanifest")
        worker = await client.get("/sw.js")
        icon = await client.get("/icons/maskable-512.png")
    assert manifest.headers["content-type"].startswith("application/manifest+json")
    body = manifest.json()
    assert body["display"] == "standalone"
    assert {(i["sizes"], i["purpose"]) for i in body["icons"]} >= {
        ("192x192", "any"),
        ("512x512", "any"),
        ("512x512", "maskable"),
    }
    assert body["share_target"]["method"] == "POST"
    assert worker.headers["content-type"].startswith("text/javascript")
    assert worker.headers["cache-control"] == "no-cache"  # a new build is picked up at the next visit
    # The worker's own policy decides what it may fetch: the strict one of other non-page responses would stop it.
    policy = worker.headers["content-security-policy"]
    assert "connect-src 'self'" in policy
    assert "default-src 'none'" not in policy
    assert icon.headers["content-type"] == "image/png"


async def test_offline_the_app_shows_recent_and_most_used_reactions(
    browser: Browser, database_url: str, s3_server: S3Server, ui_dist: Path, tmp_path: Path
) -> None:
    with contextlib.ExitStack() as running:
        server = running.enter_context(run_server(database_url, s3_server, ui_dist, tmp_path))
        await server.reset()
        images = [await server.upload(f"offline-{n}.png", make_image(200 + n), f"offline,n{n}") for n in range(5)]
        popular = images[3:]
        async with httpx.AsyncClient(base_url=server.api) as client:
            for image in popular:
                for _ in range(3):
                    assert (await client.post(f"/images/{image['id']}/uses")).status_code == 200
        opened = images[0]
        wanted = {f"{server.url}/api/v1/images/{image['id']}/thumbnail" for image in [opened, *popular]}

        async with browser_session(browser, server.url) as session:
            page = session.page
            await page.goto("/")
            await controlled(page)
            await expect(page.locator(".grid .tile")).to_have_count(5)
            await page.goto(f"/images/{opened['id']}")
            await expect(page.get_by_role("heading", name=opened["filename"])).to_be_visible()
            await page.go_back()
            await expect(page.locator(".grid .tile")).to_have_count(5)
            deadline = time.monotonic() + 10
            while not wanted <= set(await kept_thumbnails(page)) and time.monotonic() < deadline:
                await page.wait_for_timeout(100)
            assert wanted <= set(await kept_thumbnails(page))

            # The network is cut for real: the server is gone, and the device says it is offline.
            running.close()
            await session.context.set_offline(True)
            await page.goto("/")
            await expect(page.get_by_role("heading", name="You’re offline")).to_be_visible()
            recent = page.locator("#offline-recent + ul a")
            await expect(recent).to_have_count(1)
            await expect(recent.first).to_have_attribute("data-id", opened["id"])
            most_used = page.locator("[aria-labelledby=offline-popular] a")
            await expect(most_used).to_have_count(2)
            assert {await link.get_attribute("data-id") for link in await most_used.all()} == {p["id"] for p in popular}
            pictures = page.locator(".offline-grid img")
            for index in range(await pictures.count()):
                await expect(pictures.nth(index)).to_have_js_property("complete", True)
            widths = await pictures.evaluate_all("imgs => imgs.map(img => img.naturalWidth)")
            assert widths == [320, 320, 320]  # every thumbnail came from the worker's cache

            # A device that believes it is online (the server is simply unreachable) gets the library page it saw
            # last, from the worker's copies of the API answer and the thumbnails.
            await session.context.set_offline(False)
            await page.reload()
            await expect(page.locator(".grid .tile")).to_have_count(5)
            thumbs = page.locator(".grid .tile img.thumb")
            for index in range(5):
                await expect(thumbs.nth(index)).to_have_js_property("complete", True)
            assert await thumbs.evaluate_all("imgs => imgs.map(img => img.naturalWidth)") == [320] * 5
            # Requests that failed while the network was cut are not errors of the page.
            session.errors.clear()


SHARE = """async ([files, title]) => {
    const form = document.createElement("form");
    form.method = "POST";
    form.action = "/share-target";
    form.enctype = "multipart/form-data";
    const input = document.createElement("input");
    input.type = "file";
    input.name = "files";
    input.multiple = true;
    const transfer = new DataTransfer();
    for (const [name, type, bytes] of files) transfer.items.add(new File([Uint8Array.from(bytes)], name, { type }));
    input.files = transfer.files;
    const text = document.createElement("input");
    text.name = "title";
    text.value = title;
    form.append(input, text);
    document.body.append(form);
    form.submit();
}"""


async def test_sharing_files_to_the_app_opens_the_upload_screen_with_them(session: Session, app: Server) -> None:
    page = session.page
    await page.goto("/")
    await controlled(page)
    gif = (FIXTURES / "animated.gif").read_bytes()
    files = [["from-phone.png", "image/png", list(make_image(300))], ["dance.gif", "image/gif", list(gif)]]
    await page.evaluate(SHARE, [files, "look"])  # what the system share sheet sends: a multipart POST navigation
    await expect(page).to_have_url(f"{app.url}/upload")
    rows = page.locator(".queue-item")
    await expect(rows).to_have_count(2)
    await expect(page.locator(".queue-item.held")).to_have_count(2)
    await expect(rows.filter(has_text="from-phone.png")).to_have_count(1)
    await expect(rows.filter(has_text="dance.gif")).to_have_count(1)
    banner = page.get_by_role("region", name="Shared files")
    await expect(banner).to_contain_text("2 shared files ready")
    assert (await app.get("/images")).json()["items"] == []  # nothing is uploaded before the person says so

    await page.get_by_label("Tags for this batch").fill("shared, from phone")
    await banner.get_by_role("button", name="Upload 2 files").click()
    await expect(page.locator(".queue-item.done")).to_have_count(2)
    items = (await app.get("/images")).json()["items"]
    assert sorted(item["filename"] for item in items) == ["dance.gif", "from-phone.png"]
    assert all(item["tags"] == ["from-phone", "shared"] for item in items)
    gif_image = next(item for item in items if item["filename"] == "dance.gif")
    assert gif_image["hash"] == hashlib.sha256(gif).hexdigest()  # the shared bytes, untouched
    # The files were handed over once: nothing is left waiting in the worker's keeping.
    left = await page.evaluate("async () => (await (await caches.open('reactbin-shared-files')).keys()).length")
    assert left == 0


async def test_sharing_before_the_worker_exists_explains_what_to_do(app: Server) -> None:
    async with httpx.AsyncClient(base_url=app.url) as client:
        response = await client.post("/share-target", files={"files": ("a.png", make_image(301), "image/png")})
    assert response.status_code == 303
    assert response.headers["location"] == "/upload?shared=unavailable"


STUB_SHARE = """(canShare) => {
    window.__shares = [];
    Object.defineProperty(navigator, "canShare", { configurable: true, value: (data) => canShare });
    Object.defineProperty(navigator, "share", {
        configurable: true,
        value: async (data) => {
            const file = data.files[0];
            const digest = await crypto.subtle.digest("SHA-256", await file.arrayBuffer());
            const hex = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
            window.__shares.push({
                count: data.files.length, name: file.name, type: file.type, isFile: file instanceof File, sha256: hex,
            });
        },
    });
}"""


async def use_count(app: Server, image_id: str) -> int:
    count: int = (await app.get(f"/images/{image_id}")).json()["use_count"]
    return count


async def test_share_hands_the_original_file_to_the_share_sheet(session: Session, app: Server) -> None:
    gif = (FIXTURES / "animated.gif").read_bytes()
    image = await app.upload("dance.gif", gif, "dance")
    page = session.page
    await page.add_init_script(f"({STUB_SHARE})(true)")
    await page.goto(f"/images/{image['id']}")
    await expect(page.get_by_role("heading", name="dance.gif")).to_be_visible()
    before = await use_count(app, image["id"])
    await page.get_by_role("button", name="Share", exact=True).click()
    await expect(page.locator(".copy-status")).to_have_text("Shared")
    shares: list[dict[str, Any]] = await page.evaluate("window.__shares")
    assert shares == [
        {
            "count": 1,
            "name": "dance.gif",
            "type": "image/gif",
            "isFile": True,
            "sha256": hashlib.sha256(gif).hexdigest(),
        }
    ]
    for _ in range(50):
        if await use_count(app, image["id"]) == before + 1:
            break
        await page.wait_for_timeout(100)
    assert await use_count(app, image["id"]) == before + 1

    # From a tile's menu, without opening the image.
    await page.goto("/")
    tile = page.locator(".tile").first
    await tile.get_by_role("button", name="Share or copy dance.gif").click()
    await tile.get_by_role("button", name="Share", exact=True).click()
    await until(page, "window.__shares.length === 1")
    assert (await page.evaluate("window.__shares"))[0]["sha256"] == hashlib.sha256(gif).hexdigest()


@pytest.mark.parametrize("can_share", ["false", "undefined"])
async def test_share_copies_the_link_where_files_cannot_be_shared(
    session: Session, app: Server, can_share: str
) -> None:
    image = await app.upload("still.png", make_image(302), "still")
    page = session.page
    await session.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=app.url)
    if can_share == "false":
        await page.add_init_script(f"({STUB_SHARE})(false)")
    else:  # a browser without the Web Share API at all
        await page.add_init_script(
            "window.__shares = []; delete Navigator.prototype.canShare; delete Navigator.prototype.share;"
        )
    await page.goto(f"/images/{image['id']}")
    await page.get_by_role("button", name="Share", exact=True).click()
    await expect(page.locator(".copy-status")).to_contain_text("Link copied: this browser can’t share files")
    assert await page.evaluate("navigator.clipboard.readText()") == f"{app.url}{image['file_url']}"
    assert await page.evaluate("window.__shares") == []
