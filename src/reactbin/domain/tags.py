"""Tag normalisation: one rule for uploads, edits and search."""

from __future__ import annotations

import re

from reactbin.errors import InvalidTag, TooManyTags

MAX_TAG_LENGTH = 64
MAX_TAGS = 50
_WHITESPACE = re.compile(r"\s+")
_WORDS = r"[\w\-:.]+(?:\s+[\w\-:.]+)*"
TAG_PATTERN = rf"^\s*{_WORDS}\s*$"
"""One tag as sent: words of letters, digits and `-_:.`, separated (and surrounded) by whitespace."""
TAG_FIELD_PATTERN = rf"^\s*$|^\s*{_WORDS}\s*(?:,\s*{_WORDS}\s*)*$"
"""A comma-separated tag field of a form: blank, or tags as above separated by commas."""
_VALID = re.compile(r"^[\w\-:.]+$")


def normalise_tag(raw: object) -> str:
    """Trim, lowercase, turn inner whitespace runs into `-`, then check the result.

    Raises:
        InvalidTag: the tag is not a string, or empty, too long or has other characters after normalising.
    """
    if not isinstance(raw, str):
        raise InvalidTag("Tags must be strings")
    tag = _WHITESPACE.sub("-", raw.strip().lower())
    if not tag:
        raise InvalidTag("Tags cannot be empty")
    if len(tag) > MAX_TAG_LENGTH:
        raise InvalidTag(f"Tags are at most {MAX_TAG_LENGTH} characters")
    # \w admits unicode letters and digits (and "_"), which is what "letters, digits" means for people.
    if not _VALID.match(tag) or not all(ch.isalnum() or ch in "-_:." for ch in tag):
        raise InvalidTag(f"Tag {tag[:MAX_TAG_LENGTH]!r} may only contain letters, digits and - _ : .")
    return tag


def normalise_tags(raw: list[object]) -> list[str]:
    """Normalise a list of tags, keeping the first occurrence of each."""
    tags = list(dict.fromkeys(normalise_tag(item) for item in raw))
    if len(tags) > MAX_TAGS:
        raise TooManyTags()
    return tags


def parse_tag_field(field: str | None) -> list[str]:
    """Tags from a comma-separated form field; a blank field means no tags."""
    if field is None or not field.strip():
        return []
    return normalise_tags(list(field.split(",")))
