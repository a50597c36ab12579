"""Discord's /react over HTTP interactions: requests signed with an Ed25519 key made here, against the real app on
real PostgreSQL and S3. Every answer is checked in the shape Discord reads."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from reactbin.domain import chat
from tests.conftest import AppFactory, S3Server, fixture_bytes, storage_hung, upload
from tests.support.accounts import make_user
from tests.support.chat import DiscordSigner, autocomplete, click, command, interaction

PUBLIC = "https://reactbin.example"
ENDPOINT = "/api/v1/integrations/discord"


@pytest.fixture
def signer() -> DiscordSigner:
    return DiscordSigner()


@contextlib.asynccontextmanager
async def discord_app(make_client: AppFactory, signer: DiscordSigner, **overrides: Any) -> AsyncIterator[Any]:
    async with make_client(discord_public_key=signer.public_key, public_url=PUBLIC, **overrides) as client:
        yield client


@pytest.fixture
async def app(make_client: AppFactory, signer: DiscordSigner) -> AsyncIterator[AsyncTestClient[Any]]:
    async with discord_app(make_client, signer) as client:
        yield client


async def send(client: AsyncTestClient[Any], signer: DiscordSigner, body: bytes, **kwargs: Any) -> Any:
    return await client.post(ENDPOINT, content=body, headers=signer.headers(body, **kwargs))


async def answer(client: AsyncTestClient[Any], signer: DiscordSigner, body: bytes) -> dict[str, Any]:
    response = await send(client, signer, body)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    result: dict[str, Any] = response.json()
    return result


async def library(client: AsyncTestClient[Any]) -> dict[str, Any]:
    """Three cats (one with a caption) and a dog; returns the uploaded images by name."""
    images = {}
    for name, tags in (
        ("photo.jpg", "cat,sleepy"),
        ("alpha.png", "cat"),
        ("animated.gif", "cat,dance"),
        ("tiny.png", "dog"),
    ):
        response = await upload(client, name, tags=tags)
        assert response.status_code == 201, response.text
        images[name] = response.json()
    captioned = await client.patch(f"/api/v1/images/{images['animated.gif']['id']}", json={"text": "WHY NOT BOTH"})
    assert captioned.status_code == 200, captioned.text
    return images


def buttons_of(message: dict[str, Any]) -> dict[str, str]:
    rows = message["data"]["components"]
    assert len(rows) == 1
    assert rows[0]["type"] == 1
    return {button["label"]: button["custom_id"] for button in rows[0]["components"]}


async def test_ping_is_answered_with_pong(app: AsyncTestClient[Any], signer: DiscordSigner) -> None:
    assert await answer(app, signer, interaction(1)) == {"type": 1}


async def test_react_previews_the_best_match_only_to_the_sender(
    app: AsyncTestClient[Any], signer: DiscordSigner
) -> None:
    images = await library(app)
    message = await answer(app, signer, command("why not both"))
    assert message["type"] == 4
    data = message["data"]
    assert data["flags"] == 64  # ephemeral
    assert data["allowed_mentions"] == {"parse": []}
    [embed] = data["embeds"]
    gif = images["animated.gif"]
    assert embed["title"] == "WHY NOT BOTH"  # the caption, else the filename
    assert embed["image"]["url"] == f"{PUBLIC}/api/v1/images/{gif['id']}/file"  # absolute: Discord fetches it
    assert embed["url"] == f"{PUBLIC}/i/{gif['id']}"
    assert embed["footer"]["text"] == "1 of 1"
    ids = buttons_of(message)
    assert set(ids) == {"Send", "Next", "Cancel"}
    assert all(len(custom_id) <= 100 for custom_id in ids.values())


async def test_next_walks_the_matches_and_wraps_around(app: AsyncTestClient[Any], signer: DiscordSigner) -> None:
    images = await library(app)
    cats = {images[name]["id"] for name in ("photo.jpg", "alpha.png", "animated.gif")}
    first = await answer(app, signer, command("tag:cat"))
    seen = [first["data"]["embeds"][0]["url"].rsplit("/", 1)[1]]
    footers = [first["data"]["embeds"][0]["footer"]["text"]]
    message = first
    for _ in range(3):
        message = await answer(app, signer, click(buttons_of(message)["Next"]))
        assert message["type"] == 7  # the preview is edited in place
        assert "flags" not in message["data"]
        seen.append(message["data"]["embeds"][0]["url"].rsplit("/", 1)[1])
        footers.append(message["data"]["embeds"][0]["footer"]["text"])
    assert set(seen[:3]) == cats
    assert seen[3] == seen[0]
    assert footers == ["1 of 3", "2 of 3", "3 of 3", "1 of 3"]


async def test_send_posts_the_image_url_publicly_and_counts_a_use(
    app: AsyncTestClient[Any], signer: DiscordSigner
) -> None:
    images = await library(app)
    dog = images["tiny.png"]
    preview = await answer(app, signer, command("dog"))
    posted = await answer(app, signer, click(buttons_of(preview)["Send"]))
    assert posted["type"] == 4
    assert "flags" not in posted["data"]  # everyone in the channel sees it
    assert posted["data"]["content"] == f"{PUBLIC}/api/v1/images/{dog['id']}/file"
    assert (await app.get(f"/api/v1/images/{dog['id']}")).json()["use_count"] == 1
    await answer(app, signer, click(buttons_of(preview)["Send"]))
    assert (await app.get(f"/api/v1/images/{dog['id']}")).json()["use_count"] == 2


async def test_cancel_empties_the_preview(app: AsyncTestClient[Any], signer: DiscordSigner) -> None:
    await library(app)
    preview = await answer(app, signer, command("cat"))
    cancelled = await answer(app, signer, click(buttons_of(preview)["Cancel"]))
    assert cancelled["type"] == 7
    assert cancelled["data"]["embeds"] == []
    assert cancelled["data"]["components"] == []


async def test_a_video_is_previewed_by_a_picture_and_sent_as_its_playing_file(
    app: AsyncTestClient[Any], signer: DiscordSigner
) -> None:
    from tests.conftest import REPO

    data = (REPO / "tests" / "fixtures" / "media" / "h264.mp4").read_bytes()
    response = await upload(app, "clip.mp4", data, tags="clip")
    assert response.status_code == 201, response.text
    video = response.json()
    preview = await answer(app, signer, command("tag:clip"))
    picture = preview["data"]["embeds"][0]["image"]["url"]
    assert picture.startswith(f"{PUBLIC}/api/v1/images/{video['id']}/")
    assert not picture.endswith("/file")  # an embed shows pictures: the preview or the poster, not the MP4
    posted = await answer(app, signer, click(buttons_of(preview)["Send"]))
    assert posted["data"]["content"] == f"{PUBLIC}/api/v1/images/{video['id']}/file"  # Discord plays the MP4 inline


async def test_cdn_urls_are_posted_as_they_are(make_client: AppFactory, signer: DiscordSigner) -> None:
    async with discord_app(make_client, signer, public_base_url="https://cdn.example") as client:
        images = await library(client)
        preview = await answer(client, signer, command("dog"))
        assert (
            preview["data"]["embeds"][0]["image"]["url"] == f"https://cdn.example/{images['tiny.png']['storage_key']}"
        )


async def test_autocomplete_offers_tags_and_captions(app: AsyncTestClient[Any], signer: DiscordSigner) -> None:
    await library(app)
    started = time.perf_counter()
    result = await answer(app, signer, autocomplete("ca"))
    assert time.perf_counter() - started < 2.0
    assert result["type"] == 8
    choices = result["data"]["choices"]
    assert 1 <= len(choices) <= 25
    assert all(1 <= len(c["name"]) <= 100 and 1 <= len(c["value"]) <= 100 for c in choices)
    assert "cat" in [c["value"] for c in choices]

    typo = [c["value"] for c in (await answer(app, signer, autocomplete("-kat")))["data"]["choices"]]
    assert "-cat" in typo  # the operator stays, the word is completed through typo tolerance

    words = [c["value"] for c in (await answer(app, signer, autocomplete("why not")))["data"]["choices"]]
    assert "WHY NOT BOTH" in words  # a caption of a match, as plain query words

    unfinished = await answer(app, signer, autocomplete('"why no'))  # an open quote: not a valid query yet
    assert unfinished["type"] == 8
    assert "WHY NOT BOTH" in [c["value"] for c in unfinished["data"]["choices"]]

    empty = await answer(app, signer, autocomplete(""))
    assert {c["value"] for c in empty["data"]["choices"]} >= {"cat", "dog"}


@pytest.mark.parametrize("walk", [500, 1], ids=["newest images", "trigram index"])
async def test_autocomplete_completes_captions_holding_the_typed_words(
    app: AsyncTestClient[Any], signer: DiscordSigner, monkeypatch: pytest.MonkeyPatch, walk: int
) -> None:
    """Captions that hold the typed words in one piece, the whole caption first, then those starting with them;
    found among the newest images or, when those hold too few, through the index (the same answer)."""
    images = await library(app)
    for name, caption in (("photo.jpg", "not both, why"), ("alpha.png", "so why not both then"), ("tiny.png", "why")):
        response = await app.patch(f"/api/v1/images/{images[name]['id']}", json={"text": caption})
        assert response.status_code == 200, response.text
    monkeypatch.setattr(chat, "CAPTION_WALK", walk)

    async def captions(typed: str) -> list[str]:
        choices = (await answer(app, signer, autocomplete(typed)))["data"]["choices"]
        return [c["value"] for c in choices if c["name"].startswith("“")]

    assert await captions("why not both") == ["WHY NOT BOTH", "so why not both then"]
    assert await captions("Why-Not") == ["WHY NOT BOTH", "so why not both then"]  # punctuation and case aside
    starting, *holding = await captions("tag:cat -dog not both")  # operators are not caption words
    assert (starting, set(holding)) == ("not both why", {"WHY NOT BOTH", "so why not both then"})
    assert await captions("nothing like this") == []
    assert await captions("wh") == []  # too short to look for


async def test_every_answer_is_a_message_the_sender_can_read(app: AsyncTestClient[Any], signer: DiscordSigner) -> None:
    """Queries that find nothing or do not parse are explained to the sender (200), never an error status."""
    empty = await answer(app, signer, command("cat"))
    assert empty["data"]["flags"] == 64
    assert "Nothing matches `cat`" in empty["data"]["content"]
    assert f"{PUBLIC}/?q=cat" in empty["data"]["content"]

    await library(app)
    cases = {
        '"why not': "Unbalanced quotes",
        "sort:sideways": "Unknown sort",
        "type:audio": "Unknown type",
        "-": "excludes nothing",
        "tag:" + "x" * 70: "That query does not work",
    }
    for query, explained in cases.items():
        message = await answer(app, signer, command(query))
        assert (message["type"], message["data"]["flags"]) == (4, 64), query
        assert explained in message["data"]["content"], (query, message)
        assert message["data"]["embeds"] == []
        assert message["data"]["components"] == []

    none = await answer(app, signer, command("giraffe"))
    assert "Nothing matches `giraffe`" in none["data"]["content"]


async def test_an_empty_library_says_so(app: AsyncTestClient[Any], signer: DiscordSigner) -> None:
    message = await answer(app, signer, command(""))
    assert "no reactions yet" in message["data"]["content"]
    assert message["data"]["flags"] == 64


async def test_custom_ids_stay_within_100_characters(app: AsyncTestClient[Any], signer: DiscordSigner) -> None:
    await library(app)
    longest = "cat -" + "x" * 80  # 85 characters: the most a Next button can carry
    assert len(longest) == 85
    message = await answer(app, signer, command(longest))
    assert all(len(custom_id) <= 100 for custom_id in buttons_of(message).values())
    refused = await answer(app, signer, command(longest + "z"))
    assert "at most 85 characters" in refused["data"]["content"]


async def test_forged_and_stale_buttons_are_answered_not_failed(
    app: AsyncTestClient[Any], signer: DiscordSigner
) -> None:
    images = await library(app)
    deleted = images["photo.jpg"]["id"]
    assert (await app.delete(f"/api/v1/images/{deleted}")).status_code == 204
    cases = {
        f"send:{deleted}": (7, "no longer in the library"),
        f"send:{uuid.uuid4()}": (7, "no longer in the library"),
        "send:not-a-uuid": (4, "not one this server made"),
        "next:x:0:cat": (4, "not one this server made"),
        "next:1:!!:cat": (4, "not one this server made"),
        "next:99999:0:cat": (4, "not one this server made"),
        "next:7:0:giraffe": (7, "Nothing matches"),
        'next:0:0:"why': (7, "Unbalanced quotes"),
        "cancel:extra": (4, "not one this server made"),
        "": (4, "not one this server made"),
        "delete-everything": (4, "not one this server made"),
    }
    for custom_id, (kind, text) in cases.items():
        message = await answer(app, signer, click(custom_id))
        assert message["type"] == kind, custom_id
        assert text in message["data"]["content"], (custom_id, message)
    # A Next whose index is past the end (the library shrank) wraps around instead.
    wrapped = await answer(app, signer, click("next:7:0:tag:cat"))
    assert wrapped["data"]["embeds"][0]["footer"]["text"] == "2 of 2"


BAD_SIGNATURES = [
    ("no headers", lambda signer, body: {}),
    ("no timestamp", lambda signer, body: {"x-signature-ed25519": signer.headers(body)["x-signature-ed25519"]}),
    ("no signature", lambda signer, body: {"x-signature-timestamp": str(int(time.time()))}),
    ("another key", lambda signer, body: DiscordSigner().headers(body)),
    ("another body", lambda signer, body: signer.headers(body + b" ")),
    ("not hex", lambda signer, body: {**signer.headers(body), "x-signature-ed25519": "zz" * 64}),
    ("too short", lambda signer, body: {**signer.headers(body), "x-signature-ed25519": "ab" * 32}),
    ("timestamp not a number", lambda signer, body: {**signer.headers(body), "x-signature-timestamp": "soon"}),
    ("signed 6 minutes ago", lambda signer, body: signer.headers(body, timestamp=int(time.time()) - 360)),
    ("signed 6 minutes ahead", lambda signer, body: signer.headers(body, timestamp=int(time.time()) + 360)),
    (
        "timestamp swapped after signing",
        lambda signer, body: {**signer.headers(body), "x-signature-timestamp": str(int(time.time()) - 1)},
    ),
]


@pytest.mark.parametrize(("case", "headers"), BAD_SIGNATURES, ids=[case for case, _ in BAD_SIGNATURES])
async def test_a_bad_signature_is_refused_and_does_nothing(
    app: AsyncTestClient[Any], signer: DiscordSigner, case: str, headers: Any
) -> None:
    images = await library(app)
    dog = images["tiny.png"]["id"]
    body = click(f"send:{dog}")
    response = await app.post(ENDPOINT, content=body, headers=headers(signer, body))
    assert response.status_code == 401, (case, response.text)
    assert response.json()["code"] == "invalid_signature"
    assert (await app.get(f"/api/v1/images/{dog}")).json()["use_count"] == 0


async def test_a_replayed_request_is_refused_on_every_replica(make_client: AppFactory, signer: DiscordSigner) -> None:
    async with discord_app(make_client, signer) as first, discord_app(make_client, signer) as second:
        images = await library(first)
        dog = images["tiny.png"]["id"]
        body = click(f"send:{dog}")
        headers = signer.headers(body)
        assert (await first.post(ENDPOINT, content=body, headers=headers)).status_code == 200
        for replica in (first, second):
            again = await replica.post(ENDPOINT, content=body, headers=headers)
            assert again.status_code == 401
            assert again.json()["code"] == "invalid_signature"
        assert (await first.get(f"/api/v1/images/{dog}")).json()["use_count"] == 1


async def test_any_replica_answers_any_click(make_client: AppFactory, signer: DiscordSigner) -> None:
    """Two app processes share only PostgreSQL: the buttons of one's preview work on the other."""
    async with discord_app(make_client, signer) as first, discord_app(make_client, signer) as second:
        await library(first)
        preview = await answer(first, signer, command("tag:cat"))
        on_first = await answer(first, signer, click(buttons_of(preview)["Next"]))
        on_second = await answer(second, signer, click(buttons_of(preview)["Next"]))
        assert on_first["data"]["embeds"] == on_second["data"]["embeds"]


async def test_answers_never_read_storage(
    app: AsyncTestClient[Any], signer: DiscordSigner, s3_server: S3Server
) -> None:
    """With the object store hung, the command, autocomplete and every button still answer at once."""
    await library(app)
    with storage_hung(s3_server):
        started = time.perf_counter()
        preview = await answer(app, signer, command("cat"))
        await answer(app, signer, autocomplete("ca"))
        for label in ("Next", "Send", "Cancel"):
            await answer(app, signer, click(buttons_of(preview)[label]))
        assert time.perf_counter() - started < 3.0


BAD_BODIES = [
    ("not JSON", b"type=1", 400, "invalid_interaction"),
    ("JSON, not an object", b"[1, 2]", 400, "invalid_interaction"),
    ("no type", b'{"id": "1"}', 400, "invalid_interaction"),
    ("type is text", b'{"type": "ping"}', 400, "invalid_interaction"),
    ("unknown interaction type", b'{"type": 99}', 400, "invalid_interaction"),
    ("modal submit (never opened here)", b'{"type": 5, "data": {"custom_id": "x"}}', 400, "invalid_interaction"),
    (
        "options of the wrong shape",
        b'{"type": 2, "data": {"name": "react", "options": "q"}}',
        400,
        "invalid_interaction",
    ),
    ("invalid UTF-8", b'{"type": 2, "data": {"name": "\xff"}}', 400, "invalid_interaction"),
    ("1 MB", b'{"type": 1, "pad": "' + b"x" * 1_000_000 + b'"}', 413, "request_too_large"),
]


@pytest.mark.parametrize(("case", "body", "status", "code"), BAD_BODIES, ids=[c[0] for c in BAD_BODIES])
async def test_bad_bodies_are_refused_cleanly(
    app: AsyncTestClient[Any], signer: DiscordSigner, case: str, body: bytes, status: int, code: str
) -> None:
    response = await send(app, signer, body)
    assert response.status_code == status, (case, response.text)
    assert response.json()["code"] == code


async def test_other_commands_are_answered_privately(app: AsyncTestClient[Any], signer: DiscordSigner) -> None:
    body = interaction(2, {"name": "giphy", "options": []})
    message = await answer(app, signer, body)
    assert message["data"]["flags"] == 64
    assert "/react" in message["data"]["content"]


async def test_not_configured_is_404(client: AsyncTestClient[Any], signer: DiscordSigner) -> None:
    body = interaction(1)
    response = await client.post(ENDPOINT, content=body, headers=signer.headers(body))
    assert response.status_code == 404
    assert response.json()["code"] == "integration_disabled"


async def test_write_tokens_do_not_apply_to_signed_requests(make_client: AppFactory, signer: DiscordSigner) -> None:
    """With API_TOKENS set, Discord (which has no token) still gets in, by its signature alone."""
    token = "t" * 32
    async with discord_app(make_client, signer, api_tokens=(token,)) as client:
        assert await answer(client, signer, interaction(1)) == {"type": 1}
        body = interaction(1)
        forged = await client.post(
            ENDPOINT, content=body, headers={"authorization": f"Bearer {token}", "content-type": "application/json"}
        )
        assert forged.status_code == 401
        assert forged.json()["code"] == "invalid_signature"


async def test_a_private_library_with_accounts_still_answers_discord(
    make_client: AppFactory, signer: DiscordSigner
) -> None:
    """Integrations read as a built-in reader: users, PUBLIC_READ=false and no cookie or key change nothing for a
    signed request, while an anonymous read of the same library is refused."""
    async with discord_app(make_client, signer, public_read=False, api_tokens=("t" * 32,)) as client:
        token = {"authorization": "Bearer " + "t" * 32}
        response = await client.post(
            "/api/v1/images", files={"file": ("a.jpg", fixture_bytes("photo.jpg"))}, data={"tags": "cat"}, headers=token
        )
        assert response.status_code == 201, response.text
        await make_user(client, "alice", "admin")
        assert (await client.get("/api/v1/images")).status_code == 401

        assert await answer(client, signer, interaction(1)) == {"type": 1}
        preview = await answer(client, signer, command("cat"))
        assert preview["data"]["embeds"][0]["image"]["url"].startswith(PUBLIC)
