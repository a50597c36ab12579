"""The three views at desktop and phone sizes: nothing overflows sideways, and screenshots for docs/screenshots.

Screenshots go to a temporary directory; `SCREENSHOT_DIR=docs/screenshots pytest tests/e2e -k screenshots` (or
`python ui/scripts/screenshots.py`) writes them into the repository.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from tests.conftest import FIXTURES
from tests.e2e.conftest import (
    DESKTOP,
    PHONE,
    Server,
    browser_session,
    make_image,
    set_caption,
    thumbnails_loaded,
)

LIBRARY = [
    # caption, size, tags
    ("LOL", (480, 360), "laugh, happy"),
    ("NOPE", (360, 480), "no, nope"),
    ("OK!", (400, 400), "ok, thumbs-up"),
    ("wow", (640, 360), "wow, surprised"),
    ("ugh", (300, 400), "annoyed, monday"),
    ("yes!!", (500, 300), "yes, happy, celebrate"),
    ("hmm", (400, 300), "thinking"),
    ("bye", (300, 300), "bye, wave"),
    ("facepalm", (600, 400), "facepalm, annoyed"),
    ("mind = blown", (480, 320), "mind-blown, wow"),
    ("sure.", (320, 420), "sarcasm"),
    ("GG", (420, 300), "gg, celebrate"),
    ("brb", (360, 360), "brb"),
    ("thx", (540, 360), "thanks, happy"),
    ("why", (380, 500), "confused"),
    ("party", (640, 400), "celebrate, party"),
]


def screenshot_dir(tmp_path: Path) -> Path:
    target = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path)
    target.mkdir(parents=True, exist_ok=True)
    return target


# Every visible element inside a card (the detail panel, dialogs) within that card's padding: a row whose buttons
# are wider than the card spills over its border without widening the page (the detail page's share row did).
_SPILLS = """() => {
    const spilled = [];
    for (const card of document.querySelectorAll(".panel, dialog[open]")) {
        const box = card.getBoundingClientRect();
        const style = getComputedStyle(card);
        const right = box.right - parseFloat(style.borderRightWidth) - parseFloat(style.paddingRight);
        for (const element of card.querySelectorAll("*")) {
            const rect = element.getBoundingClientRect();
            if (rect.width > 0 && rect.right > right + 1) {
                const name = `${element.tagName.toLowerCase()}.${element.className}`;
                spilled.push(`${name} ends ${Math.round(rect.right - right)}px past its card`);
            }
        }
    }
    return spilled;
}"""


async def assert_fits(page: Page) -> None:
    overflow = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{page.url} is {overflow}px wider than the window"
    spilled = await page.evaluate(_SPILLS)
    assert not spilled, f"{page.url}: {spilled[:5]}"


@pytest.mark.parametrize(("size", "viewport"), [("desktop", DESKTOP), ("phone", PHONE)])
async def test_views_fit_and_screenshots(
    browser: Browser, app: Server, tmp_path: Path, size: str, viewport: dict[str, int]
) -> None:
    images = [
        await app.upload(f"{caption.replace(' ', '-')}.png", make_image(seed, dims, caption), tags)
        for seed, (caption, dims, tags) in enumerate(LIBRARY, start=500)
    ]
    for image, (caption, _, _) in zip(images, LIBRARY, strict=True):
        await set_caption(app, image["id"], caption)  # as OCR would have read it
    out = screenshot_dir(tmp_path)
    async with browser_session(browser, app.url, viewport=viewport) as session:
        page = session.page
        await page.goto("/")
        await thumbnails_loaded(page, len(LIBRARY))
        await page.evaluate("window.scrollTo(0, 0)")
        await assert_fits(page)
        await page.screenshot(path=out / f"library-{size}.png")

        await page.goto("/?tag=happy")
        await thumbnails_loaded(page, 3)
        await assert_fits(page)

        featured = images[3]
        await page.goto(f"/images/{featured['id']}")
        await expect(page.locator("img.full")).to_have_attribute("src", featured["file_url"])
        await expect(page.locator("img.full")).to_have_js_property("complete", True)
        await assert_fits(page)
        await page.screenshot(path=out / f"detail-{size}.png", full_page=size == "phone")

        await page.goto("/upload")
        await page.get_by_label("Tags for this batch").fill("cat, Thumbs Up")
        files = tmp_path / "files"
        files.mkdir()
        (files / "cat-approves.png").write_bytes(make_image(900, (400, 300), "approved"))
        (files / "LOL.png").write_bytes(make_image(500, LIBRARY[0][1], LIBRARY[0][0]))  # already in the library
        (files / "notes.txt").write_bytes((FIXTURES / "not-an-image.txt").read_bytes())
        await page.locator("#upload-files").set_input_files(sorted(files.iterdir()))
        await expect(page.locator(".queue-summary")).to_contain_text("1 uploaded · 1 duplicate · 1 failed")
        await expect(page.locator(".queue-item.done img")).to_have_js_property("complete", True)
        await page.get_by_label("Tags for this batch").blur()
        await assert_fits(page)
        await page.screenshot(path=out / f"upload-{size}.png", full_page=size == "phone")
