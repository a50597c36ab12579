"""What a new user tripped over (issue 18), one browser test each: suggestion lists that caught clicks, typos that
found nothing, a help button that moved, the query shown twice, alt text without the caption, a toast that stayed,
contrast, the share panel, the tag rules screen, motion and overlays, touch targets and the phone upload page."""

from __future__ import annotations

import itertools
import re
import uuid
from pathlib import Path

from playwright.async_api import Browser, Locator, expect

from tests.conftest import FIXTURES
from tests.e2e.a11y import contrast_of
from tests.e2e.conftest import (
    DESKTOP,
    TOUCH_PHONE,
    Server,
    Session,
    browser_session,
    make_image,
    set_caption,
    thumbnails_loaded,
)

MEDIA = Path(__file__).resolve().parents[1] / "fixtures" / "media"


async def box(locator: Locator) -> dict[str, float]:
    found = await locator.bounding_box()
    assert found is not None, f"{locator} is not rendered"
    return found


# --- 1. suggestion lists and tag removal -------------------------------------------------------------------------


async def test_tag_suggestions_never_catch_a_click_meant_for_what_is_beneath(session: Session, app: Server) -> None:
    # Enough popular tags for the list to reach down over the caption section.
    await app.upload("smug.png", make_image(800), "smug, happy, sad, cat, dog, no, yes, lol, wat")
    image = await app.upload("wow.png", make_image(801, (640, 480)), "wow")
    await set_caption(app, image["id"], "WOW")
    page = session.page
    await page.goto(f"/images/{image['id']}")
    editor = page.get_by_role("combobox", name="Add a tag")
    suggestions = page.get_by_role("listbox", name="Add a tag: suggestions")

    await editor.fill("surprised")
    await editor.press("Enter")
    await expect(page.get_by_role("button", name="Remove tag surprised")).to_be_visible()
    # The field keeps focus for the next tag, but no list is left open over what is below.
    await expect(editor).to_be_focused()
    await page.wait_for_timeout(500)  # past the suggestions' debounce and fetch
    await expect(suggestions).to_be_hidden()
    await page.get_by_role("button", name="Edit text").click()
    await expect(page.get_by_role("textbox", name="Text in the image")).to_be_visible()
    await page.get_by_role("button", name="Cancel").click()
    assert (await app.get(f"/images/{image['id']}")).json()["tags"] == ["surprised", "wow"]

    # A list opens while typing, and Escape, a click elsewhere and leaving the field all close it.
    await editor.fill("sm")
    await expect(suggestions.get_by_role("option", name=re.compile("smug"))).to_be_visible()
    await editor.press("Escape")
    await expect(suggestions).to_be_hidden()
    await editor.fill("smu")
    await expect(suggestions).to_be_visible()
    await page.get_by_role("heading", name="wow.png").click()
    await expect(suggestions).to_be_hidden()
    await editor.fill("smu")
    await expect(suggestions).to_be_visible()
    await editor.press("Tab")
    await expect(suggestions).to_be_hidden()
    assert (await app.get(f"/images/{image['id']}")).json()["tags"] == ["surprised", "wow"]


async def test_removing_a_tag_can_be_undone(session: Session, app: Server) -> None:
    image = await app.upload("wow.png", make_image(802), "wow, surprised, smug")
    page = session.page
    await page.goto(f"/images/{image['id']}")
    chips = page.get_by_role("list", name="Tags of this image").get_by_role("button")
    await page.get_by_role("button", name="Remove tag smug").click()
    await expect(chips).to_have_text(["surprised", "wow"])
    await expect(page.get_by_role("status").filter(has_text="Removed “smug”")).to_be_visible()
    await expect(page.locator(".saving")).to_have_text("")
    assert (await app.get(f"/images/{image['id']}")).json()["tags"] == ["surprised", "wow"]
    await page.get_by_role("button", name="Undo").click()
    await expect(chips).to_have_text(["smug", "surprised", "wow"])
    await expect(page.get_by_role("button", name="Undo")).to_have_count(0)
    await expect(page.locator(".saving")).to_have_text("")
    assert (await app.get(f"/images/{image['id']}")).json()["tags"] == ["smug", "surprised", "wow"]


# --- 2. did you mean ---------------------------------------------------------------------------------------------


async def test_an_empty_result_offers_the_close_tag_or_caption(session: Session, app: Server) -> None:
    grumpy = await app.upload("g.png", make_image(810), "grumpy")
    cat = await app.upload("c.png", make_image(811), "cat")
    fine = await app.upload("dog.png", make_image(812, (400, 300), "THIS IS FINE"))
    await set_caption(app, fine["id"], "THIS IS FINE")
    page = session.page
    search = page.get_by_role("combobox", name="Search")
    typos = [("grumpu", "grumpy", grumpy), ("kat", "cat", cat), ("thsi is fine", "this is fine", fine)]
    for typed, meant, found in typos:
        await page.goto("/")
        await search.fill(typed)
        await search.press("Enter")
        await expect(page.get_by_role("heading", name="No matching images")).to_be_visible()
        offer = page.get_by_role("link", name=meant, exact=True)
        await expect(page.locator(".did-you-mean")).to_contain_text(f"Did you mean {meant}?")
        await offer.click()
        await thumbnails_loaded(page, 1)
        await expect(page.locator(".grid a")).to_have_attribute("href", f"/images/{found['id']}")

    # Nothing close: no offer, just the way out.
    await page.goto("/?q=xylophone")
    await expect(page.get_by_role("heading", name="No matching images")).to_be_visible()
    await expect(page.locator(".did-you-mean")).to_have_count(0)


# --- 3. the help button and the way to tag rules -----------------------------------------------------------------


async def test_search_help_stays_under_the_pointer_and_closes_like_a_popup(session: Session, app: Server) -> None:
    page = session.page
    await page.goto("/")
    toggle = page.get_by_role("button", name="Search syntax")
    before = await box(toggle)
    await page.mouse.move(before["x"] + before["width"] / 2, before["y"] + before["height"] / 2)
    await page.mouse.down()
    assert await box(toggle) == before, "the button moved away from the pointer on mouse-down"
    await page.mouse.up()
    help_panel = page.locator("#search-help")
    await expect(help_panel).to_be_visible()
    await page.keyboard.press("Escape")
    await expect(help_panel).to_be_hidden()
    await expect(toggle).to_be_focused()
    await toggle.click()
    await expect(help_panel).to_be_visible()
    await page.locator("main").click(position={"x": 5, "y": 300})
    await expect(help_panel).to_be_hidden()

    # Tag rules are in the navigation, not only inside the help.
    await page.get_by_role("navigation").get_by_role("link", name="Tag rules").click()
    await expect(page).to_have_url(f"{app.url}/tag-rules")
    await expect(page.get_by_role("navigation").get_by_role("link", name="Tag rules")).to_have_attribute(
        "aria-current", "page"
    )


# --- 4. the query shown once -------------------------------------------------------------------------------------


async def test_the_search_box_shows_the_query_once(browser: Browser, app: Server) -> None:
    await app.upload("b.png", make_image(820), "bothered, cat")
    async with browser_session(browser, app.url, **TOUCH_PHONE) as session:
        page = session.page
        await page.goto("/")
        search = page.get_by_role("combobox", name="Search")
        await search.fill("why not both tag:cat -dog")
        await search.press("Enter")
        await expect(page).to_have_url(re.compile(r"q=why\+not\+both\+tag%3Acat\+-dog"))
        # A typed phrase is one chip; operators get their own; the box is free for the next words.
        chips = page.get_by_role("list", name="Searching for").get_by_role("button")
        await expect(chips).to_have_text(["why not both", "tag:cat", "-dog"])
        await expect(search).to_have_value("")
        # Focusing the box again pops up nothing that was not asked for.
        await search.focus()
        await page.wait_for_timeout(400)
        await expect(page.get_by_role("listbox")).to_be_hidden()
        # On a phone the help button stays on the row of the box.
        toggle, field = await box(page.get_by_role("button", name="Search syntax")), await box(search)
        assert abs((toggle["y"] + toggle["height"] / 2) - (field["y"] + field["height"] / 2)) < 12, (toggle, field)
        # Backspace in the empty box takes the last term back for editing.
        await search.press("Backspace")
        await expect(chips).to_have_text(["why not both", "tag:cat"])
        await expect(search).to_have_value("-dog")
        await page.get_by_role("button", name="Remove why not both").click()
        await expect(page).to_have_url(re.compile(r"q=tag%3Acat$"))


# --- 5. alt text and titles --------------------------------------------------------------------------------------


async def test_alt_text_uses_the_caption_and_every_page_has_its_own_title(session: Session, app: Server) -> None:
    meme = await app.upload("taco.png", make_image(830, (400, 300), "WHY NOT BOTH"), "choice, taco")
    await set_caption(app, meme["id"], "Why not both?")
    money = await app.upload("take-my-money.jpg", make_image(831, fmt="JPEG"))
    await set_caption(app, money["id"], "SHUT UP AND TAKE MY MONEY")
    page = session.page
    await page.goto("/")
    await thumbnails_loaded(page, 2)
    await expect(page.locator(f'a[data-id="{meme["id"]}"]')).to_have_accessible_name(
        re.compile(r"Why not both\?.*choice, taco")
    )
    await expect(page.locator(f'a[data-id="{money["id"]}"]')).to_have_accessible_name(
        re.compile("SHUT UP AND TAKE MY MONEY", re.IGNORECASE)
    )
    await expect(page).to_have_title("Library · reactbin")

    await page.goto(f"/images/{meme['id']}")
    await expect(page.locator("img.full")).to_have_attribute("alt", re.compile(r"Why not both\?.*choice, taco"))
    await expect(page).to_have_title("Why not both? · reactbin")
    await page.goto(f"/images/{money['id']}")
    await expect(page).to_have_title(re.compile("take my money", re.IGNORECASE))
    await page.goto("/?q=sort:popular")
    await expect(page).to_have_title("Most used · reactbin")
    await page.goto("/?q=taco")
    await expect(page).to_have_title("“taco” · Search · reactbin")


# --- 6. the toast ------------------------------------------------------------------------------------------------


async def test_the_copy_toast_is_readable_and_leaves(session: Session, app: Server) -> None:
    await app.upload("toast.png", make_image(840))
    page = session.page
    await session.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=app.url)
    await page.goto("/")
    await thumbnails_loaded(page, 1)
    await page.locator(".grid a").first.focus()
    await page.keyboard.press("c")
    toast = page.get_by_role("status").filter(has_text="Image copied")
    await expect(toast).to_be_visible()
    assert await contrast_of(toast) >= 4.5
    await expect(toast).to_be_hidden(timeout=8_000)


# --- 7. contrast in both themes, hover included -------------------------------------------------------------------


async def test_text_contrast_reaches_aa_in_both_themes_and_on_hover(browser: Browser, app: Server) -> None:
    image = await app.upload("c.png", make_image(850), "contrast")
    for theme in ("light", "dark"):
        async with browser_session(browser, app.url, color_scheme=theme) as session:
            page = session.page
            await page.goto(f"/images/{image['id']}")
            for name in ("Upload", "Copy image", "Copy link", "Copy page link"):
                control = page.get_by_role("link", name=name, exact=True).or_(
                    page.get_by_role("button", name=name, exact=True)
                )
                assert await contrast_of(control) >= 4.5, f"{name} in {theme}"
                await control.hover()
                await page.wait_for_timeout(250)  # past the colour transition
                assert await contrast_of(control) >= 4.5, f"{name} hovered in {theme}"
            await page.goto("/upload")
            await page.get_by_label("Tags for this batch").fill("bad/tag")
            error = page.locator(".upload-form .field-error")
            assert await contrast_of(error) >= 4.5, f"the upload tag error in {theme}"


# --- 8. the share panel ------------------------------------------------------------------------------------------


async def test_the_share_panel_puts_the_main_action_first_and_names_it_per_kind(browser: Browser, app: Server) -> None:
    still = await app.upload("still.png", make_image(860))
    gif = await app.upload("dance.gif", (MEDIA / "animated.gif").read_bytes())
    video = await app.upload("clip.webm", (MEDIA / "vp9.webm").read_bytes())
    async with browser_session(browser, app.url) as session:
        page = session.page
        share = page.get_by_role("region", name="Share")
        for image, main_action in ((still, "Copy image"), (gif, "Copy GIF link"), (video, "Copy video link")):
            await page.goto(f"/images/{image['id']}")
            first = share.get_by_role("button").first
            await expect(first).to_have_text(re.compile(main_action))
            await expect(first).to_have_class(re.compile(r"\bprimary\b"))
            await expect(share.get_by_role("button", name="Copy image")).to_have_count(1 if image is still else 0)
            # The links show where they lead: the host and the end of the path, not a cut-off prefix.
            host = app.url.removeprefix("http://")
            for shown in await share.locator(".link-text").all():
                text = await shown.inner_text()
                assert text.startswith(host), text
                assert text.endswith(("/file", f"/i/{image['id'][:8]}…")), text
                assert await shown.evaluate("el => el.scrollWidth <= el.clientWidth"), f"{text} is cut off"
            # Secondary actions do not touch each other.
            buttons = await share.get_by_role("button").all()
            boxes = [await box(button) for button in buttons]
            for a, b in itertools.pairwise(boxes):
                same_row = abs(a["y"] - b["y"]) < 4
                gap = b["x"] - (a["x"] + a["width"]) if same_row else b["y"] - (a["y"] + a["height"])
                assert gap >= 8, f"buttons {gap:.0f}px apart"
        await expect(share.locator("kbd")).to_be_visible()

    async with browser_session(browser, app.url, **TOUCH_PHONE) as session:
        page = session.page
        await page.goto(f"/images/{still['id']}")
        await expect(page.get_by_role("button", name="Copy image")).to_be_visible()
        await expect(page.get_by_role("region", name="Share").locator("kbd")).to_be_hidden()


# --- 9. the tag rules screen -------------------------------------------------------------------------------------


async def test_the_tag_rules_screen_is_finished(browser: Browser, app: Server) -> None:
    await app.upload("cat.png", make_image(870), "cat")
    async with browser_session(browser, app.url, color_scheme="dark", **TOUCH_PHONE) as session:
        page = session.page
        await page.goto("/upload")
        styled = await page.get_by_label("Tags for this batch").evaluate("el => getComputedStyle(el).backgroundColor")
        await page.goto("/tag-rules")
        fields = [page.get_by_label(name, exact=True) for name in ("Alias", "Means tag", "Tag", "Implies")]
        for field in fields:
            # Styled like every other field of the app, never the browser's grey box.
            assert await field.evaluate("el => getComputedStyle(el).backgroundColor") == styled
            assert re.search(r"e\.g\.|example", await field.get_attribute("placeholder") or "", re.IGNORECASE)
        # Each label sits right above its field on a phone.
        for name, field in zip(("Alias", "Means tag", "Tag", "Implies"), fields, strict=True):
            label = await box(page.locator("label", has_text=re.compile(f"^{name}$")))
            input_box = await box(field)
            assert 0 <= input_box["y"] - (label["y"] + label["height"]) <= 12, name
            assert abs(input_box["x"] - label["x"]) <= 4, name
        # Tags autocomplete.
        await page.get_by_label("Means tag", exact=True).fill("ca")
        await expect(page.get_by_role("option", name=re.compile("cat"))).to_be_visible()
        await page.wait_for_timeout(300)  # a list that just appeared ignores clicks for 250 ms (Suggestions.tsx)
        await page.get_by_role("option", name=re.compile("cat")).click()
        await expect(page.get_by_label("Means tag", exact=True)).to_have_value("cat")
        await page.get_by_label("Alias", exact=True).fill("kitty")
        await page.get_by_role("button", name="Add alias").click()
        await expect(page.get_by_role("list", name="Aliases")).to_contain_text("kitty")

        # A conflict is explained next to the form that caused it.
        implications = page.get_by_role("region", name="Implications")
        await page.get_by_label("Tag", exact=True).fill("cat")
        await page.get_by_label("Implies", exact=True).fill("kitty")
        await page.get_by_role("button", name="Add implication").click()
        await expect(implications.get_by_role("alert")).to_contain_text("cannot imply itself")

        # Delete buttons keep their distance from the chips.
        row = page.get_by_role("list", name="Aliases").get_by_role("listitem").first
        chip = await box(row.locator(".chip").last)
        delete = await box(row.get_by_role("button", name="Delete alias kitty"))
        assert delete["x"] - (chip["x"] + chip["width"]) >= 8


# --- 10. motion and overlays -------------------------------------------------------------------------------------


async def test_reduced_motion_means_no_autoplay_but_playable(browser: Browser, app: Server) -> None:
    gif = await app.upload("dance.gif", (MEDIA / "animated.gif").read_bytes())
    video = await app.upload("clip.webm", (MEDIA / "vp9.webm").read_bytes())
    async with browser_session(browser, app.url, reduced_motion="reduce") as session:
        page = session.page
        await page.goto(f"/images/{gif['id']}")
        full = page.locator("img.full")
        await expect(full).to_have_attribute("src", gif["thumbnail_url"])
        await page.get_by_role("button", name="Play animation").click()
        await expect(full).to_have_attribute("src", gif["file_url"])
        await page.get_by_role("button", name="Pause animation").click()
        await expect(full).to_have_attribute("src", gif["thumbnail_url"])

        await page.goto(f"/images/{video['id']}")
        clip = page.locator("video.full")
        await expect(clip).to_be_visible()
        await page.wait_for_timeout(500)
        assert await clip.evaluate("v => v.paused && v.controls && !v.autoplay")


_PAINTED_OVERLAYS = """(tile) => [...tile.querySelectorAll("*")]
    .filter((el) => el.tagName !== "IMG")
    .filter((el) => {
        const style = getComputedStyle(el);
        const box = el.getBoundingClientRect();
        return style.display !== "none" && style.visibility !== "hidden" && Number(style.opacity) > 0.01
            && box.width > 0 && box.height > 0;
    })
    .map((el) => el.className || el.tagName)"""


async def test_tile_overlays_leave_the_picture_clear_when_looked_at(session: Session, app: Server) -> None:
    gif = await app.upload("dance.gif", (MEDIA / "animated.gif").read_bytes(), "dance, happy, party")
    page = session.page
    await page.goto("/")
    await thumbnails_loaded(page, 1)
    tile = page.locator(f'a[data-id="{gif["id"]}"]')
    await expect(tile.locator(".tile-kind")).to_be_visible()  # what it is shows while browsing
    assert await tile.evaluate(_PAINTED_OVERLAYS) == ["tile-kind"]
    for look in (tile.hover, tile.focus):
        await page.mouse.move(1, 1)
        await look()
        await page.wait_for_timeout(300)  # past the fade
        assert await tile.evaluate(_PAINTED_OVERLAYS) == [], "something is painted over the picture"


# --- smaller: touch targets, the phone upload page, checking the type first --------------------------------------


async def test_touch_targets_are_at_least_44_px(browser: Browser, app: Server) -> None:
    image = await app.upload("t.png", make_image(880), "touch, big")
    async with browser_session(browser, app.url, **TOUCH_PHONE) as session:
        page = session.page
        targets: dict[str, Locator] = {}
        await page.goto("/?q=touch")
        await thumbnails_loaded(page, 1)
        targets["search help"] = page.get_by_role("button", name="Search syntax")
        targets["search chip"] = page.get_by_role("button", name="Remove touch")
        targets["view link"] = page.get_by_role("navigation").get_by_role("link", name="Most used")
        sizes = {name: await box(target) for name, target in targets.items()}
        await page.goto(f"/images/{image['id']}")
        detail = {
            "back link": page.get_by_role("link", name="Library"),
            "tag chip": page.get_by_role("button", name="Remove tag big"),
            "more tagged": page.get_by_role("link", name=re.compile("More tagged")),
        }
        sizes |= {name: await box(target) for name, target in detail.items()}
    small = {n: (round(b["width"]), round(b["height"])) for n, b in sizes.items() if min(b["width"], b["height"]) < 44}
    assert small == {}, f"smaller than 44x44: {small}"


async def test_the_phone_upload_page_offers_only_what_a_phone_can_do(browser: Browser, app: Server) -> None:
    async with browser_session(browser, app.url, **TOUCH_PHONE) as session:
        page = session.page
        await page.goto("/upload")
        await expect(page.get_by_role("button", name=re.compile("Choose"))).to_be_visible()
        shown = await page.locator("main").inner_text()
        for desktop_only in ("Drop", "Ctrl+V", "ShareX"):
            assert desktop_only not in shown, f"{desktop_only!r} offered on a phone"
    async with browser_session(browser, app.url, viewport=DESKTOP) as session:
        page = session.page
        await page.goto("/upload")
        shown = await page.locator("main").inner_text()
        assert all(hint in shown for hint in ("Drop", "Ctrl+V", "ShareX"))


async def test_files_of_other_types_are_refused_before_uploading(session: Session, app: Server, tmp_path: Path) -> None:
    files = tmp_path / "files"
    files.mkdir()
    (files / "notes.txt").write_bytes((FIXTURES / "not-an-image.txt").read_bytes())
    (files / "hopper.tif").write_bytes(_tiff())
    (files / "fine.png").write_bytes(make_image(890))
    (files / "mislabelled.txt").write_bytes(make_image(891, fmt="JPEG"))  # the bytes decide, not the name
    sent: list[str] = []
    page = session.page
    page.on("request", lambda r: sent.append(r.url) if r.method == "POST" and r.url.endswith("/images") else None)
    await page.goto("/upload")
    await page.locator("#upload-files").set_input_files(sorted(files.iterdir()))
    await expect(page.locator(".queue-item.done")).to_have_count(2)
    refused = page.locator(".queue-item.failed")
    await expect(refused).to_have_count(2)
    for name in ("notes.txt", "hopper.tif"):
        message = await refused.filter(has_text=name).locator(".queue-status").inner_text()
        assert len(message) <= 90, message
        assert "image or video" in message, message
    assert len(sent) == 2, sent


def _tiff() -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(out, "TIFF")
    return out.getvalue()


async def test_the_first_screenful_of_thumbnails_is_never_lazy(session: Session, app: Server) -> None:
    """Lighthouse found the LCP thumbnail `loading="lazy"` (LCP 2.9 s): the first tiles load at once."""
    for seed in range(16):
        await app.upload(f"e{seed}.png", make_image(950 + seed, (120, 90)))
    page = session.page
    await page.goto("/")
    thumbs = page.locator(".grid img.thumb")
    await expect(thumbs).to_have_count(16)
    loading = await thumbs.evaluate_all("imgs => imgs.map(img => [img.loading, img.fetchPriority])")
    assert loading[:4] == [["eager", "high"]] * 4
    assert loading[4:12] == [["eager", "auto"]] * 8
    assert loading[12:] == [["lazy", "auto"]] * 4


async def test_the_library_fetches_its_first_page_alongside_the_script(session: Session, app: Server) -> None:
    """`/` names the first page's URL in a preload `Link`: one round trip less before the first thumbnail, and the
    script's own request reuses it (one request, no "preloaded but not used" warning)."""
    await app.upload("first.png", make_image(990))
    page = session.page
    warnings: list[str] = []
    page.on("console", lambda message: warnings.append(message.text) if message.type == "warning" else None)
    response = await page.goto("/")
    assert response is not None
    assert response.headers["link"] == "</api/v1/images?limit=30>; rel=preload; as=fetch; crossorigin"
    await thumbnails_loaded(page, 1)
    await page.wait_for_timeout(500)
    # The library's pages (the offline screen's most-used list, fetched when the page is idle, is not one of them).
    first_pages = [url for url in session.requests if "/api/v1/images?" in url and "sort%3Apopular" not in url]
    assert first_pages == [f"{app.url}/api/v1/images?limit=30"]
    assert not [text for text in warnings if "preload" in text], warnings
    for other in ("/?q=first", f"/images/{uuid.uuid4()}", "/upload"):
        answer = await page.request.get(other)
        assert "link" not in answer.headers, other
