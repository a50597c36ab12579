"""Tag autocomplete."""

from __future__ import annotations

from typing import Annotated

from litestar import get
from litestar.di import NamedDependency
from litestar.params import QueryParameter

from reactbin.domain import images as library
from reactbin.domain.resources import Resources
from reactbin.routes.images import errors
from reactbin.routes.schemas import TagSuggestions, tag_suggestions_out


@get(
    "/tags",
    summary="Tag suggestions for autocomplete",
    description="`prefix`: tags starting with it, most used first. `q`: also typos (`kat` finds `cat`) and aliases; "
    "every item names the tag it means (`tag`) and that tag's image count.",
    responses=errors(400, 503),
)
async def suggest_tags(
    res: NamedDependency[Resources],
    prefix: Annotated[str, QueryParameter(max_length=200)] = "",
    q: Annotated[str | None, QueryParameter(max_length=200, description="What was typed so far")] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=100)] = 20,
) -> TagSuggestions:
    return tag_suggestions_out(await library.suggest_tags(res, prefix=prefix, typed=q, limit=limit))
