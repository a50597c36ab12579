"""The search query language (README "Search"): a pure parser, no database.

`cat "why not both" tag:smug dog* -blurry a|b type:animated sort:popular`

Terms are separated by spaces and ANDed. A term is one or more alternatives joined by `|` (any one matches), and a
leading `-` excludes what the term would match. Alternatives: a bare word (tag, caption or filename), a quoted
phrase (caption or filename), `tag:x` (exactly that tag), `x*` (any tag starting with x), `type:still|animated|video`,
`is:fav` (the requester's favourites), `by:NAME` or `by:me` (who uploaded it).
`sort:new|old|popular|random` picks the order. Every malformed query raises `InvalidQuery` naming the problem.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Literal

import msgspec

from reactbin.domain.tags import MAX_TAG_LENGTH, normalise_tag
from reactbin.errors import InvalidQuery, InvalidTag

_USER_NAME = re.compile(r"[A-Za-z0-9_.-]{1,32}")
MAX_QUERY_CHARS = 256
MAX_TERMS = 32

Kind = Literal["still", "animated", "video"]
Sort = Literal["new", "old", "popular", "random"]
KINDS: tuple[Kind, ...] = ("still", "animated", "video")
SORTS: tuple[Sort, ...] = ("new", "old", "popular", "random")


class Word(msgspec.Struct, frozen=True):
    """A bare word: the tag it names (None when it cannot be a tag) or caption/filename text containing it."""

    text: str
    tag: str | None


class Phrase(msgspec.Struct, frozen=True):
    """A quoted phrase: caption or filename text containing it."""

    text: str


class Tag(msgspec.Struct, frozen=True):
    """`tag:x`: exactly that tag (through aliases and implications)."""

    tag: str


class Prefix(msgspec.Struct, frozen=True):
    """`x*`: any tag starting with x."""

    prefix: str


class Type(msgspec.Struct, frozen=True):
    """`type:animated`: the media kind."""

    kind: Kind


class Favourite(msgspec.Struct, frozen=True):
    """`is:fav`: the requesting user's favourites."""


class By(msgspec.Struct, frozen=True):
    """`by:alice` (a user name, any case) or `by:me` (`name` None): who uploaded it."""

    name: str | None


Atom = Word | Phrase | Tag | Prefix | Type | Favourite | By


class Clause(msgspec.Struct, frozen=True):
    """One term: any of its alternatives matches; `negated` inverts it."""

    alternatives: tuple[Atom, ...]
    negated: bool = False


class Query(msgspec.Struct, frozen=True):
    clauses: tuple[Clause, ...]
    sort: Sort | None = None

    @property
    def free_text(self) -> tuple[Word | Phrase, ...]:
        """Words and phrases that must match (not excluded, not one of several alternatives), in query order.

        Relevance ranks by these: their concatenation as a whole caption or a contiguous phrase beats scattered hits.
        """
        return tuple(
            clause.alternatives[0]
            for clause in self.clauses
            if not clause.negated
            and len(clause.alternatives) == 1
            and isinstance(clause.alternatives[0], Word | Phrase)
        )

    @property
    def has_free_text(self) -> bool:
        return any(
            isinstance(atom, Word | Phrase)
            for clause in self.clauses
            if not clause.negated
            for atom in clause.alternatives
        )


def parse_query(raw: str) -> Query:
    """Parse a query string.

    Raises:
        InvalidQuery: the query is malformed; the message names the problem and where.
    """
    if "\x00" in raw:
        raise InvalidQuery("The query contains a NUL character")
    if len(raw) > MAX_QUERY_CHARS:
        raise InvalidQuery(f"The query is longer than {MAX_QUERY_CHARS} characters")
    terms = _split_terms(raw)
    clauses: list[Clause] = []
    sort: Sort | None = None
    atoms = 0
    for term in terms:
        if term.lower().startswith("sort:"):
            if sort is not None:
                raise InvalidQuery("Only one sort: term is allowed")
            sort = _parse_sort(term[5:])
            continue
        clause = _parse_clause(term)
        atoms += len(clause.alternatives)
        clauses.append(clause)
    if len(terms) > MAX_TERMS or atoms > MAX_TERMS:
        raise InvalidQuery(f"The query has more than {MAX_TERMS} terms")
    return Query(clauses=tuple(clauses), sort=sort)


def rewrite_terms(raw: str, rewrite: Callable[[str, Clause | None], str | None]) -> str:
    """`raw` with each term replaced by what `rewrite(term, clause)` returns (None keeps it); terms are joined by one
    space. `clause` is None for a `sort:` term. `raw` must parse (see `parse_query`)."""
    out: list[str] = []
    for term in _split_terms(raw):
        clause = None if term.lower().startswith("sort:") else _parse_clause(term)
        replacement = rewrite(term, clause)
        out.append(term if replacement is None else replacement)
    return " ".join(out)


def _split_terms(raw: str) -> list[str]:
    """Split on whitespace outside double quotes."""
    terms: list[str] = []
    current: list[str] = []
    quoted = False
    for char in raw:
        if char == '"':
            quoted = not quoted
            current.append(char)
        elif char.isspace() and not quoted:
            if current:
                terms.append("".join(current))
                current = []
        else:
            current.append(char)
    if quoted:
        raise InvalidQuery('Unbalanced quotes: a phrase opened with " is never closed')
    if current:
        terms.append("".join(current))
    return terms


def _parse_sort(value: str) -> Sort:
    for sort in SORTS:
        if value.lower() == sort:
            return sort
    raise InvalidQuery(f"Unknown sort {value[:40]!r}: use one of {', '.join(SORTS)}")


def _parse_clause(term: str) -> Clause:
    negated = term.startswith("-")
    body = term[1:] if negated else term
    if not body:
        raise InvalidQuery("A lone '-' excludes nothing: write -word")
    if body.startswith("-"):
        raise InvalidQuery(f"{term[:40]!r} has more than one '-'")
    if body.lower().startswith("type:"):
        kinds = body[5:].split("|")
        return Clause(alternatives=tuple(Type(_parse_kind(kind)) for kind in kinds), negated=negated)
    return Clause(
        alternatives=tuple(_parse_atom(part, term) for part in _split_alternatives(body, term)), negated=negated
    )


def _split_alternatives(body: str, term: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for char in body:
        if char == '"':
            quoted = not quoted
            current.append(char)
        elif char == "|" and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    if any(not part for part in parts):
        raise InvalidQuery(f"{term[:40]!r} has an empty alternative around '|'")
    return parts


def _parse_kind(value: str) -> Kind:
    for kind in KINDS:
        if value.lower() == kind:
            return kind
    raise InvalidQuery(f"Unknown type {value[:40]!r}: use one of {', '.join(KINDS)}")


def _unquote(text: str, term: str) -> tuple[str, bool]:
    """The text of an alternative without its quotes, and whether it was quoted; quotes only around a whole part."""
    if '"' not in text:
        return text, False
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"' and '"' not in text[1:-1]:
        return text[1:-1], True
    raise InvalidQuery(f'{term[:40]!r}: quotes must surround a whole phrase, like "why not both"')


def _parse_atom(part: str, term: str) -> Atom:
    lowered = part.lower()
    if lowered.startswith("type:"):
        return Type(_parse_kind(part[5:]))
    if lowered.startswith("tag:"):
        value, _ = _unquote(part[4:], term)
        return Tag(_query_tag(value, term))
    if lowered.startswith("sort:"):
        raise InvalidQuery("sort: is a term of its own: it cannot be excluded or be an alternative")
    if lowered.startswith("is:"):
        if lowered[3:] != "fav":
            raise InvalidQuery(f"Unknown {part[:40]!r}: the only is: term is is:fav (your favourites)")
        return Favourite()
    if lowered.startswith("by:"):
        name = part[3:]
        if name.lower() == "me":
            return By(None)
        if not _USER_NAME.fullmatch(name):
            raise InvalidQuery(f"{term[:40]!r}: by: takes a user name (1-32 letters, digits and . _ -) or me")
        return By(name)
    text, quoted = _unquote(part, term)
    if quoted:
        if not text.strip():
            raise InvalidQuery("Empty phrase: write words between the quotes")
        return Phrase(text)
    if "*" in text:
        if text == "*":
            raise InvalidQuery("A lone '*' matches nothing: write the start of a tag, like cat*")
        if text.index("*") != len(text) - 1:
            raise InvalidQuery(f"{term[:40]!r}: '*' may only end a word (a tag prefix like cat*)")
        return Prefix(_query_tag(text[:-1], term, what="tag prefix"))
    try:
        tag: str | None = normalise_tag(text)
    except InvalidTag:
        tag = None  # "both?" is no tag, but its letters still match captions
    return Word(text=text, tag=tag)


def _query_tag(value: str, term: str, *, what: str = "tag") -> str:
    try:
        return normalise_tag(value)
    except InvalidTag:
        raise InvalidQuery(
            f"{term[:40]!r}: a {what} is 1-{MAX_TAG_LENGTH} letters, digits and - _ : ."
            if value
            else f"{term!r}: empty {what}"
        ) from None
