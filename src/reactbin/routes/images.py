"""Image metadata routes: upload, list, get, retag, delete."""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Schema
from litestar.openapi.spec.enums import OpenAPIType
from litestar.params import JSONBody, PathParameter, QueryParameter

from reactbin import metrics
from reactbin.domain import captions, ingest, search
from reactbin.domain import images as library
from reactbin.domain.ratelimit import RateLimiter
from reactbin.domain.resources import Resources
from reactbin.domain.tags import MAX_TAG_LENGTH, MAX_TAGS, TAG_FIELD_PATTERN, parse_tag_field
from reactbin.errors import ImageNotFound, RateLimited, ReactbinError
from reactbin.routes.multipart import MAX_FIELD_BYTES, multipart_operation, receive_upload
from reactbin.routes.schemas import (
    ErrorBody,
    Image,
    ImageList,
    ImageUpdate,
    ImageUse,
    TagsUpdate,
    UploadedImage,
    image_out,
    uploaded_out,
)


def errors(*statuses: int) -> dict[int, ResponseSpec]:
    """OpenAPI entries for the error statuses a route can answer; every one has the same body."""
    return {
        status: ResponseSpec(data_container=ErrorBody, description="Error", generate_examples=False)
        for status in statuses
    }


def parse_image_id(raw: str) -> uuid.UUID:
    """Image ids are UUIDs; anything else names no image."""
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise ImageNotFound() from None


ImageId = Annotated[str, PathParameter(description="Image id", format="uuid")]


_UploadOperation = multipart_operation(
    "file",
    {
        "tags": Schema(
            type=OpenAPIType.STRING,
            description=f"Comma-separated tags, at most {MAX_TAGS}; each is lowercased, inner whitespace becomes `-`, "
            f"and must then be 1-{MAX_TAG_LENGTH} letters, digits or `-_:.`",
            pattern=TAG_FIELD_PATTERN,
            max_length=MAX_FIELD_BYTES,
        )
    },
)


@post(
    "/images",
    operation_class=_UploadOperation,
    summary="Upload an image",
    description="New content answers 201; content already stored answers 200 with `duplicate: true`.",
    responses={200: ResponseSpec(data_container=UploadedImage, description="Duplicate of a stored image")}
    | errors(400, 413, 415, 422, 500, 503),
    status_code=201,
)
async def upload_image(request: Request[Any, Any, Any], res: NamedDependency[Resources]) -> Response[UploadedImage]:
    try:
        form = await receive_upload(request, "file", res.settings.max_upload_bytes)
        try:
            tags = parse_tag_field(form.fields.get("tags"))
            result = await ingest.ingest_upload(res, form.file, tags)
        finally:
            await asyncio.to_thread(form.file.discard)
    except ReactbinError as exc:
        metrics.UPLOADS.labels(exc.code).inc()
        raise
    metrics.UPLOADS.labels("duplicate" if result.duplicate else "created").inc()
    body = uploaded_out(result.image, res.urls, duplicate=result.duplicate)
    return Response(body, status_code=200 if result.duplicate else 201)


_QUERY_HELP = (
    'Search query (at most 32 terms, 256 characters): `word` (tag, caption or filename), `"a phrase"`, '
    "`tag:cat`, `cat*` (tags starting with cat), `-term` (exclude), `a|b` (either), `type:still|animated|video`, "
    "`sort:new|old|popular|random`. Case, accents, punctuation and spaces between words are ignored. "
    "A malformed query is a 400 `invalid_query`."
)


@get(
    "/images",
    summary="List or search images",
    description="Without `q`: newest first, every `tag` required. With `q`: the query language, ANDed with the `tag` "
    "parameters; relevance first when `q` has free text (exact tag and whole-caption matches before partial ones), "
    "else newest first, unless `sort:` says otherwise. Keyset pages: pass `next_cursor` back as `cursor`.",
    responses=errors(400, 422, 503),
)
async def list_images(
    res: NamedDependency[Resources],
    tag: Annotated[tuple[str, ...], QueryParameter(description="Only images with every one of these tags")] = (),
    q: Annotated[str | None, QueryParameter(description=_QUERY_HELP)] = None,
    seed: Annotated[
        int | None, QueryParameter(ge=0, le=2**31 - 1, description="Order of `sort:random` (random when absent)")
    ] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, QueryParameter(max_length=300)] = None,
) -> ImageList:
    if q is None and seed is None:
        page = await library.list_images(res, tags=list(tag), limit=limit, cursor=cursor)
        return ImageList(items=[image_out(row, res.urls) for row in page.items], next_cursor=page.next_cursor)
    found = await search.search_images(res, q=q or "", tags=list(tag), limit=limit, cursor=cursor, seed=seed)
    return ImageList(items=[image_out(row, res.urls) for row in found.items], next_cursor=found.next_cursor)


@patch(
    "/images/{image_id:str}/tags",
    summary="Replace an image's tags",
    request_max_body_size=64 * 1024,
    responses=errors(400, 404, 413, 422, 503),
)
async def replace_tags(res: NamedDependency[Resources], image_id: ImageId, data: JSONBody[TagsUpdate]) -> Image:
    row = await library.replace_tags(res, parse_image_id(image_id), list(data.tags))
    return image_out(row, res.urls)


@patch(
    "/images/{image_id:str}",
    summary="Change an image's caption text",
    description="`text` set by hand is never overwritten by OCR; empty or null means the image has no caption.",
    request_max_body_size=64 * 1024,
    responses=errors(400, 401, 404, 413, 422, 503),
)
async def update_image(res: NamedDependency[Resources], image_id: ImageId, data: JSONBody[ImageUpdate]) -> Image:
    target = parse_image_id(image_id)
    if isinstance(data.text, msgspec.UnsetType):
        row = await library.get_image(res, target)
    else:
        row = await captions.set_text(res, target, data.text)
    return image_out(row, res.urls)


@post(
    "/images/{image_id:str}/uses",
    summary="Record one use of an image",
    description="The UI calls this when an image is copied, downloaded or opened; it raises `use_count` (what "
    "`sort:popular` orders by) and `last_used_at`. Limited per client (`RATE_LIMIT_USES`).",
    status_code=200,
    responses=errors(401, 404, 429, 503),
)
async def record_use(request: Request[Any, Any, Any], res: NamedDependency[Resources], image_id: ImageId) -> ImageUse:
    image = parse_image_id(image_id)
    limiter: RateLimiter | None = getattr(request.app.state, "use_limiter", None)
    if limiter is not None:
        client = request.client.host if request.client else "unknown"
        verdict = await limiter.hit(f"uses:{client}")
        if not verdict.allowed:
            raise RateLimited(
                f"Too many uses recorded: at most {verdict.limit} every {verdict.window} s; "
                f"try again in {verdict.reset_in} s",
                retry_after=verdict.reset_in,
            )
    use = await library.record_use(res, image)
    return ImageUse(use_count=use.use_count, last_used_at=use.last_used_at)


@get("/images/{image_id:str}", summary="Get one image", responses=errors(404, 503))
async def get_image(res: NamedDependency[Resources], image_id: ImageId) -> Image:
    return image_out(await library.get_image(res, parse_image_id(image_id)), res.urls)


@delete("/images/{image_id:str}", summary="Delete an image and its files", responses=errors(404, 503))
async def delete_image(res: NamedDependency[Resources], image_id: ImageId) -> None:
    await library.delete_image(res, parse_image_id(image_id))
