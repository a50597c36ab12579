"""Near-duplicates through the HTTP API on real PostgreSQL (pgvector) and storage: similar, merge, suggested tags,
`reactbin dupes`, hashing older images; and the bad-input table of the issue (never a 500)."""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import msgspec
import pytest
from litestar.testing import AsyncTestClient
from PIL import Image

from reactbin.domain.media_jobs import index_media
from reactbin.domain.resources import open_resources
from reactbin.media.perceptual import hamming, perceptual_hash, safe_perceptual_hash
from tests.conftest import AppFactory, settings_of, stored_keys, upload
from tests.fixtures import memes

MEME = memes.memes()[0]
OTHER = memes.memes()[5]


def _jpeg(image: Image.Image, scale: float = 1.0, quality: int = 85) -> bytes:
    if scale != 1.0:
        image = image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


def _template_of(meme: memes.Meme, lines: tuple[str, ...]) -> bytes:
    """The same meme picture (background, font, layout) with another caption."""
    return memes.png_bytes(memes.Meme(meme.index, lines, meme.font, meme.outlined, meme.busy))


async def _put(client: AsyncTestClient[Any], name: str, data: bytes, tags: str | None = None) -> dict[str, Any]:
    response = await upload(client, name, data, tags=tags)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def _caption(client: AsyncTestClient[Any], image_id: str, text: str | None) -> None:
    response = await client.patch(f"/api/v1/images/{image_id}", json={"text": text})
    assert response.status_code == 200, response.text


async def test_a_resized_copy_uploads_and_says_it_looks_like_one_you_have(client: AsyncTestClient[Any]) -> None:
    original = await _put(client, "meme.png", memes.png_bytes(MEME), tags="classic")
    assert original["similar"] == []

    copy = await upload(client, "copy.jpg", _jpeg(memes.render(MEME), scale=0.5, quality=60))

    assert copy.status_code == 201
    body = copy.json()
    assert body["duplicate"] is False
    assert [(item["image"]["id"], item["relation"]) for item in body["similar"]] == [(original["id"], "duplicate")]
    assert 0 <= body["similar"][0]["distance"] <= 10
    assert body["similar"][0]["image"]["thumbnail_url"]
    listed = (await client.get(f"/api/v1/images/{body['id']}/similar")).json()["items"]
    assert [item["image"]["id"] for item in listed] == [original["id"]]


async def test_a_distinct_image_is_not_similar(client: AsyncTestClient[Any]) -> None:
    await _put(client, "meme.png", memes.png_bytes(MEME))
    other = await _put(client, "other.png", memes.png_bytes(OTHER))
    assert other["similar"] == []


@pytest.mark.parametrize(
    ("first_text", "second_text", "relation"),
    [
        # Captions known (here set by hand): they decide.
        ("Why not both", "Why not both", "duplicate"),
        ("WHY NOT BOTH", "why not both?", "duplicate"),  # the same compact text
        ("Why not both", "This is fine", "template"),
        ("Why not both", None, "template"),  # the bare template and a captioned one: two reactions
        (None, None, "duplicate"),
    ],
)
async def test_the_caption_tells_a_duplicate_from_a_template(
    client: AsyncTestClient[Any], first_text: str | None, second_text: str | None, relation: str
) -> None:
    first = await _put(client, "first.png", memes.png_bytes(MEME))
    second = await _put(client, "second.png", _template_of(MEME, ("this is fine",)))
    # Same template, other caption: the picture alone (captions still pending) calls it a duplicate.
    assert [(i["image"]["id"], i["relation"]) for i in second["similar"]] == [(first["id"], "duplicate")]

    await _caption(client, first["id"], first_text)
    await _caption(client, second["id"], second_text)

    items = (await client.get(f"/api/v1/images/{second['id']}/similar")).json()["items"]
    assert [(i["image"]["id"], i["relation"]) for i in items] == [(first["id"], relation)]


async def test_duplicates_come_before_templates(client: AsyncTestClient[Any]) -> None:
    kept = await _put(client, "meme.png", memes.png_bytes(MEME))
    template = await _put(client, "template.png", _template_of(MEME, ("this is fine",)))
    copy = await _put(client, "copy.jpg", _jpeg(memes.render(MEME), scale=0.75))
    for image, text in ((kept, "why not both"), (template, "this is fine"), (copy, "WHY NOT BOTH")):
        await _caption(client, image["id"], text)

    items = (await client.get(f"/api/v1/images/{kept['id']}/similar")).json()["items"]

    assert [(i["image"]["id"], i["relation"]) for i in items] == [
        (copy["id"], "duplicate"),
        (template["id"], "template"),
    ]


async def test_merge_moves_tags_uses_and_a_hand_set_caption(client: AsyncTestClient[Any]) -> None:
    kept = await _put(client, "meme.png", memes.png_bytes(MEME), tags="classic, why")
    copy = await _put(client, "copy.jpg", _jpeg(memes.render(MEME), scale=0.5), tags="why, both")
    for _ in range(3):
        assert (await client.post(f"/api/v1/images/{copy['id']}/uses")).status_code == 200
    await client.post(f"/api/v1/images/{kept['id']}/uses")
    await _caption(client, copy["id"], "Why not both?")

    merged = await client.post(f"/api/v1/images/{copy['id']}/merge", json={"into": kept["id"]})

    assert merged.status_code == 200, merged.text
    body = merged.json()
    assert body["id"] == kept["id"]
    assert body["tags"] == ["both", "classic", "why"]
    assert body["use_count"] == 4
    assert (body["text"], body["text_status"]) == ("Why not both?", "done")
    assert (await client.get(f"/api/v1/images/{copy['id']}")).status_code == 404
    assert copy["storage_key"] not in await stored_keys(client)
    # A client holding the merged file finds the kept image by its hash.
    by_hash = await client.get(f"/api/v1/images/by-hash/{copy['hash']}")
    assert (by_hash.status_code, by_hash.json()["id"]) == (200, kept["id"])
    tags = (await client.get("/api/v1/tags?prefix=both")).json()["items"]
    assert tags == [{"name": "both", "count": 1, "tag": "both"}]


async def test_merge_keeps_the_kept_images_own_hand_set_caption(client: AsyncTestClient[Any]) -> None:
    kept = await _put(client, "meme.png", memes.png_bytes(MEME))
    copy = await _put(client, "copy.jpg", _jpeg(memes.render(MEME), scale=0.5))
    await _caption(client, kept["id"], "mine")
    await _caption(client, copy["id"], "theirs")

    body = (await client.post(f"/api/v1/images/{copy['id']}/merge", json={"into": kept["id"]})).json()

    assert body["text"] == "mine"


MISSING = "00000000-0000-4000-8000-000000000000"


@pytest.mark.parametrize(
    ("source", "into", "status", "code"),
    [
        ("a", "a", 409, "merge_conflict"),  # into itself
        ("a", MISSING, 409, "merge_conflict"),  # into a missing image
        (MISSING, "a", 409, "merge_conflict"),  # a missing image
        ("not-a-uuid", "a", 409, "merge_conflict"),
        ("a", "not-a-uuid", 400, None),  # a body that is not a merge request
        ("a", None, 400, None),
    ],
)
async def test_merge_bad_input(
    client: AsyncTestClient[Any], source: str, into: str | None, status: int, code: str | None
) -> None:
    image = await _put(client, "meme.png", memes.png_bytes(MEME), tags="kept")
    ids = {"a": image["id"]}
    body: dict[str, Any] = {} if into is None else {"into": ids.get(into, into)}

    response = await client.post(f"/api/v1/images/{ids.get(source, source)}/merge", json=body)

    assert response.status_code == status, response.text
    assert set(response.json()) == {"detail", "code"}
    if code:
        assert response.json()["code"] == code
    after = (await client.get(f"/api/v1/images/{image['id']}")).json()
    assert after["tags"] == ["kept"]  # nothing half-done


@pytest.mark.parametrize("crossed", [False, True], ids=["same-merge-twice", "each-into-the-other"])
async def test_two_replicas_merging_at_once_one_wins_the_other_gets_409(make_client: AppFactory, crossed: bool) -> None:
    async with make_client("filesystem") as first, make_client("filesystem") as second:
        a = await _put(first, "meme.png", memes.png_bytes(MEME), tags="from-a")
        b = await _put(first, "copy.jpg", _jpeg(memes.render(MEME), scale=0.5), tags="from-b")
        requests = [
            first.post(f"/api/v1/images/{a['id']}/merge", json={"into": b["id"]}),
            second.post(
                f"/api/v1/images/{b['id'] if crossed else a['id']}/merge",
                json={"into": a["id"] if crossed else b["id"]},
            ),
        ]
        responses = await asyncio.gather(*requests)

        assert sorted(r.status_code for r in responses) == [200, 409], [r.text for r in responses]
        winner = next(r.json() for r in responses if r.status_code == 200)
        loser = next(r.json() for r in responses if r.status_code == 409)
        assert loser["code"] == "merge_conflict"
        assert winner["tags"] == ["from-a", "from-b"]  # nothing lost
        listed = (await second.get("/api/v1/images")).json()["items"]
        assert [(i["id"], i["tags"]) for i in listed] == [(winner["id"], ["from-a", "from-b"])]


async def test_similar_and_suggested_tags_of_a_missing_or_deleted_image_are_404(client: AsyncTestClient[Any]) -> None:
    image = await _put(client, "meme.png", memes.png_bytes(MEME))
    assert (await client.delete(f"/api/v1/images/{image['id']}")).status_code == 204
    for image_id in (image["id"], MISSING, "not-a-uuid"):
        for route in ("similar", "suggested-tags"):
            response = await client.get(f"/api/v1/images/{image_id}/{route}")
            assert response.status_code == 404, (route, response.text)
            assert response.json()["code"] == "image_not_found"
    assert (await client.get(f"/api/v1/images/{MISSING}/similar?limit=0")).status_code == 400


async def test_suggested_tags_come_from_neighbours_and_caption_words(client: AsyncTestClient[Any]) -> None:
    await _put(client, "meme.png", memes.png_bytes(MEME), tags="both, choices, reaction")
    await _put(client, "again.jpg", _jpeg(memes.render(MEME), scale=0.8), tags="both, reaction")
    await _put(client, "other.png", memes.png_bytes(OTHER), tags="fine, dog")
    new = await _put(client, "copy.jpg", _jpeg(memes.render(MEME), scale=0.5), tags="reaction")
    await _caption(client, new["id"], "THIS IS FINE, DOG")
    assert (await client.post("/api/v1/tag-aliases", json={"alias": "doggo", "tag": "dog"})).status_code == 201
    await _caption(client, new["id"], "THIS IS FINE, DOGGO")

    items = (await client.get(f"/api/v1/images/{new['id']}/suggested-tags")).json()["items"]

    # Tags of both neighbours first (most shared first), then caption words that are tags (through aliases);
    # never a tag the image has.
    assert items == [
        {"tag": "both", "reason": "similar", "count": 2},
        {"tag": "choices", "reason": "similar", "count": 1},
        {"tag": "dog", "reason": "caption", "count": 1},
        {"tag": "fine", "reason": "caption", "count": 1},
    ]


async def test_reindex_media_hashes_older_images_and_a_corrupt_thumbnail_leaves_none(
    client: AsyncTestClient[Any], db: asyncpg.Connection
) -> None:
    kept = await _put(client, "meme.png", memes.png_bytes(MEME))
    copy = await _put(client, "copy.jpg", _jpeg(memes.render(MEME), scale=0.5))
    broken = await _put(client, "other.png", memes.png_bytes(OTHER))
    # As before migration 0013: nothing hashed. The third image's thumbnail is a corrupt frame.
    await db.execute("UPDATE images SET phash = NULL, phash_indexed = false")
    await db.execute("DELETE FROM image_similar")
    assert (await client.get(f"/api/v1/images/{copy['id']}/similar")).json()["items"] == []

    async with open_resources(settings_of(client), serving=False) as res:
        await res.storage.put_bytes(broken["thumbnail_key"], b"RIFF\x10\x00\x00\x00WEBPVP8 garbage", "image/webp")
        outcomes = [await index_media(res, uuid.UUID(image["id"])) for image in (kept, copy, broken)]

    assert [o.hashed for o in outcomes] == [True, True, False]
    assert outcomes[2].failed == ["hash"]
    items = (await client.get(f"/api/v1/images/{copy['id']}/similar")).json()["items"]
    assert [i["image"]["id"] for i in items] == [kept["id"]]
    broken_similar = await client.get(f"/api/v1/images/{broken['id']}/similar")
    assert (broken_similar.status_code, broken_similar.json()["items"]) == (200, [])
    assert (await client.get(f"/api/v1/images/{broken['id']}")).status_code == 200  # the image stays
    assert await db.fetchval("SELECT count(*) FROM images WHERE NOT phash_indexed") == 0


@pytest.mark.parametrize(
    "data",
    [b"", b"not an image", b"RIFF\x10\x00\x00\x00WEBPVP8 garbage", _jpeg(memes.render(MEME))[:300]],
    ids=["empty", "text", "corrupt-webp", "truncated-jpeg"],
)
def test_hashing_a_corrupt_frame_gives_no_hash(data: bytes) -> None:
    assert safe_perceptual_hash(data) is None


def test_hash_is_64_bits_and_close_for_a_copy() -> None:
    picture = memes.render(MEME)
    original = perceptual_hash(_jpeg(picture, quality=95))
    copy = perceptual_hash(_jpeg(picture, scale=0.3, quality=40))
    other = perceptual_hash(memes.png_bytes(OTHER))
    assert len(original) == 64
    assert set(original) <= {"0", "1"}
    assert hamming(original, copy) <= 10 < hamming(original, other)


async def test_dupes_lists_groups(client: AsyncTestClient[Any], capsys: pytest.CaptureFixture[str]) -> None:
    from reactbin.domain.duplicates import duplicate_groups, group_summary

    async with open_resources(settings_of(client), serving=False) as res:
        assert [g async for g in duplicate_groups(res)] == []  # an empty library has none
    kept = await _put(client, "meme.png", memes.png_bytes(MEME))
    copy = await _put(client, "copy.jpg", _jpeg(memes.render(MEME), scale=0.5))
    template = await _put(client, "template.png", _template_of(MEME, ("this is fine",)))
    await _put(client, "other.png", memes.png_bytes(OTHER))
    for image, text in ((kept, "why not both"), (copy, "why not both"), (template, "this is fine")):
        await _caption(client, image["id"], text)

    async with open_resources(settings_of(client), serving=False) as res:
        groups = [group_summary(g) async for g in duplicate_groups(res)]

    assert msgspec.json.decode(msgspec.json.encode(groups)) == [
        {
            "images": [
                {
                    "id": kept["id"],
                    "filename": "meme.png",
                    "created_at": kept["created_at"],
                    "text": "why not both",
                    "tags": [],
                },
                {
                    "id": copy["id"],
                    "filename": "copy.jpg",
                    "created_at": copy["created_at"],
                    "text": "why not both",
                    "tags": [],
                },
            ]
        }
    ]


async def test_copies_uploaded_at_once_to_two_replicas_find_each_other(make_client: AppFactory) -> None:
    async with make_client("filesystem") as first, make_client("filesystem") as second:
        a, b = await asyncio.gather(
            upload(first, "a.jpg", _jpeg(memes.render(MEME), scale=0.5)),
            upload(second, "b.jpg", _jpeg(memes.render(MEME), scale=0.7)),
        )
        assert (a.status_code, b.status_code) == (201, 201)
        a_id, b_id = a.json()["id"], b.json()["id"]
        # Whichever was linked second saw the first: both directions are recorded either way.
        assert [i["image"]["id"] for i in (await first.get(f"/api/v1/images/{a_id}/similar")).json()["items"]] == [b_id]
        assert [i["image"]["id"] for i in (await second.get(f"/api/v1/images/{b_id}/similar")).json()["items"]] == [
            a_id
        ]


@pytest.mark.parametrize("as_json", [True, False], ids=["json", "text"])
def test_dupes_on_an_empty_library(tmp_path: Path, db: asyncpg.Connection, database_url: str, as_json: bool) -> None:
    """`reactbin dupes` as a user runs it, on an empty library (the `db` fixture empties the test database)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "S3_", "STORAGE_"))}
    env |= {"DATABASE_URL": database_url, "STORAGE_DIR": str(tmp_path / "objects")}
    result = subprocess.run(
        [sys.executable, "-m", "reactbin.cli", "dupes", *(["--json"] if as_json else [])],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    if as_json:
        assert msgspec.json.decode(result.stdout) == {"groups": [], "unhashed": 0}
    else:
        assert result.stdout.strip() == "no duplicates"
