"""Search semantics on real PostgreSQL: captions, operators, relevance, cursors, tag rules, autocomplete, uses.

Rows are written with SQL (captions come from OCR in production); the API is the real app.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import time
import uuid
from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from reactbin.db import search as search_db
from reactbin.settings import RateLimit
from tests.conftest import AppFactory, upload

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


async def add_image(
    db: asyncpg.Connection,
    name: str,
    *,
    text: str | None = None,
    tags: tuple[str, ...] = (),
    age: int = 0,
    kind: str = "still",
    uses: int = 0,
) -> str:
    """One image row (no bytes: search never reads them); `age` in minutes before T0, so a larger age is older."""
    image_id = uuid.uuid4()
    digest = hashlib.sha256(image_id.bytes).hexdigest()
    await db.execute(
        """
        INSERT INTO images (id, hash, filename, mime_type, size_bytes, width, height, storage_key, created_at,
                            text, text_status, kind, use_count)
        VALUES ($1, $2, $3, 'image/png', 1, 1, 1, $4, $5, $6, 'done', $7, $8)
        """,
        image_id,
        digest,
        name,
        f"images/{digest}.png",
        T0 - dt.timedelta(minutes=age),
        text,
        kind,
        uses,
    )
    if tags:
        await db.execute(
            "INSERT INTO image_tags (image_id, tag, created_at) SELECT $1, t, $2 FROM unnest($3::text[]) t",
            image_id,
            T0 - dt.timedelta(minutes=age),
            list(tags),
        )
    return str(image_id)


async def names(fs_client: AsyncTestClient[Any], q: str, **params: Any) -> list[str]:
    response = await fs_client.get("/api/v1/images", params={"q": q, **params})
    assert response.status_code == 200, response.text
    return [item["filename"] for item in response.json()["items"]]


async def all_pages(fs_client: AsyncTestClient[Any], q: str, limit: int, **params: Any) -> list[str]:
    found: list[str] = []
    cursor = None
    for _ in range(100):
        response = await fs_client.get(
            "/api/v1/images", params={"q": q, "limit": limit, **params, **({"cursor": cursor} if cursor else {})}
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert len(body["items"]) <= limit
        found += [item["filename"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            return found
    raise AssertionError("pagination never ended")


@pytest.fixture
async def fs_client(db: asyncpg.Connection, make_client: AppFactory) -> Any:
    """The app on the filesystem store: search never reads bytes, and a bucket per test costs time."""
    async with make_client("filesystem") as client:
        yield client


@pytest.fixture
async def library(db: asyncpg.Connection, make_client: AppFactory) -> Any:
    await add_image(db, "fine.png", text="THISISFINE", age=5)
    await add_image(db, "both.png", text="WHY NOT BOTH", age=4)
    await add_image(db, "both-spaceless.png", text="WHYNOTBOTH", age=3)
    await add_image(db, "cafe.png", text="CAFÉ CRÈME", tags=("drink",), age=6)
    await add_image(db, "cat-tagged.png", tags=("cat", "smug"), age=10)
    await add_image(db, "cat-caption.png", text="cat", age=9)
    await add_image(db, "cat-in-sentence.png", text="my cat is fine", age=1)
    await add_image(db, "dog.gif", text="such wow", tags=("dog",), kind="animated", age=2)
    await add_image(db, "percent.png", text="100% sure_thing", age=7)
    await add_image(db, "catalogue.png", tags=("catalogue",), age=8)
    async with make_client("filesystem") as client:
        yield client


SEARCHES = [
    # Case, accents, punctuation and the spaces OCR drops are ignored.
    ("this is fine", ["fine.png"]),
    ("THIS IS FINE", ["fine.png"]),
    ("why not both", ["both-spaceless.png", "both.png"]),
    ("whynotboth", ["both-spaceless.png", "both.png"]),
    ("Why not both?", ["both-spaceless.png", "both.png"]),
    ("why not both ?! -...", ["both-spaceless.png", "both.png"]),
    ('"why not both"', ["both-spaceless.png", "both.png"]),
    ("cafe creme", ["cafe.png"]),
    ("Café", ["cafe.png"]),
    # Filenames count as text.
    ("spaceless", ["both-spaceless.png"]),
    # % and _ are literal characters, not wildcards; SQL and regex syntax is just text.
    ("100%", ["percent.png"]),
    ("sure_thing", ["percent.png"]),
    ("1%0", []),
    ("'; DROP TABLE images;--", []),
    ("(a+)+$", []),
    # Operators.
    ("tag:cat", ["cat-tagged.png"]),
    ("cat*", ["cat-tagged.png", "catalogue.png"]),
    ("cat -tag:smug", ["cat-caption.png", "cat-in-sentence.png", "catalogue.png"]),
    ("cat -fine", ["cat-tagged.png", "cat-caption.png", "catalogue.png"]),
    ('-"my cat" cat', ["cat-tagged.png", "cat-caption.png", "catalogue.png"]),
    ("-cat* tag:cat", []),
    ("wow|drink sort:new", ["dog.gif", "cafe.png"]),
    ("type:animated", ["dog.gif"]),
    (
        "type:still|video cat sort:old",
        ["cat-tagged.png", "cat-caption.png", "catalogue.png", "cat-in-sentence.png"],
    ),
    ("-type:still", ["dog.gif"]),
    ("tag:nothing-like-this", []),
    ("zzzz", []),
]


async def test_search(library: AsyncTestClient[Any]) -> None:
    """One app for the whole table (each row is independent): a row with sort: must match in order."""
    wrong = []
    for q, expected in SEARCHES:
        found = await names(library, q)
        if found != expected if "sort:" in q else sorted(found) != sorted(expected):
            wrong.append((q, found, expected))
    assert wrong == []


async def test_relevance_puts_exact_tags_and_whole_captions_first_then_newest(library: AsyncTestClient[Any]) -> None:
    # tag cat and whole caption "cat" are exact (newest first among them), then partial hits newest first.
    assert await names(library, "cat") == ["cat-caption.png", "cat-tagged.png", "cat-in-sentence.png", "catalogue.png"]
    # The words in one piece beat the same words scattered; whole captions beat both.
    assert await names(library, "why not") == ["both-spaceless.png", "both.png"]


async def test_relevance_phrase_tier(db: asyncpg.Connection, make_client: AppFactory) -> None:
    await add_image(db, "scattered.png", text="fine, this is", age=1)
    await add_image(db, "together.png", text="oh this is fine dog", age=2)
    await add_image(db, "whole.png", text="This is fine.", age=3)
    async with make_client("filesystem") as client:
        assert await names(client, "this is fine") == ["whole.png", "together.png", "scattered.png"]
        assert await names(client, "this is fine sort:new") == ["scattered.png", "together.png", "whole.png"]


async def test_tag_parameters_are_anded_with_the_query(library: AsyncTestClient[Any]) -> None:
    assert await names(library, "cat", tag="smug") == ["cat-tagged.png"]
    assert await names(library, "", tag="dog") == ["dog.gif"]


@pytest.mark.parametrize("walk_budget", [3000, 2])
@pytest.mark.parametrize("sort", ["", "sort:new", "sort:old", "sort:popular", "sort:random"])
async def test_cursors_walk_every_sort_without_gaps_or_repeats(
    db: asyncpg.Connection, make_client: AppFactory, sort: str, walk_budget: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both plans (every match through the indexes, or a walk of the sort order) page the same way."""
    monkeypatch.setattr(search_db, "WALK_BUDGET", walk_budget)
    for n in range(23):
        tags = ("cat",) if n % 4 == 0 else ()
        # Equal timestamps and equal use counts: the id breaks ties, so pages still never overlap.
        await add_image(db, f"{n:02}.png", text=f"cat number {n}", tags=tags, age=n // 3, uses=n % 3)
    async with make_client("filesystem") as client:
        one_page = await names(client, f"cat {sort}", limit=200, seed=7)
        paged = await all_pages(client, f"cat {sort}", 4, seed=7)
        again = await all_pages(client, f"cat {sort}", 5, seed=7)
    assert len(one_page) == 23
    assert paged == one_page
    assert again == one_page
    if sort == "sort:old":
        assert set(one_page[:2]) == {"21.png", "22.png"}
        assert set(one_page[2:5]) == {"18.png", "19.png", "20.png"}
    if sort == "":
        assert {name for name in one_page[:6]} == {"00.png", "04.png", "08.png", "12.png", "16.png", "20.png"}


async def test_random_order_depends_on_the_seed(db: asyncpg.Connection, make_client: AppFactory) -> None:
    for n in range(30):
        await add_image(db, f"{n:02}.png", age=n)
    async with make_client("filesystem") as client:
        first = await names(client, "sort:random", seed=1, limit=200)
        same = await names(client, "sort:random", seed=1, limit=200)
        other = await names(client, "sort:random", seed=2, limit=200)
    assert first == same
    assert sorted(first) == sorted(other)
    assert first != other


async def test_a_cursor_of_another_sort_is_refused(library: AsyncTestClient[Any]) -> None:
    page = (await library.get("/api/v1/images", params={"q": "cat sort:new", "limit": 1})).json()
    response = await library.get("/api/v1/images", params={"q": "cat", "cursor": page["next_cursor"]})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_cursor"


# --- tag rules -------------------------------------------------------------------------------------------------


async def test_alias_rewrites_existing_uses_and_later_tagging_and_search(
    db: asyncpg.Connection, fs_client: AsyncTestClient[Any]
) -> None:
    kitty = await add_image(db, "kitty.png", tags=("kitty", "cute"))
    both = await add_image(db, "both.png", tags=("kitty", "cat"))
    created = await fs_client.post("/api/v1/tag-aliases", json={"alias": "Kitty", "tag": "cat"})
    again = await fs_client.post("/api/v1/tag-aliases", json={"alias": "kitty", "tag": "cat"})
    assert created.status_code == 201, created.text
    assert created.json()["alias"] == "kitty"
    assert again.status_code == 200
    assert (await fs_client.get(f"/api/v1/images/{kitty}")).json()["tags"] == ["cat", "cute"]
    assert (await fs_client.get(f"/api/v1/images/{both}")).json()["tags"] == ["cat"]
    assert await db.fetchval("SELECT count(*) FROM image_tags WHERE tag = 'kitty'") == 0

    uploaded = await upload(fs_client, "photo.jpg", tags="kitty,KITTY,cute")
    assert uploaded.json()["tags"] == ["cat", "cute"]
    patched = await fs_client.patch(f"/api/v1/images/{kitty}/tags", json={"tags": ["kitty", "new"]})
    assert patched.json()["tags"] == ["cat", "new"]
    assert sorted(await names(fs_client, "tag:kitty")) == ["both.png", "kitty.png", "photo.jpg"]
    assert sorted(await names(fs_client, "kitty")) == ["both.png", "kitty.png", "photo.jpg"]
    assert (await fs_client.get("/api/v1/tag-aliases")).json()["items"][0]["tag"] == "cat"
    # An alias of an alias means the final tag.
    assert (await fs_client.post("/api/v1/tag-aliases", json={"alias": "kitten", "tag": "kitty"})).json()[
        "tag"
    ] == "cat"
    assert (await fs_client.delete("/api/v1/tag-aliases/kitten")).status_code == 204
    assert (await fs_client.delete("/api/v1/tag-aliases/kitten")).status_code == 404


async def test_implications_widen_search(db: asyncpg.Connection, fs_client: AsyncTestClient[Any]) -> None:
    await add_image(db, "cat.png", tags=("cat",), age=1)
    await add_image(db, "kitten.png", tags=("kitten",), age=2)
    await add_image(db, "dog.png", tags=("dog",), age=3)
    await add_image(db, "animal.png", tags=("animal",), age=4)
    for tag, implied in [("cat", "animal"), ("kitten", "cat"), ("dog", "animal")]:
        response = await fs_client.post("/api/v1/tag-implications", json={"tag": tag, "implies": implied})
        assert response.status_code == 201, response.text
    assert (
        await fs_client.post("/api/v1/tag-implications", json={"tag": "cat", "implies": "animal"})
    ).status_code == 200
    assert await names(fs_client, "tag:animal") == ["cat.png", "kitten.png", "dog.png", "animal.png"]
    assert await names(fs_client, "tag:cat") == ["cat.png", "kitten.png"]
    assert await names(fs_client, "animal -tag:cat") == ["dog.png", "animal.png"]
    assert len((await fs_client.get("/api/v1/tag-implications")).json()["items"]) == 3
    assert (await fs_client.delete("/api/v1/tag-implications/kitten/cat")).status_code == 204
    assert await names(fs_client, "tag:cat") == ["cat.png"]
    assert (await fs_client.delete("/api/v1/tag-implications/kitten/cat")).status_code == 404


@pytest.mark.parametrize(
    ("setup", "path", "body", "status", "code"),
    [
        ([], "/api/v1/tag-aliases", {"alias": "cat", "tag": "CAT"}, 409, "tag_rule_conflict"),
        ([], "/api/v1/tag-implications", {"tag": "cat", "implies": "cat"}, 409, "tag_rule_conflict"),
        (
            [("/api/v1/tag-aliases", {"alias": "kitty", "tag": "cat"})],
            "/api/v1/tag-aliases",
            {"alias": "cat", "tag": "kitty"},
            409,
            "tag_rule_conflict",
        ),
        (
            [("/api/v1/tag-aliases", {"alias": "kitty", "tag": "cat"})],
            "/api/v1/tag-aliases",
            {"alias": "kitty", "tag": "dog"},
            409,
            "tag_rule_conflict",
        ),
        (
            [("/api/v1/tag-aliases", {"alias": "kitty", "tag": "cat"})],
            "/api/v1/tag-implications",
            {"tag": "kitty", "implies": "cat"},
            409,
            "tag_rule_conflict",
        ),
        (
            [
                ("/api/v1/tag-implications", {"tag": "a", "implies": "b"}),
                ("/api/v1/tag-implications", {"tag": "b", "implies": "c"}),
            ],
            "/api/v1/tag-implications",
            {"tag": "c", "implies": "a"},
            409,
            "tag_rule_conflict",
        ),
        (
            [("/api/v1/tag-implications", {"tag": "a", "implies": "b"})],
            "/api/v1/tag-aliases",
            {"alias": "b", "tag": "a"},
            409,
            "tag_rule_conflict",
        ),
        ([], "/api/v1/tag-aliases", {"alias": "", "tag": "cat"}, 422, "invalid_tag"),
        ([], "/api/v1/tag-aliases", {"alias": "a/b", "tag": "cat"}, 422, "invalid_tag"),
        ([], "/api/v1/tag-aliases", {"alias": "x"}, 400, "validation_error"),
        ([], "/api/v1/tag-implications", {"tag": "x" * 201, "implies": "y"}, 400, "validation_error"),
        ([], "/api/v1/tag-implications", ["x", "y"], 400, "validation_error"),
    ],
)
async def test_bad_tag_rules(
    fs_client: AsyncTestClient[Any], setup: list[tuple[str, Any]], path: str, body: Any, status: int, code: str
) -> None:
    for setup_path, setup_body in setup:
        assert (await fs_client.post(setup_path, json=setup_body)).status_code == 201
    response = await fs_client.post(path, json=body)
    assert response.status_code == status, response.text
    assert response.json()["code"] == code
    assert set(response.json()) == {"detail", "code"}


async def test_rule_writes_need_a_token_when_tokens_are_on(make_client: AppFactory) -> None:
    token = "t0k3n-for-tests-0123456789"
    async with make_client("filesystem", api_tokens=(token,)) as client:
        refused = await client.post("/api/v1/tag-aliases", json={"alias": "a", "tag": "b"})
        allowed = await client.post(
            "/api/v1/tag-aliases", json={"alias": "a", "tag": "b"}, headers={"authorization": f"Bearer {token}"}
        )
        listed = await client.get("/api/v1/tag-aliases")
    assert refused.status_code == 401
    assert allowed.status_code == 201
    assert listed.status_code == 200


async def test_concurrent_rules_on_two_replicas_never_make_a_cycle(make_client: AppFactory) -> None:
    async with make_client("filesystem") as one, make_client("filesystem") as two:
        for round_ in range(5):
            a, b = f"a{round_}", f"b{round_}"
            answers = await asyncio.gather(
                one.post("/api/v1/tag-implications", json={"tag": a, "implies": b}),
                two.post("/api/v1/tag-implications", json={"tag": b, "implies": a}),
                one.post("/api/v1/tag-aliases", json={"alias": f"x{round_}", "tag": f"y{round_}"}),
                two.post("/api/v1/tag-aliases", json={"alias": f"y{round_}", "tag": f"x{round_}"}),
            )
            assert sorted(r.status_code for r in answers[:2]) == [201, 409]
            assert sorted(r.status_code for r in answers[2:]) == [201, 409]


# --- autocomplete ----------------------------------------------------------------------------------------------


async def test_autocomplete_forgives_typos_and_shows_aliases(
    db: asyncpg.Connection, fs_client: AsyncTestClient[Any]
) -> None:
    for n in range(3):
        await add_image(db, f"c{n}.png", tags=("cat", "smug"))
    await add_image(db, "cap.png", tags=("cap",))
    await add_image(db, "smile.png", tags=("smile",))
    await add_image(db, "kitty.png", tags=("kitty",))
    assert (await fs_client.post("/api/v1/tag-aliases", json={"alias": "kitty", "tag": "cat"})).status_code == 201

    async def suggest(q: str) -> list[dict[str, Any]]:
        response = await fs_client.get("/api/v1/tags", params={"q": q})
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    assert (await suggest("kat"))[0] == {"name": "cat", "count": 4, "tag": "cat"}
    assert (await suggest("smgu"))[0] == {"name": "smug", "count": 3, "tag": "smug"}
    assert (await suggest("kit"))[0] == {"name": "kitty", "count": 4, "tag": "cat"}
    assert (await suggest("ca"))[:2] == [
        {"name": "cat", "count": 4, "tag": "cat"},
        {"name": "cap", "count": 1, "tag": "cap"},
    ]
    assert await suggest("zzzzzz") == []
    assert await suggest("a/b%") == []
    prefix = (await fs_client.get("/api/v1/tags", params={"prefix": "ca"})).json()["items"]
    assert [item["name"] for item in prefix] == ["cat", "cap"]


# --- uses ------------------------------------------------------------------------------------------------------


async def test_uses_count_and_order_popular(db: asyncpg.Connection, make_client: AppFactory) -> None:
    first = await add_image(db, "first.png", age=1)
    second = await add_image(db, "second.png", age=2)
    await add_image(db, "never.png", age=0)
    async with make_client("filesystem", use_rate_limit=RateLimit(5, 60)) as client:
        answers = await asyncio.gather(*(client.post(f"/api/v1/images/{second}/uses") for _ in range(3)))
        assert [a.status_code for a in answers] == [200, 200, 200]
        used = await client.post(f"/api/v1/images/{first}/uses")
        assert used.json()["use_count"] == 1
        missing = await client.post(f"/api/v1/images/{uuid.uuid4()}/uses")
        limited = await client.post(f"/api/v1/images/{first}/uses")
        image = (await client.get(f"/api/v1/images/{second}")).json()
        popular = await names(client, "sort:popular")
    assert missing.status_code == 404
    assert limited.status_code == 429
    assert limited.json()["code"] == "rate_limited"
    assert int(limited.headers["retry-after"]) >= 1
    assert image["use_count"] == 3
    assert image["last_used_at"] is not None
    assert popular == ["second.png", "first.png", "never.png"]


# --- bad input -------------------------------------------------------------------------------------------------


MALFORMED = [
    ('"why not both', "Unbalanced quotes"),
    ("-", "lone '-'"),
    ("type:bogus", "Unknown type"),
    (" ".join(f"w{n}" for n in range(33)), "more than 32 terms"),
    ("x" * 10240, "longer than 256"),
    ("cat\x00", "NUL"),
    ("sort:bogus", "Unknown sort"),
    ("a||b", "empty alternative"),
    ("*", "lone '*'"),
    ("tag:a/b", "a tag is"),
    ('ab"c"', "quotes must surround"),
]
METACHARACTERS = ["%", "_", "%%%", "\\", "a\\%", "'", '"\'"', "[a-z]+", "$1", "?", "a b c d e f g h i j k l m n o", "é"]
BAD_PARAMETERS = [
    ({"q": "cat", "cursor": "nope"}, "invalid_cursor"),
    ({"q": "cat", "cursor": "W10"}, "invalid_cursor"),
    ({"q": "cat", "seed": "-1"}, "validation_error"),
    ({"q": "cat", "seed": "x"}, "validation_error"),
    ({"q": "cat", "tag": "a/b"}, "invalid_tag"),
]


async def test_malformed_queries_are_400_naming_the_problem(library: AsyncTestClient[Any]) -> None:
    for q, problem in MALFORMED:
        response = await library.get("/api/v1/images", params={"q": q})
        assert response.status_code == 400, q
        assert response.json()["code"] == "invalid_query", q
        assert problem in response.json()["detail"], q


async def test_metacharacters_are_text_and_never_fail(library: AsyncTestClient[Any]) -> None:
    for q in METACHARACTERS:
        started = time.perf_counter()
        response = await library.get("/api/v1/images", params={"q": q})
        assert response.status_code == 200, (q, response.text)
        assert time.perf_counter() - started < 2, q
        found = len(response.json()["items"])
        if q in ("_", "a\\%"):  # the tag "_" (no image has it); "a" is too short to search captions alone
            assert found == 0, q
        if q in ("%", "%%%", "\\"):  # punctuation alone says nothing, like an empty query
            assert found == 10, q


async def test_bad_search_parameters(library: AsyncTestClient[Any]) -> None:
    for params, code in BAD_PARAMETERS:
        response = await library.get("/api/v1/images", params=params)
        assert 400 <= response.status_code < 500, params
        assert response.json()["code"] == code, params


# --- did you mean ----------------------------------------------------------------------------------------------


@pytest.fixture
async def typo_library(db: asyncpg.Connection, make_client: AppFactory) -> Any:
    await add_image(db, "g1.png", tags=("grumpy",))
    await add_image(db, "g2.png", tags=("grumpy", "cat"))
    await add_image(db, "grumble.png", tags=("grumble",))
    await add_image(db, "fine.png", text="THIS IS FINE")
    await add_image(db, "both.png", text="WHYNOTBOTH")
    await add_image(db, "money.png", text="Shut up and take my money!")
    await add_image(db, "dog.png", tags=("dog",), text="such wow")
    assert (await db.execute("INSERT INTO tag_aliases (alias, tag) VALUES ('kitty', 'cat')")) == "INSERT 0 1"
    async with make_client("filesystem") as client:
        yield client


DID_YOU_MEAN = [
    # typed, corrected query (None: no offer), corrections as (word, replacement, source)
    ("grumpu", "grumpy", [("grumpu", "grumpy", "tag")]),
    ("Grumpu", "grumpy", [("Grumpu", "grumpy", "tag")]),
    ("kat", "cat", [("kat", "cat", "tag")]),
    ("tag:grumpu", "tag:grumpy", [("tag:grumpu", "tag:grumpy", "tag")]),
    ("grumpu cat", "grumpy cat", [("grumpu", "grumpy", "tag")]),
    ("thsi is fine", "this is fine", [("thsi", "this", "caption")]),
    ("this is fnie", "this is fine", [("fnie", "fine", "caption")]),
    ("take my mony", "take my money", [("mony", "money", "caption")]),
    ("why not bothh", "why not both", [("bothh", "both", "caption")]),  # a caption OCR wrote without spaces
    ("grumpu type:still sort:popular", "grumpy type:still sort:popular", [("grumpu", "grumpy", "tag")]),
    ("dgo -grumpu", "dog -grumpu", [("dgo", "dog", "tag")]),  # an excluded word is left as typed
    # Nothing to offer: no close word, a word already matching, a word excluded or one of alternatives.
    ("xylophone", None, []),
    ("grumpy dog", None, []),  # both words find images, only not together: no spelling fixes that
    ("grumpu|zzz", None, []),
    ('"thsi is fine"', None, []),
    ("ab", None, []),
    ("grumpu type:video", None, []),  # the corrected query would still find nothing
]


async def test_an_empty_search_offers_the_nearest_tags_and_caption_words(typo_library: AsyncTestClient[Any]) -> None:
    wrong = []
    for typed, corrected, corrections in DID_YOU_MEAN:
        response = await typo_library.get("/api/v1/images", params={"q": typed})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["items"] == []
        offer = body["did_you_mean"]
        fixes = [(c["word"], c["replacement"], c["source"]) for c in offer["corrections"]] if offer else []
        found = (offer["q"], fixes) if offer else None
        expected = (corrected, corrections) if corrected else None
        if found != expected:
            wrong.append((typed, found, expected))
        elif corrected:
            again = await typo_library.get("/api/v1/images", params={"q": corrected})
            assert again.json()["items"], corrected
    assert wrong == [], "\n".join(f"{typed!r}: offered {got}, expected {want}" for typed, got, want in wrong)


async def test_did_you_mean_only_on_an_empty_first_page(typo_library: AsyncTestClient[Any]) -> None:
    found = (await typo_library.get("/api/v1/images", params={"q": "grumpy"})).json()
    assert found["items"]
    assert found["did_you_mean"] is None
    listed = (await typo_library.get("/api/v1/images", params={"tag": "grumpu"})).json()
    assert listed["items"] == []
    assert listed.get("did_you_mean") is None  # the plain tag filter is the old API: exact or nothing
