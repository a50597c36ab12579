"""The UI in a real browser against the real server (proxy URLs: no CDN configured)."""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path
from typing import Any

import asyncpg
from PIL import Image
from playwright.async_api import Locator, Page, expect

from reactbin.domain.resources import open_resources
from reactbin.media.ocr import CaptionReader, compact
from reactbin.settings import Settings
from reactbin.worker import running_worker
from tests.conftest import FIXTURES, S3Server
from tests.e2e.conftest import Server, Session, make_image, thumbnails_loaded
from tests.fixtures import memes
from tests.support.jobs import FAST_JOBS


async def test_upload_through_the_page(session: Session, app: Server, tmp_path: Path) -> None:
    page = session.page
    await page.goto("/")
    await expect(page.get_by_role("heading", name="No images yet")).to_be_visible()
    await page.get_by_role("link", name="Upload images").click()
    await expect(page).to_have_url(f"{app.url}/upload")

    await page.get_by_label("Tags for this batch").fill("Funny Cat,  reaction ,")
    await expect(page.locator(".tag-preview .chip")).to_have_text(["funny-cat", "reaction"])
    first, second = tmp_path / "first.png", tmp_path / "second.jpg"
    first.write_bytes(make_image(1, (300, 200)))
    second.write_bytes(make_image(2, (200, 300), fmt="JPEG"))
    await page.locator("#upload-files").set_input_files([first, second])

    items = page.locator(".queue-item")
    await expect(items).to_have_count(2)
    await expect(page.locator(".queue-item.done")).to_have_count(2)
    await expect(page.locator(".queue-summary")).to_contain_text("2 uploaded")
    await expect(page.locator(".queue-item.done .queue-thumb img")).to_have_count(2)
    listed = (await app.get("/images")).json()["items"]
    assert sorted(item["filename"] for item in listed) == ["first.png", "second.jpg"]
    assert all(item["tags"] == ["funny-cat", "reaction"] for item in listed)

    # Drag and drop: the same bytes again is a duplicate with a link to the stored image; a text file is refused
    # with the API's own message.
    transfer = await page.evaluate_handle(
        """([png, text]) => {
            const transfer = new DataTransfer();
            transfer.items.add(new File([Uint8Array.from(png)], "again.png", { type: "image/png" }));
            transfer.items.add(new File([text], "notes.txt", { type: "text/plain" }));
            return transfer;
        }""",
        [list(first.read_bytes()), (FIXTURES / "not-an-image.txt").read_text()],
    )
    await page.locator(".dropzone").dispatch_event("drop", {"dataTransfer": transfer})
    duplicate = page.locator(".queue-item.duplicate")
    await expect(duplicate).to_contain_text("Already in your library")
    existing = next(item for item in listed if item["filename"] == "first.png")
    await expect(duplicate.get_by_role("link", name="view the existing image")).to_have_attribute(
        "href", f"/images/{existing['id']}"
    )
    failed = page.locator(".queue-item.failed")
    rejected = await app.upload_raw("notes.txt", (FIXTURES / "not-an-image.txt").read_bytes())
    assert rejected.status_code in (415, 422)
    await expect(failed).to_contain_text(rejected.json()["detail"])
    await expect(page.locator(".queue-summary")).to_contain_text("2 uploaded · 1 duplicate · 1 failed")

    # The library shows both thumbnails, newest first, with their real pixels.
    await page.get_by_role("link", name="reactbin, all images").click()
    # Thumbnails fit a 400 px box, so these keep their size.
    assert sorted(await thumbnails_loaded(page, 2)) == [200, 300]
    srcs = await page.locator(".grid img").evaluate_all("imgs => imgs.map(img => img.getAttribute('src'))")
    assert srcs == [item["thumbnail_url"] for item in listed]


async def test_upload_shows_progress_per_file(session: Session, app: Server, tmp_path: Path) -> None:
    page = session.page
    await page.goto("/upload")
    big = tmp_path / "noise.png"
    Image.frombytes("RGB", (700, 700), os.urandom(700 * 700 * 3)).save(big)  # ~1.5 MB: noise does not compress
    cdp = await session.context.new_cdp_session(page)
    await cdp.send("Network.enable")
    await cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": 1_000_000},
    )
    await page.locator("#upload-files").set_input_files(big)
    bar = page.locator(".queue-item progress")
    await expect(bar).to_be_visible()
    await page.wait_for_function(
        "() => { const p = document.querySelector('.queue-item progress'); return p && p.value > 0 && p.value < 100 }"
    )
    await cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
    )
    await expect(page.locator(".queue-item.done")).to_have_count(1, timeout=20_000)


async def test_search_with_autocomplete_chips_and_shareable_url(session: Session, app: Server) -> None:
    cat = await app.upload("cat.png", make_image(10), "cat, happy")
    cat_sad = await app.upload("cat-sad.png", make_image(11), "cat, sad")
    await app.upload("dog.png", make_image(12), "dog, happy")
    page = session.page
    await page.goto("/")
    assert await thumbnails_loaded(page, 3) == [320, 320, 320]

    await page.keyboard.press("/")
    search = page.get_by_role("combobox", name="Search")
    await expect(search).to_be_focused()
    await page.keyboard.type("kat")  # a typo: the suggestion is the tag it meant
    options = page.get_by_role("listbox").get_by_role("option")
    await expect(options.first).to_have_text(re.compile(r"cat\s*2"))
    await page.keyboard.press("ArrowDown")
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(f"{app.url}/?q=cat")
    await thumbnails_loaded(page, 2)

    await search.press("End")
    await page.keyboard.type("  HAPPY")
    await page.keyboard.press("Escape")
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(f"{app.url}/?q=cat+HAPPY")
    await thumbnails_loaded(page, 1)
    await expect(page.locator(".grid a")).to_have_attribute("href", f"/images/{cat['id']}")

    # The search survives a reload, and a chip removes its term.
    await page.reload()
    await expect(page.get_by_role("list", name="Searching for").get_by_role("button")).to_have_text(["cat", "HAPPY"])
    await thumbnails_loaded(page, 1)
    await page.get_by_role("button", name="Remove HAPPY").click()
    await expect(page).to_have_url(f"{app.url}/?q=cat")
    await thumbnails_loaded(page, 2)

    # The syntax help is one click away; an exclusion works from the box.
    await page.get_by_role("button", name="Search syntax").click()
    await expect(page.get_by_role("note")).to_contain_text("any tag starting with cat")
    await search.fill("cat -sad")
    await search.press("Enter")
    await thumbnails_loaded(page, 1)

    # A malformed query: the API's explanation, never a blank page.
    await page.goto("/?q=%22unclosed")
    await expect(page.get_by_role("alert")).to_contain_text("Unbalanced quotes")

    # Nothing matches: say so and offer a way out.
    await page.goto("/?tag=cat&tag=dog")
    await expect(page.get_by_role("heading", name="No matching images")).to_be_visible()
    await page.get_by_role("link", name="Show all images").click()
    await thumbnails_loaded(page, 3)
    assert cat_sad["tags"] == ["cat", "sad"]


async def test_typing_a_caption_finds_an_untagged_image(session: Session, app: Server) -> None:
    """The caption comes from OCR in production; here it is written with SQL, as the OCR job would."""
    meme = await app.upload("meme.png", make_image(60, (500, 400), "WHY NOT BOTH"))
    await app.upload("other.png", make_image(61))
    conn = await asyncpg.connect(app.database_url)
    try:
        await conn.execute(
            "UPDATE images SET text = 'WHYNOTBOTH', text_status = 'done', text_source = 'ocr' WHERE id = $1",
            uuid.UUID(meme["id"]),
        )
    finally:
        await conn.close()
    page = session.page
    await page.goto("/")
    await thumbnails_loaded(page, 2)
    search = page.get_by_role("combobox", name="Search")
    await search.fill("Why not both?")
    await search.press("Enter")
    await expect(page).to_have_url(re.compile(r"/\?q=Why\+not\+both%3F$"))
    await thumbnails_loaded(page, 1)
    await expect(page.locator(".grid a")).to_have_attribute("href", f"/images/{meme['id']}")
    await expect(page.get_by_role("list", name="Searching for").get_by_role("button")).to_have_text(
        ["Why", "not", "both?"]
    )


async def test_uses_are_recorded_and_most_used_comes_first(session: Session, app: Server) -> None:
    first = await app.upload("first.png", make_image(70))
    second = await app.upload("second.png", make_image(71))
    page = session.page
    await page.goto(f"/images/{first['id']}")
    await expect(page.get_by_role("heading", name="first.png")).to_be_visible()
    for _ in range(20):  # the use is sent in the background
        if (await app.get(f"/images/{first['id']}")).json()["use_count"] == 1:
            break
        await page.wait_for_timeout(100)
    assert (await app.get(f"/images/{first['id']}")).json()["use_count"] == 1
    await page.goto("/")
    await page.get_by_role("link", name="Most used").click()
    await expect(page).to_have_url(f"{app.url}/?q=sort%3Apopular")
    await thumbnails_loaded(page, 2)
    await expect(page.locator(".grid a").first).to_have_attribute("href", f"/images/{first['id']}")
    assert second["use_count"] == 0


async def test_tag_rules_screen(session: Session, app: Server) -> None:
    image = await app.upload("kitty.png", make_image(80), "kitty")
    page = session.page
    await page.goto("/tag-rules")
    await page.get_by_role("textbox", name="Alias").fill("Kitty")
    await page.get_by_role("textbox", name="Means tag").fill("cat")
    await page.get_by_role("button", name="Add alias").click()
    await expect(page.get_by_role("list", name="Aliases")).to_contain_text("kitty")
    assert (await app.get(f"/images/{image['id']}")).json()["tags"] == ["cat"]
    await page.get_by_role("textbox", name="Tag", exact=True).fill("cat")
    await page.get_by_role("textbox", name="Implies").fill("kitty")
    await page.get_by_role("button", name="Add implication").click()
    await expect(page.get_by_role("alert")).to_contain_text("cannot imply itself")
    await page.get_by_role("textbox", name="Implies").fill("animal")
    await page.get_by_role("button", name="Add implication").click()
    await expect(page.get_by_role("list", name="Implications")).to_contain_text("animal")
    await page.goto("/?q=tag:animal")
    await thumbnails_loaded(page, 1)
    await page.goto(f"/images/{image['id']}")
    await expect(page.locator(".implied-tags")).to_have_text("Also found as: animal")
    await page.goto("/tag-rules")
    await page.get_by_role("button", name="Delete alias kitty").click()
    await expect(page.get_by_role("list", name="Aliases").get_by_role("listitem")).to_have_count(0)


async def test_detail_edit_tags_copy_link_and_delete(session: Session, app: Server) -> None:
    keep = await app.upload("keep.png", make_image(20, (640, 480)), "keeper")
    image = await app.upload("wow.png", make_image(21, (640, 480), "WOW"), "wow, surprised")
    page = session.page
    await session.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=app.url)
    await page.goto("/")
    await thumbnails_loaded(page, 2)
    await page.locator(f'a[data-id="{image["id"]}"]').click()
    await expect(page).to_have_url(f"{app.url}/images/{image['id']}")
    await expect(page.get_by_role("heading", name="wow.png")).to_be_visible()
    full = page.locator("img.full")
    await expect(full).to_have_attribute("src", image["file_url"])
    await expect(full).to_have_js_property("naturalWidth", 640)
    facts = page.locator(".facts")
    await expect(facts).to_contain_text("640 × 480 px")
    await expect(facts).to_contain_text("PNG")

    # Tags: add (normalised), remove, and the API agrees.
    editor = page.get_by_role("combobox", name="Add a tag")
    await editor.fill("  Big   Smile ")
    await editor.press("Enter")
    chips = page.get_by_role("list", name="Tags of this image").get_by_role("button")
    await expect(chips).to_have_text(["big-smile", "surprised", "wow"])
    await page.get_by_role("button", name="Remove tag surprised").click()
    await expect(chips).to_have_text(["big-smile", "wow"])
    await expect(page.locator(".saving")).to_have_text("")
    assert (await app.get(f"/images/{image['id']}")).json()["tags"] == ["big-smile", "wow"]
    await editor.fill("no/slashes")
    await editor.press("Enter")
    await expect(page.get_by_role("alert")).to_contain_text("may only contain")

    # Copy link: the proxy path made absolute with the page's origin.
    await page.get_by_role("button", name="Copy link").click()
    await expect(page.get_by_text("Link copied")).to_be_visible()
    assert await page.evaluate("navigator.clipboard.readText()") == f"{app.url}{image['file_url']}"
    download = page.get_by_role("link", name="Download")
    await expect(download).to_have_attribute("href", image["file_url"])
    await expect(download).to_have_attribute("download", "wow.png")

    # Delete: cancel first, then confirm.
    await page.get_by_role("button", name="Delete…").click()
    dialog = page.get_by_role("dialog", name="Delete this image?")
    await expect(dialog).to_be_visible()
    await page.keyboard.press("Escape")
    await expect(dialog).to_be_hidden()
    assert (await app.get(f"/images/{image['id']}")).status_code == 200
    await page.get_by_role("button", name="Delete…").click()
    await dialog.get_by_role("button", name="Delete image").click()
    await expect(page).to_have_url(f"{app.url}/")
    await expect(page.get_by_role("status").filter(has_text="Deleted wow.png")).to_be_visible()
    await thumbnails_loaded(page, 1)
    await expect(page.locator(".grid a")).to_have_attribute("href", f"/images/{keep['id']}")
    assert (await app.get(f"/images/{image['id']}")).status_code == 404

    # A deep link to a deleted image says so.
    await page.goto(f"/images/{image['id']}")
    await expect(page.get_by_role("heading", name="Image not found")).to_be_visible()


async def tab_to(page: Page, target: Locator, limit: int = 25) -> None:
    """Press Tab until `target` has focus, like a keyboard user would."""
    for _ in range(limit):
        await page.keyboard.press("Tab")
        if await target.evaluate("el => el === document.activeElement"):
            return
    raise AssertionError(f"{target} never got focus with Tab")


async def test_keyboard_only_journey(session: Session, app: Server) -> None:
    image = await app.upload("kbd.png", make_image(30), "keyboard")
    page = session.page
    await page.goto("/")
    await thumbnails_loaded(page, 1)
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(page.locator("main")).to_be_focused()
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("link", name="Newest")).to_be_focused()  # the views, then the grid
    await tab_to(page, page.locator(".grid a").first, limit=2)
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(f"{app.url}/images/{image['id']}")
    await expect(page.locator("main")).to_be_focused()

    await tab_to(page, page.get_by_role("combobox", name="Add a tag"))
    await page.keyboard.type("typed")
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("button", name="Remove tag typed")).to_be_visible()
    await tab_to(page, page.get_by_role("button", name="Delete…"))
    await page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog")
    await expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
    await page.keyboard.press("Escape")
    await expect(dialog).to_be_hidden()

    await page.go_back()
    await expect(page.locator(".grid a").first).to_be_focused()
    assert (await app.get(f"/images/{image['id']}")).json()["tags"] == ["keyboard", "typed"]


async def test_library_loads_more_while_scrolling(session: Session, app: Server) -> None:
    uploads: list[dict[str, Any]] = []
    for seed in range(36):
        uploads.append(await app.upload(f"scroll-{seed}.png", make_image(100 + seed, (48 + seed, 40)), "scroll"))
    page = session.page
    await page.goto("/")
    tiles = page.locator(".grid .tile")
    await expect(tiles).to_have_count(30)
    # The grid reserves each tile's size before its image arrives: no jumps.
    boxes = await tiles.evaluate_all("els => els.map(el => el.getBoundingClientRect().height)")
    assert min(boxes) > 50
    await page.mouse.wheel(0, 20_000)
    await expect(tiles).to_have_count(36)
    hrefs = await page.locator(".grid a").evaluate_all("els => els.map(el => el.getAttribute('href'))")
    assert hrefs == [f"/images/{item['id']}" for item in reversed(uploads)]
    await expect(page.get_by_text("That’s all 36 images.")).to_be_visible()

    # Back from an image: the same grid, scrolled to where it was, focus on the tile that was opened.
    oldest = page.locator(f'a[data-id="{uploads[0]["id"]}"]')
    await oldest.scroll_into_view_if_needed()
    scrolled = await page.evaluate("window.scrollY")
    assert scrolled > 0
    await oldest.click()
    await expect(page.get_by_role("heading", name="scroll-0.png")).to_be_visible()
    await page.go_back()
    await expect(oldest).to_be_focused()
    await expect(tiles).to_have_count(36)
    assert abs(await page.evaluate("window.scrollY") - scrolled) < 2


async def test_files_dropped_anywhere_go_to_the_upload_page(session: Session, app: Server) -> None:
    page = session.page
    await page.goto("/")
    await expect(page.get_by_role("heading", name="No images yet")).to_be_visible()
    transfer = await page.evaluate_handle(
        """(png) => {
            const transfer = new DataTransfer();
            transfer.items.add(new File([Uint8Array.from(png)], "dropped.png", { type: "image/png" }));
            return transfer;
        }""",
        list(make_image(3)),
    )
    await page.locator("main").dispatch_event("drop", {"dataTransfer": transfer})
    await expect(page).to_have_url(f"{app.url}/upload")
    await expect(page.locator(".queue-item.done")).to_contain_text("dropped.png")


async def test_second_visit_does_not_download_images_again(session: Session, app: Server) -> None:
    for seed in range(3):
        await app.upload(f"cached-{seed}.png", make_image(40 + seed), "cached")
    page = session.page
    await page.goto("/")
    await thumbnails_loaded(page, 3)

    second = await session.context.new_page()
    cdp = await session.context.new_cdp_session(second)
    responses: dict[str, dict[str, Any]] = {}
    cdp.on("Network.responseReceived", lambda event: responses.__setitem__(event["response"]["url"], event["response"]))
    await cdp.send("Network.enable")
    await second.goto("/")
    assert await thumbnails_loaded(second, 3) == [320, 320, 320]
    images = {url: response for url, response in responses.items() if "/thumbnail" in url}
    assert len(images) == 3
    for url, response in images.items():
        cached = response.get("fromDiskCache") or response.get("fromMemoryCache") or response["status"] == 304
        assert cached, f"{url} was downloaded again: {response['status']}"


async def test_error_states(session: Session, app: Server) -> None:
    page = session.page
    await page.goto("/images/00000000-0000-0000-0000-000000000000")
    await expect(page.get_by_role("heading", name="Image not found")).to_be_visible()
    await page.goto("/no/such/page")
    await expect(page.get_by_role("heading", name="Page not found")).to_be_visible()

    # A tag the API refuses: the error state shows the API's own explanation.
    await app.upload("x.png", make_image(50), "funny-cat")
    await page.goto("/?tag=a/b")
    alert = page.get_by_role("alert")
    await expect(alert.get_by_role("heading", name="Couldn’t load images")).to_be_visible()
    detail = (await app.get("/images?tag=a/b")).json()["detail"]
    await expect(alert).to_contain_text(detail)

    # A hand-typed search is normalised like the API normalises it.
    await page.goto("/?tag=Funny%20Cat")
    await expect(page.get_by_role("button", name="Remove tag funny-cat")).to_be_visible()
    await thumbnails_loaded(page, 1)


async def test_detail_shows_the_caption_read_in_the_background_and_edits_it(
    session: Session, app: Server, s3_server: S3Server, caption_reader: CaptionReader
) -> None:
    meme = memes.memes()[0]
    image = await app.upload(meme.filename, memes.png_bytes(meme))
    assert image["text_status"] == "pending"
    page = session.page
    await page.goto(f"/images/{image['id']}")
    caption = page.locator(".caption-editor")
    await expect(caption.get_by_role("status")).to_have_text("Reading text…")

    # The e2e server runs no worker: one runs here, on the server's database and bucket, while the page polls.
    settings = Settings(
        database_url=app.database_url, storage_backend="s3", s3=s3_server.settings(app.bucket), **FAST_JOBS
    )
    async with (
        open_resources(settings, serving=False) as res,
        running_worker(res, concurrency=1, reader=caption_reader),
    ):
        await expect(caption.locator(".caption-text")).to_be_visible(timeout=60_000)
    read = await caption.locator(".caption-text").inner_text()
    assert compact(meme.caption) in compact(read)

    await page.get_by_role("button", name="Edit text").click()
    field = page.get_by_role("textbox", name="Text in the image")
    await field.fill("Why not both?\nthe taco girl")
    await page.get_by_role("button", name="Save text").click()
    await expect(caption.locator(".caption-text")).to_have_text("Why not both?\nthe taco girl")
    stored = (await app.get(f"/images/{image['id']}")).json()
    assert (stored["text"], stored["text_status"]) == ("Why not both?\nthe taco girl", "done")
