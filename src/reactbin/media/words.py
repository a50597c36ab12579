"""Readable captions: put back the spaces OCR drops between upper-case words (`WHYNOTBOTH` -> `WHY NOT BOTH`).

Word boundaries come from `wordsegment` (unigram and bigram counts of Google's English web corpus, shipped inside
the package), chosen over `symspellpy` by measurement on the 48 test memes (docs/benchmarks.md, "Readable
captions": 45/48 word for word against 43/48).
Only spaces are ever added: every other character, its case and its punctuation stay as read, so the compact form
that search matches on (`whynotboth`) is the same before and after. Pure functions of a string; the dictionary
is loaded once per process, on first use (under a second), in the OCR process of a worker.
"""

from __future__ import annotations

import functools
import threading
import unicodedata
from collections.abc import Callable, Iterable

Segment = Callable[[str], list[str]]
"""Splits a run of lower-case letters and digits into words."""

MIN_RUN = 6
"""Shorter runs are left alone: a short unknown run is more often a name or an acronym than several words."""
_APOSTROPHES = "'’"
_lock = threading.Lock()


@functools.cache
def _dictionary() -> tuple[Segment, frozenset[str]]:
    import wordsegment

    # The unigram and bigram counts (Google's web corpus) ship inside the package: nothing is downloaded.
    wordsegment.load()
    segment: Segment = wordsegment.segment
    return segment, frozenset(wordsegment.UNIGRAMS)


def default_segmenter() -> tuple[Segment, frozenset[str]]:
    """wordsegment's segmentation and its word list, loaded once per process."""
    with _lock:
        return _dictionary()


def readable(text: str, segment: Segment | None = None, known: Iterable[str] | frozenset[str] = ()) -> str:
    """`text` with spaces put back between the words of runs OCR read without them; lines stay lines.

    Tokens already separated by spaces are kept; a token is split only when it is a run of at least `MIN_RUN`
    letters that is not itself a dictionary word. The result differs from `text` only by added spaces.
    """
    if segment is None:
        segment, known = default_segmenter()
    words = known if isinstance(known, frozenset) else frozenset(known)
    return "\n".join(
        " ".join(_respaced(token, segment, words) for token in line.split(" ")) for line in text.split("\n")
    )


def _key(ch: str) -> str:
    """The letters a character stands for in the segmenter's alphabet (lower case, accents removed)."""
    return "".join(c for c in unicodedata.normalize("NFKD", ch.lower()) if c.isalnum())


def _respaced(token: str, segment: Segment, known: frozenset[str]) -> str:
    keys = [_key(ch) for ch in token]
    run = "".join(keys)
    if len(run) < MIN_RUN or run in known or not run.isascii():
        return token
    pieces = [piece for piece in segment(run) if piece]
    if len(pieces) < 2 or "".join(pieces) != run:
        return token  # the segmenter changed letters: keep what was read
    # Character offsets (in `run`) where a new word starts.
    starts: set[int] = set()
    offset = 0
    for piece in pieces[:-1]:
        offset += len(piece)
        starts.add(offset)
    out: list[str] = []
    consumed = 0
    for index, (ch, key) in enumerate(zip(token, keys, strict=True)):
        if key and consumed in starts and out and not _after_apostrophe(token, index):
            out.append(" ")
        out.append(ch)
        consumed += len(key)
    return "".join(out)


def _after_apostrophe(token: str, index: int) -> bool:
    """`I'M`, `IT'S`, `DON'T`: a contraction stays one word even where the segmenter splits it."""
    return index > 0 and token[index - 1] in _APOSTROPHES
