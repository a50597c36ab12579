"""Readable captions (media/words.py): spaces put back, nothing else changed, on real OCR-shaped strings."""

from __future__ import annotations

from pathlib import Path

import pytest

from reactbin.media.ocr import CaptionReader, compact
from reactbin.media.words import readable
from tests.fixtures import memes


@pytest.mark.parametrize(
    ("read", "expected"),
    [
        ("WHYNOTBOTH", "WHY NOT BOTH"),
        ("THISISFINE", "THIS IS FINE"),
        ("ONEDOESNOTSIMPLY\nWALKINTOMORDOR", "ONE DOES NOT SIMPLY\nWALK INTO MORDOR"),
        ("WHATI'MDOING", "WHAT I'M DOING"),  # a contraction stays one word
        ("IT'SATRAP", "IT'S A TRAP"),
        ("Why not both?", "Why not both?"),  # already spaced: untouched
        ("WHYNOTBOTH?!", "WHY NOT BOTH?!"),  # punctuation stays where it was
        ("CRÈMEBRÛLÉEPLEASE", "CRÈME BRÛLÉE PLEASE"),  # accents kept, matched without them
        ("NOPE", "NOPE"),  # short runs are left alone
        ("pikachu", "pikachu"),  # a known word is never split
        ("", ""),
        ("ЭТОПРОСТОТЕКСТ", "ЭТОПРОСТОТЕКСТ"),  # other scripts: no English model, kept as read
        ("SHUTUPAND\nTAKEMYMONEY", "SHUT UP AND\nTAKE MY MONEY"),
    ],
)
def test_readable(read: str, expected: str) -> None:
    assert readable(read) == expected


@pytest.mark.parametrize("meme", memes.memes(), ids=lambda m: m.filename)
def test_only_spaces_are_added(meme: memes.Meme) -> None:
    """Search matches the compact form: a readable caption must find exactly what the OCR text found."""
    for read in (
        "\n".join(line.upper().replace(" ", "") for line in meme.lines),
        "".join(meme.lines),
        meme.caption,
    ):
        made = readable(read)
        assert made.replace(" ", "") == read.replace(" ", "")
        assert compact(made) == compact(read)


READABLE = [
    # meme index, what the OCR process stores (upper-case captions come back spaceless from rapidocr)
    (0, "WHY NOT BOTH"),
    (4, "SHUT UP AND\nTAKE MY MONEY"),
    (10, "THAT ESCALATED QUICKLY"),
]


@pytest.mark.parametrize(("index", "expected"), READABLE, ids=[str(i) for i, _ in READABLE])
def test_the_ocr_process_stores_readable_captions(
    caption_reader: CaptionReader, tmp_path: Path, index: int, expected: str
) -> None:
    meme = memes.memes()[index]
    path = tmp_path / meme.filename
    path.write_bytes(memes.png_bytes(meme))
    text = caption_reader.read(path, "image/png", timeout=120).text
    assert text == expected
    # The match key is unchanged: the typed caption, spaced or not, is what search compares.
    assert compact(text) == compact(meme.caption)
