"""Browser tests: the real `reactbin serve` process, the built UI, and Debian's Chromium driven by Playwright.

The server runs as a subprocess against the session's PostgreSQL and S3 (tests/conftest.py), each server on a fresh
bucket. `ui/dist` is built first when it is missing or older than the UI sources. Every page records the requests
the browser makes, and a test fails if one of them went anywhere but the API's origin (or the stand-in CDN).
"""

from __future__ import annotations

import contextlib
import io
import shutil
import subprocess
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

import asyncpg
import pytest
from playwright.async_api import Browser, BrowserContext, Page, Request, async_playwright, expect

from tests.conftest import S3Server
from tests.support.live import Server, run_server

REPO = Path(__file__).resolve().parents[2]
UI = REPO / "ui"
DIST = UI / "dist"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
TOUCH_PHONE: dict[str, Any] = {"viewport": PHONE, "has_touch": True, "is_mobile": True}
"""A phone as the page sees it: narrow, touch (no hover, a coarse pointer)."""
UI_SOURCES = [
    "src",
    "public",
    "index.html",
    "package.json",
    "package-lock.json",
    "vite.config.ts",
    "vite.sw.config.ts",
    "tsconfig.json",
    "tsconfig.sw.json",
]


# --- the built UI ---------------------------------------------------------------------------------------------


def _newest_mtime(paths: list[Path]) -> float:
    newest = 0.0
    for path in paths:
        files = path.rglob("*") if path.is_dir() else [path]
        newest = max([newest, *(f.stat().st_mtime for f in files if f.is_file())])
    return newest


def _run(command: list[str], cwd: Path) -> None:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0:
        pytest.fail(f"`{' '.join(command)}` failed in {cwd}:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}")


def ensure_ui_dependencies() -> str:
    """`npm ci` in ui/ unless node_modules matches package-lock.json; returns the npm executable."""
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("npm is not installed: it is needed to build ui/")
    lock = UI / "package-lock.json"
    installed = UI / "node_modules" / ".package-lock.json"
    if not installed.is_file() or installed.stat().st_mtime < lock.stat().st_mtime:
        _run([npm, "ci", "--no-audit", "--no-fund"], UI)
    return npm


@pytest.fixture(scope="session")
def ui_dist() -> Path:
    """ui/dist, built with `npm ci && npm run build` when it is missing or older than the sources."""
    index = DIST / "index.html"
    if index.is_file() and index.stat().st_mtime >= _newest_mtime([UI / name for name in UI_SOURCES]):
        return DIST
    npm = ensure_ui_dependencies()
    _run([npm, "run", "build"], UI)
    return DIST


# --- the browser ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's Chromium; the tests fail (never skip) when it is not installed."""
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} is missing: install it with `apt-get install -y chromium`")
    return CHROMIUM


@pytest.fixture(scope="package")
async def browser(chromium: Path) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            await browser.close()


@dataclass
class Session:
    """A browser context and every request it made."""

    context: BrowserContext
    page: Page
    allowed_origins: set[str]
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def foreign_requests(self) -> list[str]:
        return [url for url in self.requests if origin_of(url) not in self.allowed_origins]


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@contextlib.asynccontextmanager
async def browser_session(
    browser: Browser,
    base_url: str,
    *,
    other_origins: tuple[str, ...] = (),
    viewport: dict[str, int] | None = None,
    service_workers: Literal["allow", "block"] = "allow",
    **options: Any,
) -> AsyncIterator[Session]:
    """A fresh context; on exit, fails if a request went anywhere but `base_url`'s origin (and `other_origins`)
    or the page threw. `options` go to `new_context` (`color_scheme`, `reduced_motion`, `has_touch`, ...).

    The app's service worker runs as it does for people; a test that intercepts requests with `page.route` blocks
    it (`service_workers="block"`): requests the worker makes never reach the page's routes.
    """
    origins = {origin_of(base_url), *other_origins}
    context = await browser.new_context(
        viewport=viewport or DESKTOP, base_url=base_url, service_workers=service_workers, **options
    )
    context.set_default_timeout(10_000)
    page = await context.new_page()
    session = Session(context, page, origins)

    def record(request: Request) -> None:
        session.requests.append(request.url)

    context.on("request", record)
    page.on("pageerror", lambda error: session.errors.append(str(error)))
    try:
        yield session
    finally:
        await context.close()
    assert session.requests, "the browser made no request at all"
    assert session.foreign_requests() == [], f"requests outside {origins}"
    assert session.errors == [], "uncaught errors in the page"


# --- the server -----------------------------------------------------------------------------------------------


@pytest.fixture(scope="package")
def server(
    database_url: str, s3_server: S3Server, ui_dist: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """The service with proxy URLs (no CDN configured)."""
    with run_server(database_url, s3_server, ui_dist, tmp_path_factory.mktemp("server")) as running:
        yield running


NATURAL_WIDTHS = "imgs => imgs.map(img => img.complete ? img.naturalWidth : 0)"


@pytest.fixture
async def app(server: Server) -> Server:
    """The running server with an empty library."""
    await server.reset()
    return server


@pytest.fixture
async def session(browser: Browser, app: Server) -> AsyncIterator[Session]:
    """A desktop-sized browser session on `app`."""
    async with browser_session(browser, app.url) as session:
        yield session


async def set_caption(app: Server, image_id: str, text: str) -> None:
    """Give an image its caption text as an OCR job would (the e2e server runs no worker)."""
    conn = await asyncpg.connect(app.database_url)
    try:
        await conn.execute(
            "UPDATE images SET text = $2, text_status = 'done', text_source = 'ocr' WHERE id = $1",
            uuid.UUID(image_id),
            text,
        )
    finally:
        await conn.close()


@pytest.fixture
async def session_without_worker(browser: Browser, app: Server) -> AsyncIterator[Session]:
    """A desktop-sized browser session on `app` with service workers blocked, for tests that use `page.route`."""
    async with browser_session(browser, app.url, service_workers="block") as session:
        yield session


async def thumbnails_loaded(page: Page, count: int) -> list[int]:
    """Wait for `count` grid images to finish loading; their natural widths (0 for a broken image)."""
    tiles = page.locator(".grid .tile img")
    await expect(tiles).to_have_count(count)
    for index in range(count):
        await tiles.nth(index).scroll_into_view_if_needed()
        await expect(tiles.nth(index)).to_have_js_property("complete", True)
    widths: list[int] = await tiles.evaluate_all(NATURAL_WIDTHS)
    return widths


# --- a stand-in for the public CDN -----------------------------------------------------------------------------


class StandInCdn:
    """Serves objects of one bucket by key over plain HTTP, like R2 behind a custom domain, and counts hits."""

    def __init__(self, s3: S3Server, bucket: str) -> None:
        import boto3

        self.client = boto3.client(
            "s3",
            endpoint_url=s3.endpoint_url,
            aws_access_key_id=s3.access_key,
            aws_secret_access_key=s3.secret_key,
            region_name="us-east-1",
        )
        self.bucket = bucket
        self.hits: list[str] = []
        cdn = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                cdn.hits.append(self.path)
                key = unquote(urlsplit(self.path).path.lstrip("/"))
                try:
                    obj = cdn.client.get_object(Bucket=cdn.bucket, Key=key)
                except cdn.client.exceptions.NoSuchKey:
                    self.send_error(404)
                    return
                with contextlib.closing(obj["Body"]) as body:
                    data = body.read()
                etag = obj.get("ETag", "")
                if etag and self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", obj.get("ContentType", "application/octet-stream"))
                self.send_header("Content-Length", str(len(data)))
                if obj.get("CacheControl"):
                    self.send_header("Cache-Control", obj["CacheControl"])
                if etag:
                    self.send_header("ETag", etag)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> StandInCdn:
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@dataclass
class CdnServer:
    server: Server
    cdn: StandInCdn


@pytest.fixture(scope="package")
def cdn_server(
    database_url: str, s3_server: S3Server, ui_dist: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CdnServer]:
    """The service with `S3_PUBLIC_BASE_URL` pointing at a stand-in CDN on 127.0.0.1 that serves its bucket."""
    bucket = s3_server.new_bucket()
    # The server needs the CDN's URL and the CDN needs the server's bucket: make the bucket first.
    with StandInCdn(s3_server, bucket) as cdn:
        log_dir = tmp_path_factory.mktemp("server")
        with run_server(database_url, s3_server, ui_dist, log_dir, bucket=bucket, public_base_url=cdn.url) as srv:
            yield CdnServer(srv, cdn)


# --- images to upload -------------------------------------------------------------------------------------------


def make_image(seed: int, size: tuple[int, int] = (320, 240), text: str = "", fmt: str = "PNG") -> bytes:
    """A colourful, unique image: a diagonal gradient, a few circles and an optional caption."""
    import random

    from PIL import Image, ImageDraw, ImageFont

    rng = random.Random(seed)
    width, height = size
    start = [rng.randrange(40, 256) for _ in range(3)]
    end = [rng.randrange(0, 200) for _ in range(3)]
    vertical = Image.linear_gradient("L")
    diagonal = Image.blend(vertical, vertical.rotate(rng.choice([90, 270])), 0.5)
    gradient = rng.choice([vertical, diagonal]).resize((width, height))
    image = Image.composite(Image.new("RGB", size, tuple(end)), Image.new("RGB", size, tuple(start)), gradient)
    draw = ImageDraw.Draw(image)
    for _ in range(4):
        radius = rng.randrange(min(size) // 10, min(size) // 3)
        x, y = rng.randrange(width), rng.randrange(height)
        colour = tuple(rng.randrange(256) for _ in range(3))
        draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=colour)
    if text:
        font = ImageFont.load_default(size=max(12, min(width // max(len(text), 1), height // 3)))
        draw.text(
            (width / 2, height / 2),
            text,
            font=font,
            anchor="mm",
            fill="white",
            stroke_width=max(2, height // 60),
            stroke_fill="black",
        )
    out = io.BytesIO()
    image.save(out, fmt)
    return out.getvalue()
