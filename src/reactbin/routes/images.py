"""Image metadata routes: upload, list, get, retag, delete."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Schema
from litestar.openapi.spec.enums import OpenAPIFormat, OpenAPIType
from litestar.params import JSONBody, PathParameter, QueryParameter

from reactbin import metrics
from reactbin.db.images import ImageRow
from reactbin.domain import captions, duplicates, favourites, ingest, search
from reactbin.domain import images as library
from reactbin.domain.ratelimit import RateLimiter
from reactbin.domain.resources import Resources
from reactbin.domain.tags import MAX_TAG_LENGTH, MAX_TAGS, TAG_FIELD_PATTERN, parse_tag_field
from reactbin.errors import Forbidden, ImageNotFound, RateLimited, ReactbinError
from reactbin.routes.access import access, principal_of
from reactbin.routes.multipart import MAX_FIELD_BYTES, multipart_operation, receive_upload
from reactbin.routes.schemas import (
    DidYouMean,
    ErrorBody,
    Image,
    ImageList,
    ImageUpdate,
    ImageUse,
    TagsUpdate,
    UploadedImage,
    image_out,
    similar_out,
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
SIMILAR_ON_UPLOAD = 20


_UploadOperation = multipart_operation(
    "file",
    {
        "tags": Schema(
            type=OpenAPIType.STRING,
            description=f"Comma-separated tags, at most {MAX_TAGS}; each is lowercased, inner whitespace becomes `-`, "
            f"and must then be 1-{MAX_TAG_LENGTH} letters, digits or `-_:.`",
            pattern=TAG_FIELD_PATTERN,
            max_length=MAX_FIELD_BYTES,
        ),
        "created_at": Schema(
            type=OpenAPIType.STRING,
            format=OpenAPIFormat.DATE_TIME,
            description="When the image was first added, for restoring an export (`reactbin import --manifest`): "
            "ISO 8601 with a time zone, not in the future; default now. Ignored when the bytes are stored already.",
        ),
    },
)


@post(
    "/images",
    operation_class=_UploadOperation,
    summary="Upload an image",
    description='New content answers 201, with `similar`: stored images that show the same picture ("looks like '
    'one you have"). Content already stored answers 200 with `duplicate: true`.',
    responses={200: ResponseSpec(data_container=UploadedImage, description="Duplicate of a stored image")}
    | errors(400, 413, 415, 422, 500, 503),
    status_code=201,
    opt=access("upload"),
)
async def upload_image(request: Request[Any, Any, Any], res: NamedDependency[Resources]) -> Response[UploadedImage]:
    principal = principal_of(request)
    try:
        form = await receive_upload(request, "file", res.settings.max_upload_bytes)
        try:
            tags = parse_tag_field(form.fields.get("tags"))
            created_at = ingest.parse_created_at(form.fields.get("created_at"))
            result = await ingest.ingest_upload(
                res, form.file, tags, uploaded_by=principal.user_id, created_at=created_at
            )
        finally:
            await asyncio.to_thread(form.file.discard)
    except ReactbinError as exc:
        metrics.UPLOADS.labels(exc.code).inc()
        raise
    metrics.UPLOADS.labels("duplicate" if result.duplicate else "created").inc()
    marked = await favourites.favourites_among(res, principal.user_id, [result.image.id]) if result.duplicate else ()
    similar: list[duplicates.SimilarImage] = []
    if not result.duplicate:
        with contextlib.suppress(ImageNotFound):  # deleted a moment after it was made: nothing is like it
            similar = await duplicates.similar_images(res, result.image.id, limit=SIMILAR_ON_UPLOAD)
    body = uploaded_out(
        result.image,
        res.urls,
        duplicate=result.duplicate,
        favourite=result.image.id in marked,
        similar=similar_out(similar, res.urls),
    )
    return Response(body, status_code=200 if result.duplicate else 201)


async def images_out(res: Resources, request: Request[Any, Any, Any], rows: list[ImageRow]) -> list[Image]:
    """Image objects with `favourite` for the requesting user: from the rows when their query asked (lists and
    searches), else one query for the whole page."""
    unknown = [row.id for row in rows if row.favourite is None]
    marked = await favourites.favourites_among(res, principal_of(request).user_id, unknown) if unknown else set()
    return [image_out(row, res.urls, favourite=bool(row.favourite) or row.id in marked) for row in rows]


async def one_image_out(res: Resources, request: Request[Any, Any, Any], row: ImageRow) -> Image:
    return (await images_out(res, request, [row]))[0]


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
    "else newest first, unless `sort:` says otherwise. Keyset pages: pass `next_cursor` back as `cursor`. "
    "A search whose first page is empty may carry `did_you_mean`: the query with the words that matched nothing "
    "replaced by the nearest tag in use or caption word (one edit for 3-4 letters, two from 5), offered only when "
    "that finds something; null otherwise.",
    responses=errors(400, 422, 503),
)
async def list_images(
    request: Request[Any, Any, Any],
    res: NamedDependency[Resources],
    tag: Annotated[tuple[str, ...], QueryParameter(description="Only images with every one of these tags")] = (),
    q: Annotated[str | None, QueryParameter(description=_QUERY_HELP)] = None,
    seed: Annotated[
        int | None, QueryParameter(ge=0, le=2**31 - 1, description="Order of `sort:random` (random when absent)")
    ] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, QueryParameter(max_length=300)] = None,
) -> ImageList:
    viewer = principal_of(request).user_id
    if q is None and seed is None:
        page = await library.list_images(res, tags=list(tag), limit=limit, cursor=cursor, viewer=viewer)
        items = await images_out(res, request, page.items)
        return ImageList(items=items, next_cursor=page.next_cursor, did_you_mean=None)
    found = await search.search_images(
        res, q=q or "", tags=list(tag), limit=limit, cursor=cursor, seed=seed, viewer=viewer
    )
    suggestion = msgspec.convert(found.did_you_mean, DidYouMean | None, from_attributes=True)
    items = await images_out(res, request, found.items)
    return ImageList(items=items, next_cursor=found.next_cursor, did_you_mean=suggestion)


@patch(
    "/images/{image_id:str}/tags",
    summary="Replace an image's tags",
    request_max_body_size=64 * 1024,
    responses=errors(400, 404, 413, 422, 503),
)
async def replace_tags(
    request: Request[Any, Any, Any], res: NamedDependency[Resources], image_id: ImageId, data: JSONBody[TagsUpdate]
) -> Image:
    row = await library.replace_tags(res, parse_image_id(image_id), list(data.tags))
    return await one_image_out(res, request, row)


@patch(
    "/images/{image_id:str}",
    summary="Change an image's caption text",
    description="`text` set by hand is never overwritten by OCR; empty or null means the image has no caption.",
    request_max_body_size=64 * 1024,
    responses=errors(400, 401, 404, 413, 422, 503),
)
async def update_image(
    request: Request[Any, Any, Any], res: NamedDependency[Resources], image_id: ImageId, data: JSONBody[ImageUpdate]
) -> Image:
    target = parse_image_id(image_id)
    if isinstance(data.text, msgspec.UnsetType):
        row = await library.get_image(res, target)
    else:
        row = await captions.set_text(res, target, data.text)
    return await one_image_out(res, request, row)


@post(
    "/images/{image_id:str}/uses",
    summary="Record one use of an image",
    description="The UI calls this when an image is copied, downloaded or opened; it raises `use_count` (what "
    "`sort:popular` orders by) and `last_used_at`. Limited per client (`RATE_LIMIT_USES`).",
    status_code=200,
    responses=errors(401, 404, 429, 503),
    opt=access("use"),
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
async def get_image(request: Request[Any, Any, Any], res: NamedDependency[Resources], image_id: ImageId) -> Image:
    return await one_image_out(res, request, await library.get_image(res, parse_image_id(image_id)))


@delete(
    "/images/{image_id:str}",
    summary="Delete an image and its files",
    description="Admins may delete any image, members only their own uploads (403 `forbidden` otherwise).",
    responses=errors(404, 503),
)
async def delete_image(request: Request[Any, Any, Any], res: NamedDependency[Resources], image_id: ImageId) -> None:
    principal = principal_of(request)
    owner = principal.user_id if principal.role == "member" else None
    if principal.role == "member" and owner is None:
        raise Forbidden("Members may delete only their own uploads")
    await library.delete_image(res, parse_image_id(image_id), owner=owner)
