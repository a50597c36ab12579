"""Sharing routes on the real stack: the chat unfurl page, oEmbed, ShareX config, lookups by hash, the limits."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from html.parser import HTMLParser
from typing import Any
from urllib.parse import quote

from litestar.testing import AsyncTestClient

from reactbin.domain.serving.caches import ShareCard
from reactbin.routes.share import render_share_page
from reactbin.urls import UrlResolver
from tests.conftest import FIXTURES, AppFactory, fixture_bytes, upload

BASE = "http://testserver.local"
TOKEN = "share-test-token-0123456789"


class PageParser(HTMLParser):
    """Collects <meta>, <link> and <script> tags and the text of a page with the standard library's HTML parser."""

    def __init__(self) -> None:
        super().__init__()
        self.meta: dict[str, list[str]] = {}
        self.links: list[dict[str, str]] = []
        self.scripts = 0
        self.images = 0
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "meta":
            key = values.get("property") or values.get("name") or values.get("http-equiv")
            if key:
                self.meta.setdefault(key, []).append(values.get("content", ""))
        elif tag == "link":
            self.links.append(values)
        elif tag == "script":
            self.scripts += 1
        elif tag == "img":
            self.images += 1

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(html: str) -> PageParser:
    parser = PageParser()
    parser.feed(html)
    parser.close()
    return parser


def one(page: PageParser, key: str) -> str:
    values = page.meta.get(key, [])
    assert len(values) == 1, f"{key}: {values}"
    return values[0]


async def test_share_page_has_open_graph_and_twitter_tags(client: AsyncTestClient[Any]) -> None:
    image = (await upload(client, "photo.jpg", tags="cat,smug")).json()

    response = await client.get(f"/i/{image['id']}")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = parse(response.text)
    file_url = f"{BASE}{image['file_url']}"
    assert one(page, "og:image") == file_url
    assert one(page, "og:image:type") == "image/jpeg"
    assert (one(page, "og:image:width"), one(page, "og:image:height")) == (str(image["width"]), str(image["height"]))
    assert one(page, "og:title") == "photo.jpg"
    assert one(page, "og:url") == f"{BASE}/i/{image['id']}"
    assert one(page, "twitter:card") == "summary_large_image"
    assert one(page, "twitter:image") == file_url
    assert "og:video" not in page.meta
    assert one(page, "refresh") == f"0; url=/images/{image['id']}"
    oembed = [link for link in page.links if link.get("type") == "application/json+oembed"]
    assert len(oembed) == 1
    assert page.scripts == 0
    # The oEmbed link works as it stands.
    answer = await client.get(oembed[0]["href"].removeprefix(BASE))
    assert answer.status_code == 200, answer.text
    assert answer.json()["type"] == "photo"
    assert answer.json()["url"] == file_url


async def test_public_url_makes_every_link_absolute_on_it(make_client: AppFactory) -> None:
    async with make_client(public_url="https://react.example.com") as client:
        image = (await upload(client, "photo.jpg")).json()
        page = parse((await client.get(f"/i/{image['id']}")).text)
        assert one(page, "og:image") == f"https://react.example.com{image['file_url']}"
        assert one(page, "og:image:secure_url") == one(page, "og:image")
        assert one(page, "og:url") == f"https://react.example.com/i/{image['id']}"
        # oEmbed accepts URLs of the public origin, not of the one the request happened to use.
        page_url = f"https://react.example.com/i/{image['id']}"
        assert (await client.get("/api/v1/oembed", params={"url": page_url})).status_code == 200
        foreign = f"{BASE}/i/{image['id']}"
        assert (await client.get("/api/v1/oembed", params={"url": foreign})).json()["code"] == "url_not_found"


async def test_cdn_urls_are_used_as_they_are(make_client: AppFactory) -> None:
    async with make_client(public_base_url="https://cdn.example.com") as client:
        image = (await upload(client, "photo.jpg")).json()
        page = parse((await client.get(f"/i/{image['id']}")).text)
        assert one(page, "og:image") == image["file_url"]
        assert image["file_url"].startswith("https://cdn.example.com/images/")


def _video_card() -> ShareCard:
    return ShareCard(
        id=uuid.uuid4(),
        filename="clip.mp4",
        mime_type="video/mp4",
        width=640,
        height=360,
        storage_key="images/" + "a" * 64 + ".mp4",
        thumbnail_key="thumbnails/v1/" + "a" * 64 + ".webp",
    )


def test_video_pages_carry_og_video_and_a_player_card() -> None:
    # Videos arrive with issue 9; the page decides by mime type alone, so a row is enough to check the tags.
    row = _video_card()
    page = parse(render_share_page(row, UrlResolver(None), "https://react.example.com"))
    file_url = f"https://react.example.com/api/v1/images/{row.id}/file"
    assert one(page, "og:video") == file_url
    assert one(page, "og:video:secure_url") == file_url
    assert one(page, "og:video:type") == "video/mp4"
    assert (one(page, "og:video:width"), one(page, "og:video:height")) == ("640", "360")
    assert one(page, "og:image") == f"https://react.example.com/api/v1/images/{row.id}/thumbnail"
    assert one(page, "twitter:card") == "player"
    assert one(page, "twitter:player:stream:content_type") == "video/mp4"
    # The card frames a page of its own, not the file: the file (like every other response) refuses framing.
    assert one(page, "twitter:player") == f"https://react.example.com/i/{row.id}/player"


async def test_the_player_card_page_alone_may_be_framed_by_twitter(client: AsyncTestClient[Any]) -> None:
    clip = (await upload(client, "clip.mp4", (FIXTURES.parent / "media" / "h264.mp4").read_bytes())).json()
    still = (await upload(client, "photo.jpg")).json()

    share = await client.get(f"/i/{clip['id']}")
    player_url = one(parse(share.text), "twitter:player")
    player = await client.get(player_url.removeprefix(BASE))
    not_a_video = await client.get(f"/i/{still['id']}/player")
    other_path = await client.get(f"/i/{clip['id']}/embed")

    assert player_url == f"{BASE}/i/{clip['id']}/player"
    assert player.status_code == 200
    assert player.headers["content-type"].startswith("text/html")
    policy = player.headers["content-security-policy"]
    assert "frame-ancestors https://twitter.com https://*.twitter.com https://x.com https://*.x.com" in policy
    assert "default-src 'none'" in policy
    assert "script-src" not in policy
    assert "x-frame-options" not in player.headers
    page = parse(player.text)
    assert page.scripts == 0
    assert f'<video src="{BASE}{clip["file_url"]}"' in player.text
    # Everything else keeps refusing to be framed.
    for response in (share, not_a_video, other_path, await client.get(clip["file_url"])):
        assert response.headers["x-frame-options"] == "DENY"
    assert (not_a_video.status_code, other_path.status_code) == (404, 404)


HOSTILE = '"><script>alert(1)<img src=x onerror=alert(2)>.png'


async def test_nothing_is_reflected_unescaped(client: AsyncTestClient[Any]) -> None:
    files = {"file": (HOSTILE, fixture_bytes("tiny.png"), "image/png")}
    created = await client.post("/api/v1/images", files=files, data={"tags": "a<b>:c"})
    # `<` is not a tag character: the API refuses it, so tags cannot carry markup at all.
    assert created.status_code == 422
    created = await client.post("/api/v1/images", files=files, data={"tags": "x:y.z"})
    assert created.status_code == 201, created.text
    image = created.json()

    response = await client.get(f"/i/{image['id']}")

    assert "<script" not in response.text
    page = parse(response.text)
    assert page.scripts == 0
    assert page.images == 0
    assert one(page, "og:title") == image["filename"]
    assert image["filename"] == HOSTILE  # the filename itself is kept; only its rendering is escaped
    # A hostile Host header ends up escaped too.
    hostile_host = await client.get(f"/i/{image['id']}", headers={"host": 'evil.example"><script>x</script>'})
    assert "<script>" not in hostile_host.text


# Table-driven over one app (starting one per case costs more than the cases).
BAD_SHARE_PATHS = [
    "/i/00000000-0000-0000-0000-000000000000",
    "/i/not-a-uuid",
    "/i/%3Cscript%3Ealert(1)%3C%2Fscript%3E",
    "/i/",
    "/i/a/b",
    "/i/00000000-0000-0000-0000-000000000000/player",
    "/i/not-a-uuid/player",
]


async def test_share_page_of_unknown_or_malformed_id_is_an_html_404(client: AsyncTestClient[Any]) -> None:
    for path in BAD_SHARE_PATHS:
        response = await client.get(path, headers={"accept": "text/html"})
        assert response.status_code == 404, path
        assert response.headers["content-type"].startswith("text/html"), path
        assert "Image not found" in response.text
        assert "<script>" not in response.text
        assert "Traceback" not in response.text


BAD_OEMBED_URLS = [
    ("not a url", 400, "invalid_url"),
    ("javascript:alert(1)", 400, "invalid_url"),
    ("http://[::1", 400, "invalid_url"),
    ("https://", 400, "invalid_url"),
    ("https://evil.example.com/i/00000000-0000-0000-0000-000000000000", 404, "url_not_found"),
    (f"{BASE}/tags/cat", 404, "url_not_found"),
    (f"{BASE}/i/not-a-uuid", 404, "url_not_found"),
    (f"{BASE}/i/00000000-0000-0000-0000-000000000000", 404, "image_not_found"),
]


async def test_oembed_refuses_foreign_and_malformed_urls(client: AsyncTestClient[Any]) -> None:
    for url, status, code in BAD_OEMBED_URLS:
        response = await client.get("/api/v1/oembed", params={"url": url})
        assert response.status_code == status, (url, response.text)
        assert response.json()["code"] == code, url
        assert set(response.json()) == {"detail", "code"}


async def test_oembed_missing_url_is_a_400(client: AsyncTestClient[Any]) -> None:
    response = await client.get("/api/v1/oembed")
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"


async def test_oembed_accepts_the_ui_detail_url(client: AsyncTestClient[Any]) -> None:
    image = (await upload(client, "animated.gif")).json()
    body = (await client.get(f"/api/v1/oembed?url={quote(f'{BASE}/images/' + image['id'], safe='')}")).json()
    assert body["type"] == "photo"
    assert (body["width"], body["height"]) == (image["width"], image["height"])
    assert body["version"] == "1.0"
    assert body["provider_name"] == "reactbin"


async def test_by_hash_finds_stored_bytes_and_the_original_upload(client: AsyncTestClient[Any]) -> None:
    original = fixture_bytes("gps.jpg")
    sent = hashlib.sha256(original).hexdigest()
    assert (await client.head(f"/api/v1/images/by-hash/{sent}")).status_code == 404

    image = (await upload(client, "gps.jpg", tags="trip")).json()
    assert image["hash"] != sent  # the GPS block was stripped before hashing

    for sha256 in (image["hash"], sent, sent.upper()):
        head = await client.head(f"/api/v1/images/by-hash/{sha256}")
        assert head.status_code == 200
        assert head.content == b""
        got = await client.get(f"/api/v1/images/by-hash/{sha256}")
        assert got.status_code == 200
        assert got.json()["id"] == image["id"]
        assert got.json()["tags"] == ["trip"]

    # A second upload of the original merges into the same image; deleting it forgets both hashes.
    again = (await upload(client, "gps.jpg")).json()
    assert again["duplicate"] is True
    assert again["id"] == image["id"]
    assert (await client.delete(f"/api/v1/images/{image['id']}")).status_code == 204
    for sha256 in (image["hash"], sent):
        assert (await client.get(f"/api/v1/images/by-hash/{sha256}")).json()["code"] == "image_not_found"


async def test_by_hash_of_a_plain_upload(client: AsyncTestClient[Any]) -> None:
    data = fixture_bytes("photo.jpg")
    image = (await upload(client, "photo.jpg")).json()
    assert image["hash"] == hashlib.sha256(data).hexdigest()
    assert (await client.get(f"/api/v1/images/by-hash/{image['hash']}")).json()["id"] == image["id"]


async def test_by_hash_refuses_malformed_hashes(client: AsyncTestClient[Any]) -> None:
    for sha256 in ["abc", "g" * 64, "a" * 65, "<script>" + "a" * 56]:
        response = await client.get(f"/api/v1/images/by-hash/{quote(sha256)}")
        assert response.status_code == 400, sha256
        assert response.json()["code"] == "validation_error"
        assert "sha256" in response.json()["detail"]


async def test_limits_describe_the_server(make_client: AppFactory) -> None:
    async with make_client(max_upload_bytes=12345, max_image_pixels=777) as client:
        body = (await client.get("/api/v1/limits")).json()
    assert body["max_upload_bytes"] == 12345
    assert body["max_image_pixels"] == 777
    assert set(body["accepted_types"]) == {
        "image/jpeg", "image/png", "image/gif", "image/webp", "image/avif", "video/mp4", "video/webm"
    }  # fmt: skip
    assert body["max_video_seconds"] == 60
    assert body["writes_need_token"] is False
    assert body["token_accepted"] is None
    assert body["upload_rate_limit"] is None
    assert body["max_tags_per_image"] == 50


async def test_limits_check_a_token_and_show_the_rate_limit(make_client: AppFactory) -> None:
    from reactbin.settings import RateLimit

    async with make_client(api_tokens=(TOKEN,), upload_rate_limit=RateLimit(30, 60)) as client:
        anonymous = (await client.get("/api/v1/limits")).json()
        right = (await client.get("/api/v1/limits", headers={"authorization": f"Bearer {TOKEN}"})).json()
        wrong = (await client.get("/api/v1/limits", headers={"authorization": "Bearer nope-nope-nope-nope"})).json()
    assert anonymous["writes_need_token"] is True
    assert anonymous["token_accepted"] is None
    assert right["token_accepted"] is True
    assert wrong["token_accepted"] is False
    assert anonymous["upload_rate_limit"] == {"requests": 30, "seconds": 60}


async def test_sharex_config_without_tokens(client: AsyncTestClient[Any]) -> None:
    response = await client.get("/api/v1/sharex.sxcu")
    assert response.status_code == 200
    assert "attachment" in response.headers["content-disposition"]
    config = response.json()
    assert config["RequestURL"] == f"{BASE}/api/v1/images"
    assert config["RequestMethod"] == "POST"
    assert config["Body"] == "MultipartFormData"
    assert config["FileFormName"] == "file"
    assert config["URL"] == f"{BASE}$json:file_url$"
    assert "Headers" not in config

    # What ShareX does with it: post the file as that form field, read the URL out of the answer.
    image = (
        await client.post(
            config["RequestURL"].removeprefix(BASE), files={"file": ("shot.png", fixture_bytes("tiny.png"))}
        )
    ).json()
    link = config["URL"].replace("$json:file_url$", image["file_url"])
    assert (await client.get(link.removeprefix(BASE))).content == fixture_bytes("tiny.png")


async def test_sharex_config_with_tokens_and_a_cdn(make_client: AppFactory) -> None:
    async with make_client(
        api_tokens=(TOKEN,), public_url="https://react.example.com", public_base_url="https://cdn.example.com"
    ) as client:
        config = (await client.get("/api/v1/sharex.sxcu")).json()
    assert config["RequestURL"] == "https://react.example.com/api/v1/images"
    assert config["URL"] == "$json:file_url$"  # CDN URLs are absolute already
    assert config["Headers"] == {"Authorization": "Bearer <your write token>"}


async def test_a_deleted_image_stops_being_shared(client: AsyncTestClient[Any]) -> None:
    image = (await upload(client, "photo.jpg")).json()
    for _ in range(3):  # the first visit reads the database, the next ones come from memory
        assert (await client.get(f"/i/{image['id']}")).status_code == 200
    assert (await client.delete(f"/api/v1/images/{image['id']}")).status_code == 204

    # The delete's NOTIFY reaches every process within moments; until then nothing else can have changed.
    deadline = asyncio.get_running_loop().time() + 5
    while (status := (await client.get(f"/i/{image['id']}")).status_code) == 200:
        assert asyncio.get_running_loop().time() < deadline, "the deleted image's page is still served"
        await asyncio.sleep(0.02)
    assert status == 404
