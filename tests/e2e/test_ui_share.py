"""Getting reactions in and out in the browser: paste to upload, Copy link / Copy page link, the share page's
redirect and the ShareX config download."""

from __future__ import annotations

import json
import re

from playwright.async_api import expect

from tests.e2e.conftest import Server, Session, make_image

PASTE = """([png, jpg]) => {
    const transfer = new DataTransfer();
    transfer.items.add(new File([Uint8Array.from(png)], "image.png", { type: "image/png" }));
    transfer.items.add(new File([Uint8Array.from(jpg)], "second.jpg", { type: "image/jpeg" }));
    const event = new ClipboardEvent("paste", { clipboardData: transfer, bubbles: true, cancelable: true });
    document.activeElement.dispatchEvent(event);
    return event.defaultPrevented;
}"""


async def test_paste_anywhere_uploads_with_progress_rows(session: Session, app: Server) -> None:
    page = session.page
    await page.goto("/")
    await expect(page.get_by_role("heading", name="No images yet")).to_be_visible()

    # Text pasted into the search box stays a text paste.
    search = page.get_by_role("combobox").first
    await search.focus()
    text_paste = """() => {
        const transfer = new DataTransfer();
        transfer.setData("text/plain", "cat");
        const event = new ClipboardEvent("paste", { clipboardData: transfer, bubbles: true, cancelable: true });
        document.activeElement.dispatchEvent(event);
        return event.defaultPrevented;
    }"""
    assert await page.evaluate(text_paste) is False
    await expect(page).to_have_url(f"{app.url}/")

    handled = await page.evaluate(
        PASTE, [list(make_image(31, (200, 150))), list(make_image(32, (150, 200), fmt="JPEG"))]
    )

    assert handled is True
    await expect(page).to_have_url(f"{app.url}/upload")
    await expect(page.locator(".queue-item")).to_have_count(2)
    await expect(page.locator(".queue-item.done")).to_have_count(2)
    await expect(page.locator(".queue-summary")).to_contain_text("2 uploaded")
    names = sorted(item["filename"] for item in (await app.get("/images")).json()["items"])
    assert names[1] == "second.jpg"
    # A screenshot from the clipboard is called "image.png"; it gets a name that says when it was pasted.
    assert re.fullmatch(r"pasted-\d{4}-\d{2}-\d{2}-\d{6}\.png", names[0]), names

    # Pasting the same image again on the upload page reports it as a duplicate in the same rows.
    await page.evaluate(PASTE, [list(make_image(31, (200, 150))), list(make_image(33, (90, 90), fmt="JPEG"))])
    await expect(page.locator(".queue-item")).to_have_count(4)
    await expect(page.locator(".queue-summary")).to_contain_text("3 uploaded · 1 duplicate")


async def test_copy_link_copy_page_link_and_the_share_page(session: Session, app: Server) -> None:
    image = await app.upload("smug.jpg", make_image(41, (320, 200), fmt="JPEG"), tags="smug")
    await session.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=app.url)
    page = session.page
    await page.goto(f"/images/{image['id']}")

    await page.get_by_role("button", name="Copy link").click()
    await expect(page.get_by_role("status").filter(has_text="Link copied")).to_be_visible()
    assert await page.evaluate("navigator.clipboard.readText()") == f"{app.url}{image['file_url']}"

    await page.get_by_role("button", name="Copy page link").click()
    await expect(page.get_by_text("Page link copied")).to_be_visible()
    page_link = await page.evaluate("navigator.clipboard.readText()")
    assert page_link == f"{app.url}/i/{image['id']}"
    await expect(page.locator("#share-page-link")).to_have_attribute("title", page_link)

    # Copy image: the still's pixels, as PNG (what clipboards take), converted from the JPEG.
    await page.get_by_role("button", name="Copy image").click()
    await expect(page.get_by_text("Image copied")).to_be_visible()
    copied = await page.evaluate(
        """async () => {
            const [item] = await navigator.clipboard.read();
            const bitmap = await createImageBitmap(await item.getType("image/png"));
            return [item.types, bitmap.width, bitmap.height];
        }"""
    )
    assert copied == [["image/png"], 320, 200]

    # A person opening the page link lands on the image's page in the UI.
    await page.goto("about:blank")
    await page.goto(page_link)
    await expect(page).to_have_url(f"{app.url}/images/{image['id']}")
    await expect(page.get_by_role("heading", name="smug.jpg")).to_be_visible()


async def test_sharex_config_download(session: Session, app: Server) -> None:
    page = session.page
    await page.goto("/upload")
    async with page.expect_download() as info:
        await page.get_by_role("button", name="Download ShareX config").click()
    download = await info.value
    assert download.suggested_filename == "reactbin.sxcu"
    path = await download.path()
    config = json.loads(path.read_text())
    assert config["RequestURL"] == f"{app.url}/api/v1/images"
    assert config["FileFormName"] == "file"
    assert config["URL"] == f"{app.url}$json:file_url$"
    assert "Headers" not in config
    await expect(page.get_by_role("status").filter(has_text="Downloaded")).to_be_visible()
