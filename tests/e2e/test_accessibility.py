"""Every screen, scanned by axe-core in light and dark, on a desktop and on a touch phone: no serious or critical
violation anywhere (contrast, names, roles, labels, landmarks...). Screens other issues add get their line here."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from tests.conftest import FIXTURES
from tests.e2e.a11y import assert_accessible
from tests.e2e.conftest import DESKTOP, TOUCH_PHONE, Server, browser_session, make_image, set_caption, thumbnails_loaded

MEDIA = Path(__file__).resolve().parents[1] / "fixtures" / "media"


async def seed_library(app: Server) -> dict[str, dict[str, Any]]:
    """A small library with every kind of image: captioned and bare stills, a GIF and a video with sound."""
    meme = await app.upload("why-not-both.png", make_image(700, (480, 360), "WHY NOT BOTH"), "choice, taco, cat")
    await set_caption(app, meme["id"], "Why not both?")
    await app.upload("grumpy.png", make_image(701, (360, 360)), "grumpy, cat")
    await app.upload("take-my-money.jpg", make_image(702, (400, 300), "TAKE MY MONEY", fmt="JPEG"))
    gif = await app.upload("dance.gif", (MEDIA / "animated.gif").read_bytes(), "dance, happy")
    video = await app.upload("clip.webm", (MEDIA / "vp9-sound.webm").read_bytes(), "clip")
    return {"still": meme, "gif": gif, "video": video}


Screen = Callable[[Page], Awaitable[None]]


@pytest.mark.parametrize("theme", ["light", "dark"])
@pytest.mark.parametrize("size", ["desktop", "phone"])
async def test_every_screen_passes_axe(browser: Browser, app: Server, tmp_path: Path, theme: str, size: str) -> None:
    images = await seed_library(app)
    device: dict[str, Any] = {"viewport": DESKTOP} if size == "desktop" else dict(TOUCH_PHONE)
    failures: list[str] = []

    async with browser_session(browser, app.url, color_scheme=theme, **device) as session:
        page = session.page
        await session.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=app.url)

        async def scan(name: str) -> None:
            try:
                await assert_accessible(page, f"{name} ({theme}, {size})")
            except AssertionError as error:
                failures.append(str(error))

        await page.goto("/")
        await thumbnails_loaded(page, 5)
        await scan("library")

        await page.locator(".grid a").first.focus()
        await page.keyboard.press("c")
        await expect(page.get_by_role("status").filter(has_text="copied")).to_be_visible()
        await scan("library with the copy toast")

        await page.get_by_role("button", name="Search syntax").click()
        await expect(page.locator("#search-help")).to_be_visible()
        await scan("search help open")

        await page.goto("/?q=cat")
        await thumbnails_loaded(page, 2)
        await scan("search results")

        await page.goto("/?q=grumpu")
        await expect(page.get_by_role("heading", name="No matching images")).to_be_visible()
        await scan("no results, with did you mean")

        for kind in ("still", "gif", "video"):
            await page.goto(f"/images/{images[kind]['id']}")
            await expect(page.get_by_role("heading", level=1)).to_be_visible()
            await expect(page.locator(".frame .full")).to_be_visible()
            await scan(f"detail ({kind})")

        await page.goto(f"/images/{images['still']['id']}")
        editor = page.get_by_role("combobox", name="Add a tag")
        await editor.fill("gr")
        await expect(page.get_by_role("listbox", name="Add a tag: suggestions")).to_be_visible()
        await scan("detail with tag suggestions open")
        await editor.press("Escape")
        await page.get_by_role("button", name="Remove tag cat").click()
        await expect(page.get_by_role("button", name="Undo")).to_be_visible()
        await scan("detail after removing a tag (undo offered)")
        await page.get_by_role("button", name="Delete…").click()
        await expect(page.get_by_role("dialog")).to_be_visible()
        await scan("delete dialog")

        await page.goto("/upload")
        files = tmp_path / "files"
        files.mkdir()
        (files / "new.png").write_bytes(make_image(710 + len(theme) + len(size), (300, 200)))
        (files / "why-not-both.png").write_bytes(make_image(700, (480, 360), "WHY NOT BOTH"))  # a duplicate
        (files / "notes.txt").write_bytes((FIXTURES / "not-an-image.txt").read_bytes())
        await page.locator("#upload-files").set_input_files(sorted(files.iterdir()))
        await expect(page.locator(".queue-item.done, .queue-item.duplicate, .queue-item.failed")).to_have_count(3)
        await page.get_by_label("Tags for this batch").fill("good, bad/tag")
        await expect(page.locator(".upload-form .field-error")).to_be_visible()
        await scan("upload with finished rows and a tag error")

        await page.goto("/tag-rules")
        await page.get_by_label("Alias", exact=True).fill("kitty")
        await page.get_by_label("Means tag", exact=True).fill("cat")
        await page.get_by_role("button", name="Add alias").click()
        await expect(page.get_by_role("list", name="Aliases")).to_contain_text("kitty")
        await page.get_by_label("Tag", exact=True).fill("cat")
        await page.get_by_label("Implies", exact=True).fill("cat")
        await page.get_by_role("button", name="Add implication").click()
        await expect(page.get_by_role("alert")).to_be_visible()
        await scan("tag rules with a rule and an error")

        await page.goto("/no/such/page")
        await scan("page not found")

    assert not failures, "\n\n".join(failures)


async def test_the_scan_fails_on_what_it_must_catch(browser: Browser) -> None:
    """The helper is not a no-op: a picture without alt, an unnamed button and grey-on-white text all fail it."""
    page = await browser.new_page()
    try:
        await page.set_content(
            '<!doctype html><html lang="en"><head><title>t</title></head><body><main>'
            '<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" width="20" height="20">'
            '<button></button><p style="color:#aaa;background:#fff">faint text</p></main></body></html>'
        )
        with pytest.raises(AssertionError) as failed:
            await assert_accessible(page)
        for rule in ("image-alt", "button-name", "color-contrast"):
            assert rule in str(failed.value)
    finally:
        await page.close()
