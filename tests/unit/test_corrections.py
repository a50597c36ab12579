"""The string distances behind "did you mean" (no database)."""

from __future__ import annotations

import pytest

from reactbin.domain.corrections import allowed_edits, edit_distance, nearest_substring


@pytest.mark.parametrize(
    ("a", "b", "distance"),
    [
        ("", "", 0),
        ("cat", "cat", 0),
        ("kat", "cat", 1),
        ("thsi", "this", 1),  # a swap of neighbours is one edit
        ("grumpu", "grumpy", 1),
        ("smgu", "smug", 1),
        ("fnie", "fine", 1),
        ("mony", "money", 1),
        ("abc", "", 3),
        ("", "abc", 3),
        ("kitten", "sitting", 3),
    ],
)
def test_edit_distance(a: str, b: str, distance: int) -> None:
    assert edit_distance(a, b) == distance
    assert edit_distance(b, a) == distance


@pytest.mark.parametrize(
    ("word", "text", "distance", "part"),
    [
        ("both", "whynotboth", 0, "both"),
        ("bothh", "whynotboth", 1, "both"),
        ("thsi", "thisisfine", 1, "this"),
        ("fnie", "thisisfine", 1, "fine"),
        ("xyz", "thisisfine", 3, ""),
        ("", "abc", 0, ""),
    ],
)
def test_nearest_substring(word: str, text: str, distance: int, part: str) -> None:
    found = nearest_substring(word, text)
    assert found[0] == distance
    if distance < len(word):
        assert found[1] == part


def test_allowed_edits_grow_with_the_word() -> None:
    assert [allowed_edits("x" * n) for n in range(1, 8)] == [0, 0, 1, 1, 2, 2, 2]
