"""Accounts in Chromium: first-run setup with the logged code, password sign-in, users, API keys, favourites, roles
that hide controls, and "Sign in with …" through a real OpenID provider."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from reactbin.domain import accounts
from reactbin.domain.resources import open_resources
from reactbin.settings import Settings
from tests.conftest import S3Server
from tests.e2e.conftest import Server, browser_session, make_image, run_server
from tests.support.live import free_port
from tests.support.oidc import running_provider

ADMIN_PASSWORD = "admin-password-0123"
VIEWER_PASSWORD = "viewer-password-0123"


@pytest.fixture(scope="module")
def accounts_server(
    database_url: str, s3_server: S3Server, ui_dist: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    with run_server(database_url, s3_server, ui_dist, tmp_path_factory.mktemp("accounts")) as server:
        yield server


async def sign_in(page: Page, name: str, password: str) -> None:
    await page.goto("/signin")
    await page.get_by_label("User name").fill(name)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in", exact=True).click()
    await expect(page.get_by_role("button", name=name)).to_be_visible()


async def upload(page: Page, path: Path) -> str:
    await page.goto("/upload")
    await page.locator("#upload-files").set_input_files(path)
    await expect(page.locator(".queue-item.done")).to_have_count(1)
    await page.locator(".queue-item.done a").first.click()
    await expect(page).to_have_url(re.compile(r"/images/[0-9a-f-]+$"))
    return page.url.rsplit("/", 1)[-1]


async def test_first_run_setup_then_password_sign_in(browser: Browser, accounts_server: Server) -> None:
    # The library is empty: the server logged a setup URL when it started (nobody else has the code).
    code = re.search(r"/setup\?code=([A-Za-z0-9_-]+)", accounts_server.log.read_text())
    assert code is not None, accounts_server.log_tail()
    async with browser_session(browser, accounts_server.url) as session:
        page = session.page
        await page.goto("/setup?code=wrong-code")
        await page.get_by_label("Admin user name").fill("root")
        await page.get_by_label("Password (10 to 256 characters)").fill(ADMIN_PASSWORD)
        await page.get_by_label("Password again").fill(ADMIN_PASSWORD)
        await page.get_by_role("button", name="Create admin").click()
        await expect(page.get_by_role("alert")).to_contain_text("setup code is wrong")

        await page.get_by_label("Setup code").fill(code[1])
        await page.get_by_role("button", name="Create admin").click()
        await expect(page.get_by_role("button", name="root")).to_be_visible()
        await expect(page.get_by_role("link", name="Upload", exact=True)).to_be_visible()

        # Sign out: the library now has a user, so anonymous visitors see "Sign in" and no upload control.
        await page.get_by_role("button", name="root").click()
        await page.get_by_role("menuitem", name="Sign out").click()
        await expect(page.get_by_role("link", name="Sign in")).to_be_visible()
        await expect(page.get_by_role("link", name="Upload")).to_have_count(0)

        await page.goto("/signin")
        await page.get_by_label("User name").fill("root")
        await page.get_by_label("Password").fill("not-the-password")
        await page.get_by_role("button", name="Sign in", exact=True).click()
        await expect(page.get_by_role("alert")).to_contain_text("Wrong user name or password")
        await sign_in(page, "root", ADMIN_PASSWORD)
        # Signed in across a reload (the session cookie), and writes carry the CSRF token.
        await page.reload()
        await expect(page.get_by_role("button", name="root")).to_be_visible()


async def test_users_keys_favourites_and_roles(browser: Browser, accounts_server: Server, tmp_path: Path) -> None:
    await accounts_server.reset()
    async with open_resources(Settings(database_url=accounts_server.database_url), cpu_threads=1, serving=False) as res:
        await accounts.create_user(res, "root", "admin", ADMIN_PASSWORD)
    picture = tmp_path / "smug.png"
    picture.write_bytes(make_image(91))
    async with browser_session(browser, accounts_server.url) as session:
        page = session.page
        await sign_in(page, "root", ADMIN_PASSWORD)
        image_id = await upload(page, picture)
        await expect(page.locator(".uploaded-by")).to_have_text("root")

        # Users: create a viewer.
        await page.get_by_role("button", name="root").click()
        await page.get_by_role("menuitem", name="Users").click()
        form = page.get_by_role("form", name="New user")
        await form.get_by_label("User name").fill("vera")
        await form.get_by_label("Role").select_option("viewer")
        await form.get_by_label("Password").fill(VIEWER_PASSWORD)
        await form.get_by_role("button", name="Create user").click()
        await expect(page.get_by_role("status")).to_have_text("Created vera.")
        await expect(page.get_by_label("Role of vera")).to_have_value("viewer")

        # API keys: shown once, copied, listed without the key, revoked.
        await page.goto("/keys")
        await page.get_by_label("Key name").fill("laptop")
        await page.get_by_role("button", name="Create key").click()
        key_field = page.get_by_label("New API key")
        await expect(key_field).to_have_value(re.compile(r"^rb_[A-Za-z0-9_-]{43}$"))
        key = await key_field.input_value()
        keys_table = page.get_by_role("table", name="Your API keys")
        await expect(keys_table.get_by_role("row")).to_have_count(2)
        assert key not in await keys_table.inner_text()
        async with page.expect_download() as info:
            await page.get_by_role("button", name="Download ShareX config (new upload key)").click()
        config = json.loads((await (await info.value).path()).read_text())
        assert re.fullmatch(r"Bearer rb_[A-Za-z0-9_-]{43}", config["Headers"]["Authorization"])
        assert config["Headers"]["Authorization"] != f"Bearer {key}"
        await expect(keys_table.get_by_role("row")).to_have_count(3)
        await expect(keys_table).to_contain_text("Upload only")
        await page.get_by_role("button", name="Revoke key laptop").click()
        await expect(keys_table.get_by_role("row")).to_have_count(2)
        assert (await accounts_server.get("/me", headers={"authorization": f"Bearer {key}"})).status_code == 401

    # The viewer: browses and favourites, but sees no upload, tag editing or delete controls.
    async with browser_session(browser, accounts_server.url) as session:
        page = session.page
        await sign_in(page, "vera", VIEWER_PASSWORD)
        await expect(page.get_by_role("link", name="Upload")).to_have_count(0)
        tile = page.locator(".tile").first
        await tile.hover()
        await tile.get_by_role("button", name="Add smug.png to favourites").click()
        await expect(tile.get_by_role("button", name="Remove smug.png from favourites")).to_be_visible()
        await page.get_by_role("link", name="Favourites").click()
        await expect(page.get_by_role("heading", name="Favourites")).to_be_visible()
        await expect(page.locator(".grid .tile")).to_have_count(1)
        await page.goto(f"/images/{image_id}")
        await expect(page.get_by_role("button", name="Remove smug.png from favourites")).to_have_attribute(
            "aria-pressed", "true"
        )
        await expect(page.get_by_role("combobox", name="Add a tag")).to_have_count(0)
        await expect(page.get_by_role("button", name="Delete…")).to_have_count(0)
        await expect(page.get_by_role("button", name="Add text")).to_have_count(0)
        await expect(page.get_by_role("link", name="Download")).to_be_visible()
        await page.get_by_role("button", name="Remove smug.png from favourites").click()
        await expect(page.get_by_role("button", name="Add smug.png to favourites")).to_have_attribute(
            "aria-pressed", "false"
        )


async def test_sign_in_with_openid_connect(
    browser: Browser, database_url: str, s3_server: S3Server, ui_dist: Path, tmp_path: Path
) -> None:
    provider_port = free_port()
    env = {
        "OIDC_ISSUER": f"http://127.0.0.1:{provider_port}",
        "OIDC_CLIENT_ID": "reactbin-test",
        "OIDC_CLIENT_SECRET": "reactbin-test-client-secret-0123456789",
        "OIDC_ADMIN_GROUP": "reactbin-admins",
        "OIDC_NAME": "Test ID",
    }
    with run_server(database_url, s3_server, ui_dist, tmp_path, extra_env=env) as server:
        await server.reset()
        with running_provider(f"{server.url}/auth/oidc/callback", port=provider_port) as provider:
            async with browser_session(browser, server.url, other_origins=(provider.issuer,)) as session:
                page = session.page
                await page.goto("/signin")
                await page.get_by_role("link", name="Sign in with Test ID").click()
                # The provider's own login form, on its own origin.
                await expect(page).to_have_url(re.compile(rf"^{re.escape(provider.issuer)}/interaction/"))
                await page.get_by_label("Login").fill("admin-olga")
                await page.get_by_label("Password").fill("whatever-the-provider-wants")
                await page.get_by_role("button", name="Sign-in").click()
                # Back at reactbin, signed in; the provider's group made an admin.
                await expect(page).to_have_url(f"{server.url}/")
                await page.get_by_role("button", name="admin-olga").click()
                await expect(page.get_by_role("menuitem", name="Users")).to_be_visible()
