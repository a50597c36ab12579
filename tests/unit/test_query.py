"""The query parser: every operator and every error, table-driven (no database)."""

from __future__ import annotations

import pytest

from reactbin.domain.query import Clause, Phrase, Prefix, Query, Tag, Type, Word, parse_query
from reactbin.errors import InvalidQuery


def clause(*atoms: Word | Phrase | Tag | Prefix | Type, negated: bool = False) -> Clause:
    return Clause(alternatives=atoms, negated=negated)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", Query(clauses=())),
        ("   ", Query(clauses=())),
        ("cat", Query(clauses=(clause(Word("cat", "cat")),))),
        ("Cat  DOG", Query(clauses=(clause(Word("Cat", "cat")), clause(Word("DOG", "dog"))))),
        ("both?", Query(clauses=(clause(Word("both?", None)),))),
        ('"why not both"', Query(clauses=(clause(Phrase("why not both")),))),
        ('"a|b" c', Query(clauses=(clause(Phrase("a|b")), clause(Word("c", "c"))))),
        ("tag:Cat", Query(clauses=(clause(Tag("cat")),))),
        ('tag:"two words"', Query(clauses=(clause(Tag("two-words")),))),
        ("TAG:source:twitter", Query(clauses=(clause(Tag("source:twitter")),))),
        ("source:twitter", Query(clauses=(clause(Word("source:twitter", "source:twitter")),))),
        ("cat*", Query(clauses=(clause(Prefix("cat")),))),
        ("-cat", Query(clauses=(clause(Word("cat", "cat"), negated=True),))),
        ('-"not this"', Query(clauses=(clause(Phrase("not this"), negated=True),))),
        ("-tag:x", Query(clauses=(clause(Tag("x"), negated=True),))),
        ("-ca*", Query(clauses=(clause(Prefix("ca"), negated=True),))),
        ("a|b", Query(clauses=(clause(Word("a", "a"), Word("b", "b")),))),
        ('a|"b c"|tag:d|e*', Query(clauses=(clause(Word("a", "a"), Phrase("b c"), Tag("d"), Prefix("e")),))),
        ("-a|b", Query(clauses=(clause(Word("a", "a"), Word("b", "b"), negated=True),))),
        ("type:animated", Query(clauses=(clause(Type("animated")),))),
        ("type:still|VIDEO", Query(clauses=(clause(Type("still"), Type("video")),))),
        ("-type:video", Query(clauses=(clause(Type("video"), negated=True),))),
        ("cat|type:video", Query(clauses=(clause(Word("cat", "cat"), Type("video")),))),
        ("sort:popular", Query(clauses=(), sort="popular")),
        ("cat sort:Random", Query(clauses=(clause(Word("cat", "cat")),), sort="random")),
        ("sort:old", Query(clauses=(), sort="old")),
        ("sort:new", Query(clauses=(), sort="new")),
        # SQL and regex metacharacters, % and _ are ordinary characters of a word.
        (
            "'; DROP TABLE images;--",
            Query(
                clauses=(
                    clause(Word("';", None)),
                    clause(Word("DROP", "drop")),
                    clause(Word("TABLE", "table")),
                    clause(Word("images;--", None)),
                )
            ),
        ),
        ("100%", Query(clauses=(clause(Word("100%", None)),))),
        ("a_b", Query(clauses=(clause(Word("a_b", "a_b")),))),
        ("(a+)+$", Query(clauses=(clause(Word("(a+)+$", None)),))),
        ("[^a]\\d", Query(clauses=(clause(Word("[^a]\\d", None)),))),
        ("x" * 32 + " y", Query(clauses=(clause(Word("x" * 32, "x" * 32)), clause(Word("y", "y"))))),
    ],
)
def test_parses(raw: str, expected: Query) -> None:
    assert parse_query(raw) == expected


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ('"why not both', "Unbalanced quotes"),
        ('why "not', "Unbalanced quotes"),
        ("-", "lone '-'"),
        ("cat - dog", "lone '-'"),
        ("--cat", "more than one '-'"),
        ("type:bogus", "Unknown type 'bogus'"),
        ("type:", "Unknown type ''"),
        ("type:still|gif", "Unknown type 'gif'"),
        ("cat|type:gif", "Unknown type 'gif'"),
        ("sort:best", "Unknown sort 'best'"),
        ("sort:new sort:old", "Only one sort"),
        ("-sort:new", "sort: is a term of its own"),
        ("cat|sort:new", "sort: is a term of its own"),
        (" ".join(["w"] * 33), "more than 32 terms"),
        ("|".join(["w"] * 33), "more than 32 terms"),
        ("x" * 257, "longer than 256 characters"),
        ("x" * 10240, "longer than 256 characters"),
        ("cat\x00", "NUL"),
        ("a|", "empty alternative"),
        ("|a", "empty alternative"),
        ("a||b", "empty alternative"),
        ("*", "lone '*'"),
        ("a*b", "'*' may only end a word"),
        ("**", "'*' may only end a word"),
        (".*(a+)+$", "'*' may only end a word"),
        ("tag:", "empty tag"),
        ("tag:a/b", "a tag is 1-64 letters"),
        ("tag:" + "x" * 65, "a tag is 1-64 letters"),
        ("a%*", "a tag prefix is 1-64 letters"),
        ('""', "Empty phrase"),
        ('"  "', "Empty phrase"),
        ('ab"cd"', "quotes must surround a whole phrase"),
        ('tag:"a"b', "quotes must surround a whole phrase"),
    ],
)
def test_rejects(raw: str, problem: str) -> None:
    with pytest.raises(InvalidQuery) as error:
        parse_query(raw)
    assert problem in error.value.detail
    assert error.value.status_code == 400
    assert error.value.code == "invalid_query"


def test_free_text_is_the_required_words_and_phrases_in_order() -> None:
    query = parse_query('why -not "both of" tag:x a|b c* type:still please')
    assert query.free_text == (Word("why", "why"), Phrase("both of"), Word("please", "please"))
    assert query.has_free_text
    assert not parse_query("tag:x -word sort:new").has_free_text
    assert parse_query("a|tag:b").has_free_text
