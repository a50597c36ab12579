"""Near-duplicate routes: similar images, merging a copy into the one kept, suggested tags."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, QueryParameter

from reactbin.domain import duplicates
from reactbin.domain.resources import Resources
from reactbin.errors import ImageNotFound, MergeConflict
from reactbin.routes.access import principal_of
from reactbin.routes.images import ImageId, errors, one_image_out, parse_image_id
from reactbin.routes.schemas import (
    Image,
    MergeRequest,
    SimilarList,
    SuggestedTagList,
    SuggestedTagOut,
    similar_out,
)


@get(
    "/images/{image_id:str}/similar",
    summary="Images that show the same picture",
    description="Within 10 bits of the image's perceptual hash: `duplicate` (same caption, or none; also while a "
    "caption is still being read) first, then `template` (the same picture with another caption), nearest first. "
    "Empty for an image that could not be hashed.",
    responses=errors(400, 404, 503),
)
async def similar_images(
    res: NamedDependency[Resources],
    image_id: ImageId,
    limit: Annotated[int, QueryParameter(ge=1, le=100)] = 20,
) -> SimilarList:
    found = await duplicates.similar_images(res, parse_image_id(image_id), limit=limit)
    return SimilarList(items=similar_out(found, res.urls))


@post(
    "/images/{image_id:str}/merge",
    summary="Merge an image into another one",
    description="Moves the image's tags, uses, favourites and hand-set caption into `into` and deletes it; answers "
    "the kept image. 409 `merge_conflict` when `into` is the same image or either image does not exist (any more: "
    "of two merges of one image at once, one wins and the other gets 409).",
    status_code=200,
    request_max_body_size=4096,
    responses=errors(400, 401, 403, 409, 413, 422, 503),
)
async def merge_image(
    request: Request[Any, Any, Any], res: NamedDependency[Resources], image_id: ImageId, data: JSONBody[MergeRequest]
) -> Image:
    """A merge deletes `image_id`: a member may merge away only an image they uploaded (as with delete)."""
    try:
        source = parse_image_id(image_id)
    except ImageNotFound:
        raise MergeConflict("One of the images does not exist: nothing was merged") from None
    principal = principal_of(request)
    owner = principal.user_id if principal.role == "member" else None
    kept = await duplicates.merge_image(res, source, data.into, owner=owner)
    return await one_image_out(res, request, kept)


@get(
    "/images/{image_id:str}/suggested-tags",
    summary="Tags this image probably wants",
    description="Up to 10 existing tags the image does not have: tags of images showing the same picture "
    "(`similar`, most shared first), then words of its caption that are tags or aliases (`caption`).",
    responses=errors(400, 404, 503),
)
async def suggested_tags(res: NamedDependency[Resources], image_id: ImageId) -> SuggestedTagList:
    found = await duplicates.suggested_tags(res, parse_image_id(image_id))
    return SuggestedTagList(items=[SuggestedTagOut(s.tag, s.reason, s.count) for s in found])
