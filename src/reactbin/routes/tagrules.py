"""Tag aliases and implications."""

from __future__ import annotations

from typing import Annotated

from litestar import Response, delete, get, post
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody, PathParameter

from reactbin.db.tagrules import AliasRow, ImplicationRow
from reactbin.domain import tagrules as rules
from reactbin.domain.resources import Resources
from reactbin.routes.access import access
from reactbin.routes.images import errors
from reactbin.routes.schemas import Alias, AliasList, Implication, ImplicationList, NewAlias, NewImplication

TagName = Annotated[str, PathParameter(description="A tag name")]


def _alias_out(row: AliasRow) -> Alias:
    return Alias(alias=row.alias, tag=row.tag, created_at=row.created_at)


def _implication_out(row: ImplicationRow) -> Implication:
    return Implication(tag=row.tag, implies=row.implies, created_at=row.created_at)


@get("/tag-aliases", summary="List tag aliases", responses=errors(503))
async def list_aliases(res: NamedDependency[Resources]) -> AliasList:
    return AliasList(items=[_alias_out(row) for row in await rules.list_aliases(res)])


@post(
    "/tag-aliases",
    opt=access("admin"),
    summary="Make a tag an alias of another",
    description="Tagging or searching `alias` then means `tag`, and every image tagged `alias` is retagged `tag`. "
    "An alias of an alias points at the final tag. Self-references, cycles, an alias that already means another tag "
    "and tags linked by an implication are 409 `tag_rule_conflict`. The same alias again answers 200.",
    status_code=201,
    request_max_body_size=4096,
    responses={200: ResponseSpec(data_container=Alias, description="The alias already existed")}
    | errors(400, 401, 409, 413, 422, 503),
)
async def create_alias(res: NamedDependency[Resources], data: JSONBody[NewAlias]) -> Response[Alias]:
    result = await rules.create_alias(res, data.alias, data.tag)
    assert isinstance(result.rule, AliasRow)
    return Response(_alias_out(result.rule), status_code=201 if result.created else 200)


@delete(
    "/tag-aliases/{alias:str}",
    opt=access("admin"),
    summary="Delete a tag alias",
    description="Images already retagged keep their tag.",
    responses=errors(401, 404, 503),
)
async def delete_alias(res: NamedDependency[Resources], alias: TagName) -> None:
    await rules.delete_alias(res, alias)


@get("/tag-implications", summary="List tag implications", responses=errors(503))
async def list_implications(res: NamedDependency[Resources]) -> ImplicationList:
    return ImplicationList(items=[_implication_out(row) for row in await rules.list_implications(res)])


@post(
    "/tag-implications",
    opt=access("admin"),
    summary="Make a tag imply another",
    description="Searching `implies` also finds images tagged `tag` (and whatever implies `tag`). Names go through "
    "aliases. Self-references and cycles are 409 `tag_rule_conflict`. The same implication again answers 200.",
    status_code=201,
    request_max_body_size=4096,
    responses={200: ResponseSpec(data_container=Implication, description="The implication already existed")}
    | errors(400, 401, 409, 413, 422, 503),
)
async def create_implication(res: NamedDependency[Resources], data: JSONBody[NewImplication]) -> Response[Implication]:
    result = await rules.create_implication(res, data.tag, data.implies)
    assert isinstance(result.rule, ImplicationRow)
    return Response(_implication_out(result.rule), status_code=201 if result.created else 200)


@delete(
    "/tag-implications/{tag:str}/{implies:str}",
    opt=access("admin"),
    summary="Delete a tag implication",
    responses=errors(401, 404, 503),
)
async def delete_implication(res: NamedDependency[Resources], tag: TagName, implies: TagName) -> None:
    await rules.delete_implication(res, tag, implies)
