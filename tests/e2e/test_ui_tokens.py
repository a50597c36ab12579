"""A server with API_TOKENS: the UI asks for the write token once, keeps it, and shows why a write failed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from tests.conftest import S3Server
from tests.e2e.conftest import Server, browser_session, make_image, run_server

TOKEN = "e2e-write-token-0123456789"


@pytest.fixture(scope="module")
def token_server(
    database_url: str, s3_server: S3Server, ui_dist: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    log_dir = tmp_path_factory.mktemp("server")
    with run_server(database_url, s3_server, ui_dist, log_dir, extra_env={"API_TOKENS": TOKEN}) as server:
        yield server


async def test_writes_ask_for_the_token_once(browser: Browser, token_server: Server, tmp_path: Path) -> None:
    await token_server.reset()
    picture = tmp_path / "guarded.png"
    picture.write_bytes(make_image(70))
    async with browser_session(browser, token_server.url) as session:
        page = session.page
        await page.goto("/upload")
        await page.locator("#upload-files").set_input_files(picture)
        dialog = page.get_by_role("dialog", name="Write token needed")
        await expect(dialog).to_be_visible()
        await expect(dialog.get_by_label("Write token")).to_be_focused()
        await page.keyboard.type("not-the-right-token-000")
        await page.keyboard.press("Enter")
        await expect(dialog).to_contain_text("That token was not accepted")
        await dialog.get_by_label("Write token").fill(TOKEN)
        await dialog.get_by_role("button", name="Save and retry").click()
        await expect(page.locator(".queue-item.done")).to_have_count(1)
        await expect(dialog).to_be_hidden()

        # The token is remembered: the next write does not ask again.
        await page.locator(".queue-item.done a").first.click()
        editor = page.get_by_role("combobox", name="Add a tag")
        await editor.fill("guarded")
        await editor.press("Enter")
        await expect(page.get_by_role("button", name="Remove tag guarded")).to_be_visible()
        await expect(page.locator(".saving")).to_have_text("")
        await expect(dialog).to_be_hidden()
        image_id = page.url.rsplit("/", 1)[-1]
        assert (await token_server.get(f"/images/{image_id}")).json()["tags"] == ["guarded"]

    # Someone without the token who cancels sees why nothing changed.
    async with browser_session(browser, token_server.url) as session:
        page = session.page
        await page.goto(f"/images/{image_id}")
        await page.get_by_role("button", name="Remove tag guarded").click()
        dialog = page.get_by_role("dialog", name="Write token needed")
        await dialog.get_by_role("button", name="Cancel").click()
        await expect(page.get_by_role("alert")).to_contain_text("Tags not saved: This server needs a write token")
        await expect(page.get_by_role("button", name="Remove tag guarded")).to_be_visible()
    assert (await token_server.get(f"/images/{image_id}")).json()["tags"] == ["guarded"]


async def test_sharex_config_carries_the_token_the_ui_holds(browser: Browser, token_server: Server) -> None:
    async with browser_session(browser, token_server.url) as session:
        page = session.page
        await page.goto("/upload")
        # Without a token in this browser: the placeholder, and a note saying what to do.
        async with page.expect_download() as info:
            await page.get_by_role("button", name="Download ShareX config").click()
        config = json.loads((await (await info.value).path()).read_text())
        assert config["Headers"] == {"Authorization": "Bearer <your write token>"}
        await expect(page.get_by_role("status").filter(has_text="needs a write token")).to_be_visible()

        await page.evaluate("token => localStorage.setItem('reactbin.writeToken', token)", TOKEN)
        await page.reload()
        async with page.expect_download() as info:
            await page.get_by_role("button", name="Download ShareX config").click()
        config = json.loads((await (await info.value).path()).read_text())
        assert config["Headers"] == {"Authorization": f"Bearer {TOKEN}"}
        assert config["RequestURL"] == f"{token_server.url}/api/v1/images"
