"""Near-duplicates in a real browser: "looks like one you have" with merge, Similar, suggested tag chips."""

from __future__ import annotations

import io
from pathlib import Path

import httpx
from PIL import Image
from playwright.async_api import expect

from tests.e2e.conftest import Server, Session
from tests.fixtures import memes

MEME = memes.memes()[0]


def _copy_jpeg(scale: float) -> bytes:
    image = memes.render(MEME)
    image = image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=70)
    return out.getvalue()


def _template_png() -> bytes:
    return memes.png_bytes(memes.Meme(MEME.index, ("this is fine",), MEME.font, MEME.outlined, MEME.busy))


async def _caption(app: Server, image_id: str, text: str) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.patch(f"{app.api}/images/{image_id}", json={"text": text})
    assert response.status_code == 200, response.text


async def test_upload_of_a_copy_offers_merge(session: Session, app: Server, tmp_path: Path) -> None:
    page = session.page
    kept = await app.upload("meme.png", memes.png_bytes(MEME), tags="classic")
    copy = tmp_path / "copy.jpg"
    copy.write_bytes(_copy_jpeg(0.5))
    await page.goto("/upload")
    await page.get_by_label("Tags for this batch").fill("saved-from-chat")
    await page.locator("#upload-files").set_input_files([copy])

    notice = page.get_by_role("group", name="Looks like one you have")
    await expect(notice).to_be_visible()
    await expect(notice.get_by_role("img")).to_have_attribute("alt", "meme — tagged classic")
    # The new copy's neighbour's tag is offered as a chip too.
    await expect(page.get_by_role("button", name="Add tag classic (used on similar images)")).to_be_visible()
    await notice.get_by_role("button", name="Merge").click()

    await expect(page.get_by_role("status").filter(has_text="Merged into")).to_be_visible()
    items = (await app.get("/images")).json()["items"]
    assert [(item["id"], item["tags"]) for item in items] == [(kept["id"], ["classic", "saved-from-chat"])]


async def test_keep_both_leaves_both(session: Session, app: Server, tmp_path: Path) -> None:
    page = session.page
    await app.upload("meme.png", memes.png_bytes(MEME))
    copy = tmp_path / "copy.jpg"
    copy.write_bytes(_copy_jpeg(0.75))
    await page.goto("/upload")
    await page.locator("#upload-files").set_input_files([copy])
    notice = page.get_by_role("group", name="Looks like one you have")
    await notice.get_by_role("button", name="Keep both").click()
    await expect(page.get_by_text("Kept both.")).to_be_visible()
    assert len((await app.get("/images")).json()["items"]) == 2


async def test_detail_page_shows_similar_and_suggested_tags(session: Session, app: Server) -> None:
    page = session.page
    original = await app.upload("meme.png", memes.png_bytes(MEME), tags="classic, choices")
    copy = await app.upload("copy.jpg", _copy_jpeg(0.6))
    template = await app.upload("template.png", _template_png())
    await _caption(app, original["id"], "WHY NOT BOTH")
    await _caption(app, copy["id"], "why not both")
    await _caption(app, template["id"], "THIS IS FINE")

    await page.goto(f"/images/{copy['id']}")
    similar = page.get_by_role("region", name="Similar")
    await expect(similar.get_by_role("list", name="The same picture").get_by_role("link")).to_have_count(1)
    await expect(
        similar.get_by_role("list", name="The same template with another caption").get_by_role("link")
    ).to_have_count(1)
    await expect(page.get_by_role("img", name="“why not both”", exact=True)).to_be_visible()  # alt: the caption
    await expect(similar.get_by_role("link", name="WHY NOT BOTH")).to_be_visible()

    await page.get_by_role("button", name="Add tag choices (used on similar images)").click()
    await expect(page.get_by_role("list", name="Tags of this image").get_by_text("choices")).to_be_visible()
    assert (await app.get(f"/images/{copy['id']}")).json()["tags"] == ["choices"]

    await similar.get_by_role("list", name="The same template with another caption").get_by_role("link").click()
    await expect(page).to_have_url(f"{app.url}/images/{template['id']}")
