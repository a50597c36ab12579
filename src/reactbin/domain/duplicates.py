"""Near-duplicates: similar images, `duplicate` or `template`, merging copies, duplicate groups, suggested tags.

A perceptual hash says two images show the same picture; it cannot read. The same meme template with another
caption is another reaction, so the caption decides: two images within `DUPLICATE_DISTANCE` bits (their pair is
recorded when the later one is hashed, db/duplicates.py) are a `duplicate` when their captions agree (the same
compact text, or both without text) and a `template` otherwise.
While either caption is still unknown (OCR pending, or failed), the picture alone decides: a new upload is compared
before its caption is read, so it can say "looks like one you have" at once; `GET /similar` tells the final
relation as soon as both captions are read (README, "Near-duplicates").
"""

from __future__ import annotations

import difflib
import re
import uuid
from collections.abc import AsyncIterator
from typing import Literal

import msgspec

from reactbin.db import duplicates as db
from reactbin.db import images as images_db
from reactbin.db.images import ImageRow, TextStatus
from reactbin.domain.images import remove_objects
from reactbin.domain.resources import Resources
from reactbin.domain.tags import MAX_TAGS
from reactbin.errors import Forbidden, ImageNotFound, MergeConflict, TooManyTags

Relation = Literal["duplicate", "template"]
CAPTION_AGREEMENT = 0.9
"""Captions read from two copies agree when this similar (OCR may misread a letter of a shrunken copy)."""
_KNOWN: frozenset[TextStatus] = frozenset({"done", "none"})
MAX_SUGGESTIONS = 10
_NEIGHBOURS_FOR_TAGS = 20
_READ_AT_LEAST = 100


class SimilarImage(msgspec.Struct, frozen=True):
    image: ImageRow
    distance: int
    relation: Relation


def relation_of(a: tuple[TextStatus, str], b: tuple[TextStatus, str]) -> Relation:
    """`duplicate` or `template` for two images whose pictures match, from (text_status, compact caption) each."""
    (a_status, a_text), (b_status, b_text) = a, b
    if a_status not in _KNOWN or b_status not in _KNOWN:
        return "duplicate"
    if a_text == b_text:
        return "duplicate"
    if a_text and b_text and difflib.SequenceMatcher(None, a_text, b_text).ratio() >= CAPTION_AGREEMENT:
        return "duplicate"
    return "template"


async def similar_images(res: Resources, image_id: uuid.UUID, *, limit: int) -> list[SimilarImage]:
    """Images showing the same picture: duplicates first, then templates, each nearest first.

    Raises:
        ImageNotFound: no such image (or it was deleted).
    """
    async with res.db() as conn:
        # Templates may be many (a popular template): read enough that duplicates are never cut off by them.
        found = await db.similar_of(conn, image_id, limit=max(limit, _READ_AT_LEAST))
    if found is None:
        raise ImageNotFound()
    me, rows = found
    mine = (me.text_status, me.text_compact)
    items = [SimilarImage(r.image, r.distance, relation_of(mine, (r.text_status, r.text_compact))) for r in rows]
    items.sort(key=lambda item: (item.relation != "duplicate", item.distance))
    return items[:limit]


async def merge_image(
    res: Resources, source: uuid.UUID, into: uuid.UUID, *, owner: uuid.UUID | None = None
) -> ImageRow:
    """Move `source`'s tags, uses, favourites and hand-set caption into `into`, then delete `source`.

    With `owner` (a member merging), only an image that user uploaded may be merged away.

    Safe across replicas: both rows are locked in id order, so of two merges of one image at once the second
    finds it gone and gets a conflict; nothing of the first is lost.

    Raises:
        MergeConflict: `source` is `into`, or either image does not exist (any more).
        Forbidden: `owner` did not upload `source`.
        TooManyTags: together they would have more tags than an image may.
    """
    if source == into:
        raise MergeConflict("An image cannot be merged into itself")
    async with res.tx() as conn:
        pair = await db.lock_pair(conn, source, into)
        if pair is None:
            raise MergeConflict("One of the images does not exist (any more): nothing was merged")
        kept_from, kept_into = pair
        if owner is not None and (await images_db.uploader_of(conn, source))[1] != owner:
            raise Forbidden("Members may merge away only their own uploads")
        together = await conn.fetchval(
            "SELECT count(DISTINCT tag) FROM image_tags WHERE image_id = ANY($1::uuid[])", [source, into]
        )
        if together > MAX_TAGS:
            raise TooManyTags(f"Together the images have {together} tags; an image can have at most {MAX_TAGS}")
        await db.merge_rows(conn, kept_from, kept_into)
        deleted = await images_db.delete_image(conn, source)
        assert deleted is not None  # locked above
        merged = await images_db.get_image(conn, into)
        assert merged is not None
    await remove_objects(res, source, deleted)
    return merged


class DuplicateGroup(msgspec.Struct, frozen=True):
    images: list[ImageRow]
    """Oldest first: the one a merge would usually keep."""


async def duplicate_groups(res: Resources, *, batch_size: int = 5000) -> AsyncIterator[DuplicateGroup]:
    """Every group of two or more images that are duplicates of each other (linked through any member)."""
    parent: dict[uuid.UUID, uuid.UUID] = {}

    def find(node: uuid.UUID) -> uuid.UUID:
        root = node
        while parent.get(root, root) != root:
            root = parent[root]
        while parent.get(node, node) != root:
            parent[node], node = root, parent[node]
        return root

    after: tuple[uuid.UUID, uuid.UUID] | None = None
    while True:
        async with res.db() as conn:
            batch = await db.similar_pairs(conn, after=after, limit=batch_size)
        for pair in batch:
            if relation_of((pair.a_status, pair.a_text), (pair.b_status, pair.b_text)) == "duplicate":
                a, b = find(pair.a), find(pair.b)
                if a != b:
                    parent[max(a, b)] = min(a, b)
        if len(batch) < batch_size:
            break
        after = (batch[-1].a, batch[-1].b)
    members: dict[uuid.UUID, set[uuid.UUID]] = {}
    for node in list(parent):
        members.setdefault(find(node), {node}).add(node)
    for root in sorted(members):
        ids = sorted(members[root] | {root})
        async with res.db() as conn:
            rows = await db.images_by_id(conn, ids)
        if len(rows) >= 2:
            yield DuplicateGroup(sorted(rows.values(), key=lambda r: (r.created_at, r.id)))


def group_summary(group: DuplicateGroup) -> dict[str, object]:
    """A group as `reactbin dupes --json` prints it (encoded with msgspec, as the API encodes)."""
    return {
        "images": [
            {
                "id": str(image.id),
                "filename": image.filename,
                "created_at": image.created_at,
                "text": image.text,
                "tags": image.tags,
            }
            for image in group.images
        ]
    }


async def unhashed_count(res: Resources) -> int:
    """Images `reactbin reindex --media` has not hashed yet (they are in no group)."""
    async with res.db() as conn:
        return await db.count_unhashed(conn)


class SuggestedTag(msgspec.Struct, frozen=True):
    tag: str
    reason: Literal["similar", "caption"]
    count: int
    """How many images have the tag."""


_WORD = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*")


async def suggested_tags(res: Resources, image_id: uuid.UUID) -> list[SuggestedTag]:
    """Up to 10 existing tags the image lacks: its near neighbours' tags (most shared first), then caption words
    that are tags (or aliases of one).

    Raises:
        ImageNotFound: no such image.
    """
    async with res.tx() as conn:
        me = await db.hashed_image(conn, image_id)
        image = await images_db.get_image(conn, image_id)
        if me is None or image is None:
            raise ImageNotFound()
        neighbour_ids = [n.id for n in await db.neighbours(conn, me.id, limit=_NEIGHBOURS_FOR_TAGS)]
        words = sorted({w.lower().replace("’", "'") for w in _WORD.findall(image.text or "")})
        records = await conn.fetch(
            """
            WITH shared AS (
                SELECT t.tag, count(*) AS images FROM image_tags t WHERE t.image_id = ANY($1::uuid[]) GROUP BY t.tag
            ), words AS (
                SELECT DISTINCT coalesce(a.tag, w.word) AS tag
                FROM unnest($2::text[]) w(word) LEFT JOIN tag_aliases a ON a.alias = w.word
            )
            SELECT s.tag, 'similar' AS reason, s.images AS weight, g.count FROM shared s JOIN tags g ON g.name = s.tag
            WHERE NOT s.tag = ANY($3::text[]) AND g.count > 0
            UNION ALL
            SELECT w.tag, 'caption', 0, g.count FROM words w JOIN tags g ON g.name = w.tag
            WHERE NOT w.tag = ANY($3::text[]) AND g.count > 0
            ORDER BY reason DESC, weight DESC, count DESC, tag
            """,
            neighbour_ids,
            words,
            image.tags,
        )
    out: list[SuggestedTag] = []
    seen: set[str] = set()
    for r in records:
        if r["tag"] not in seen:
            seen.add(r["tag"])
            out.append(SuggestedTag(r["tag"], r["reason"], r["count"]))
    return out[:MAX_SUGGESTIONS]
