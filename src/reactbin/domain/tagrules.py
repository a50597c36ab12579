"""Tag aliases (`kitty` means `cat`) and implications (`cat` implies `animal`), safe with several replicas."""

from __future__ import annotations

import msgspec

from reactbin.db import tagrules as db
from reactbin.domain.resources import Resources
from reactbin.domain.tags import normalise_tag
from reactbin.errors import InvalidTag, TagRuleConflict, TagRuleNotFound


class Created(msgspec.Struct, frozen=True):
    rule: db.AliasRow | db.ImplicationRow
    created: bool


async def list_aliases(res: Resources) -> list[db.AliasRow]:
    async with res.db() as conn:
        return await db.list_aliases(conn)


async def list_implications(res: Resources) -> list[db.ImplicationRow]:
    async with res.db() as conn:
        return await db.list_implications(conn)


async def create_alias(res: Resources, raw_alias: object, raw_tag: object) -> Created:
    """Make `alias` mean `tag` everywhere: existing uses are rewritten, later tagging and searching go through it.

    Raises:
        InvalidTag: either name is not a valid tag.
        TagRuleConflict: self-reference, a cycle, an alias that already means another tag, or two tags that one
            implies the other (merging them would make a loop).
    """
    alias, tag = normalise_tag(raw_alias), normalise_tag(raw_tag)
    if alias == tag:
        raise TagRuleConflict(f"A tag cannot be an alias of itself ({alias!r})")
    async with res.tx() as conn:
        await db.lock_rules(conn)
        target = await db.alias_target(conn, tag) or tag
        if target == alias:
            raise TagRuleConflict(f"{tag!r} is already an alias of {alias!r}: this would make a cycle")
        existing = await db.get_alias(conn, alias)
        if existing is not None:
            if existing.tag == target:
                return Created(existing, created=False)
            raise TagRuleConflict(f"{alias!r} is already an alias of {existing.tag!r}; delete that alias first")
        if await db.implies(conn, alias, target) or await db.implies(conn, target, alias):
            raise TagRuleConflict(f"An implication links {alias!r} and {target!r}; delete it before merging them")
        return Created(await db.insert_alias(conn, alias, target), created=True)


async def delete_alias(res: Resources, raw_alias: str) -> None:
    """Forget the alias; uses already rewritten keep the tag they were rewritten to."""
    async with res.tx() as conn:
        await db.lock_rules(conn)
        if not await db.delete_alias(conn, _rule_name(raw_alias)):
            raise TagRuleNotFound("No such alias")


async def create_implication(res: Resources, raw_tag: object, raw_implied: object) -> Created:
    """`tag` implies `implied`: searching `implied` also finds images tagged `tag`. Names go through aliases.

    Raises:
        InvalidTag: either name is not a valid tag.
        TagRuleConflict: self-reference or a cycle.
    """
    tag, implied = normalise_tag(raw_tag), normalise_tag(raw_implied)
    async with res.tx() as conn:
        await db.lock_rules(conn)
        tag = await db.alias_target(conn, tag) or tag
        implied = await db.alias_target(conn, implied) or implied
        if tag == implied:
            raise TagRuleConflict(f"A tag cannot imply itself ({tag!r})")
        if await db.implies(conn, implied, tag):
            raise TagRuleConflict(f"{implied!r} already implies {tag!r}: this would make a cycle")
        row, created = await db.insert_implication(conn, tag, implied)
        return Created(row, created=created)


async def delete_implication(res: Resources, raw_tag: str, raw_implied: str) -> None:
    async with res.tx() as conn:
        await db.lock_rules(conn)
        if not await db.delete_implication(conn, _rule_name(raw_tag), _rule_name(raw_implied)):
            raise TagRuleNotFound("No such implication")


def _rule_name(raw: str) -> str:
    try:
        return normalise_tag(raw)
    except InvalidTag:
        raise TagRuleNotFound() from None
