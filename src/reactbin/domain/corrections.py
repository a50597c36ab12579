""" "Did you mean": for a search that found nothing, the nearest tags and caption words for the words that matched
nothing, and the corrected query, offered only when it finds something.

`grumpu` -> `grumpy` (a tag, one edit away), `kat` -> `cat`, `thsi is fine` -> `this is fine` (a word of a caption
that looks like the whole query). Words of two letters or fewer are never corrected (too many tags are one edit
from them); a negated word, an alternative (`a|b`) and a phrase are left as typed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Literal

import asyncpg
import msgspec

from reactbin.db import search as db
from reactbin.domain.query import Clause, Query, Tag, Word, parse_query, rewrite_terms

MAX_CORRECTED = 6
"""At most this many unmatched words are looked up: a query of 32 typos costs no more than one of six."""
CANDIDATE_CAPTIONS = 20
"""Captions read per looked-up text (the whole query, then each unmatched word)."""


class Correction(msgspec.Struct, frozen=True):
    word: str
    """The term as typed (`grumpu`, `tag:grumpu`)."""
    replacement: str
    """What it becomes in `DidYouMean.q` (`grumpy`, `tag:grumpy`)."""
    source: Literal["tag", "caption"]
    """Where the replacement was found: a tag in use, or a word of an image's caption."""


class DidYouMean(msgspec.Struct, frozen=True):
    q: str
    """The query with every correction applied; it finds at least one image."""
    corrections: list[Correction]


def allowed_edits(word: str) -> int:
    """How many edits a correction of `word` may make: none for 1-2 characters, one for 3-4, two from 5 on."""
    return 0 if len(word) < 3 else 1 if len(word) < 5 else 2


def edit_distance(a: str, b: str) -> int:
    """Optimal string alignment distance: insertions, deletions, substitutions and swaps of neighbours (`thsi`
    is one edit from `this`)."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        row = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            row[j] = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                row[j] = min(row[j], previous2[j - 2] + 1)
        previous2, previous = previous, row
    return previous[-1]


def nearest_substring(word: str, text: str) -> tuple[int, str]:
    """The part of `text` closest to `word` (edit distance, swaps included) and its distance; ties go to the part
    whose length is closest to the word's. Captions OCR wrote without spaces (`whynotboth`) have no words to
    compare against, only parts."""
    if not word or not text:
        return len(word), ""
    # Sellers' algorithm: a match may start anywhere in `text` (row 0 is all zeros); each cell remembers where.
    previous2: list[tuple[int, int]] = []
    previous = [(0, j) for j in range(len(text) + 1)]
    for i in range(1, len(word) + 1):
        row = [(i, 0)] + [(0, 0)] * len(text)
        for j in range(1, len(text) + 1):
            cost = 0 if word[i - 1] == text[j - 1] else 1
            options = [
                (previous[j][0] + 1, previous[j][1]),
                (row[j - 1][0] + 1, row[j - 1][1]),
                (previous[j - 1][0] + cost, previous[j - 1][1]),
            ]
            if i > 1 and j > 1 and word[i - 1] == text[j - 2] and word[i - 2] == text[j - 1]:
                options.append((previous2[j - 2][0] + 1, previous2[j - 2][1]))
            row[j] = min(options, key=lambda option: (option[0], abs((j - option[1]) - len(word))))
        previous2, previous = previous, row
    best_end = min(range(1, len(text) + 1), key=lambda j: (previous[j][0], abs(j - previous[j][1] - len(word))))
    distance, start = previous[best_end]
    return distance, text[start:best_end]


class _Candidate(msgspec.Struct, frozen=True, order=True):
    distance: int
    rank: int
    """0 for a tag, 1 for a caption word, 2 for part of a caption: on equal distance, the cleaner source wins."""
    popularity: int
    """Minus the tag's image count: on equal distance and source, the most used tag wins."""
    replacement: str
    source: Literal["tag", "caption"]


async def did_you_mean(
    conn: asyncpg.Connection, raw: str, query: Query, finds_anything: Callable[[Query], Awaitable[bool]]
) -> DidYouMean | None:
    """Corrections for the words of `query` (parsed from `raw`) that match nothing alone, offered when
    `finds_anything` says the corrected query finds an image; run inside the search's transaction."""
    looked_up: list[Word | Tag] = []
    for clause in query.clauses:
        atom = clause.alternatives[0]
        if clause.negated or len(clause.alternatives) != 1 or not isinstance(atom, Word | Tag):
            continue
        if allowed_edits(_spelling(atom)) > 0 and atom not in looked_up:
            looked_up.append(atom)
    if not looked_up:
        return None
    words = [atom.text for atom in looked_up if isinstance(atom, Word)]
    # The whole free text as typed ("take my mony"), short words included: captions are looked up by all of it.
    whole = " ".join(atom.text for atom in query.free_text)
    terms = await db.resolve_terms(conn, [*words, whole], [], [])
    compact = dict(zip(words, terms.compact, strict=False))
    unmatched: list[Word | Tag] = []
    for atom in looked_up:
        text = compact[atom.text] if isinstance(atom, Word) else ""
        if not await db.anything_matches(conn, [atom.tag] if atom.tag else [], text):
            unmatched.append(atom)
        if len(unmatched) == MAX_CORRECTED:
            break
    if not unmatched:
        return None  # every word finds something alone; together they don't, which no spelling fixes

    texts = [compact[atom.text] for atom in unmatched if isinstance(atom, Word) and compact[atom.text]]
    captions = await db.similar_captions(conn, [terms.compact[-1], *texts], limit=CANDIDATE_CAPTIONS) if texts else []
    caption_words = await db.compact_words(conn, [caption.text for caption in captions]) if captions else []
    fixes: dict[Word | Tag, _Candidate] = {}
    for atom in unmatched:
        best = await _nearest(conn, atom, compact.get(_spelling(atom), ""), caption_words, captions)
        if best is not None:
            fixes[atom] = best
    if not fixes:
        return None

    corrections: list[Correction] = []

    def rewrite(term: str, clause: Clause | None) -> str | None:
        if clause is None or clause.negated or len(clause.alternatives) != 1:
            return None
        atom = clause.alternatives[0]
        fix = fixes.get(atom) if isinstance(atom, Word | Tag) else None
        if fix is None:
            return None
        replacement = fix.replacement if isinstance(atom, Word) else f"tag:{fix.replacement}"
        if all(c.word != term for c in corrections):
            corrections.append(Correction(word=term, replacement=replacement, source=fix.source))
        return replacement

    corrected = rewrite_terms(raw, rewrite)
    if not await finds_anything(parse_query(corrected)):
        return None
    return DidYouMean(q=corrected, corrections=corrections)


def _spelling(atom: Word | Tag) -> str:
    return atom.text if isinstance(atom, Word) else atom.tag


async def _nearest(
    conn: asyncpg.Connection, atom: Word | Tag, compact: str, caption_words: list[str], captions: list[db.Caption]
) -> _Candidate | None:
    """The best replacement for an unmatched word within its allowed edits: tags first, then caption words, then
    (only when neither is close) parts of captions written without spaces."""
    limit = allowed_edits(_spelling(atom))
    candidates: list[_Candidate] = []
    if atom.tag:
        # One more edit than allowed: the search counts a swap (dgo -> dog) as two, the check below as one.
        for hit in await db.similar_tags(conn, atom.tag, max_distance=limit + 1, limit=10):
            distance = edit_distance(atom.tag, hit.name)
            if hit.count > 0 and 0 < distance <= limit:
                candidates.append(_Candidate(distance, 0, -hit.count, hit.tag or hit.name, "tag"))
    if isinstance(atom, Word) and compact:
        for word in caption_words:
            distance = edit_distance(compact, word)
            if 0 < distance <= limit:
                candidates.append(_Candidate(distance, 1, 0, word, "caption"))
        if not candidates:
            for caption in captions:
                distance, part = nearest_substring(compact, caption.compact)
                if 0 < distance <= limit and len(part) >= 3:
                    candidates.append(_Candidate(distance, 2, 0, part, "caption"))
    return min(candidates, default=None)
