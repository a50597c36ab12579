"""Image metadata routes: upload, list, get, retag, delete."""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated, Any

from litestar import Request, Response, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Schema
from litestar.openapi.spec.enums import OpenAPIType
from litestar.params import JSONBody, PathParameter, QueryParameter

from reactbin import metrics
from reactbin.domain import images as library
from reactbin.domain.resources import Resources
from reactbin.domain.tags import MAX_TAG_LENGTH, MAX_TAGS, TAG_FIELD_PATTERN, parse_tag_field
from reactbin.errors import ImageNotFound, ReactbinError
from reactbin.routes.forms import multipart_operation, receive_upload
from reactbin.routes.schemas import (
    ErrorBody,
    Image,
    ImageList,
    TagsUpdate,
    UploadedImage,
    image_out,
    uploaded_out,
)
from reactbin.uploads import MAX_FIELD_BYTES


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
            result = await library.ingest_upload(res, form.file, tags)
        finally:
            await asyncio.to_thread(form.file.discard)
    except ReactbinError as exc:
        metrics.UPLOADS.labels(exc.code).inc()
        raise
    metrics.UPLOADS.labels("duplicate" if result.duplicate else "created").inc()
    body = uploaded_out(result.image, res.urls, duplicate=result.duplicate)
    return Response(body, status_code=200 if result.duplicate else 201)


@get("/images", summary="List images, newest first", responses=errors(400, 422, 503))
async def list_images(
    res: NamedDependency[Resources],
    tag: Annotated[tuple[str, ...], QueryParameter(description="Only images with every one of these tags")] = (),
    limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, QueryParameter(max_length=200)] = None,
) -> ImageList:
    page = await library.list_images(res, tags=list(tag), limit=limit, cursor=cursor)
    return ImageList(items=[image_out(row, res.urls) for row in page.items], next_cursor=page.next_cursor)


@patch(
    "/images/{image_id:str}/tags",
    summary="Replace an image's tags",
    request_max_body_size=64 * 1024,
    responses=errors(400, 404, 413, 422, 503),
)
async def replace_tags(res: NamedDependency[Resources], image_id: ImageId, data: JSONBody[TagsUpdate]) -> Image:
    row = await library.replace_tags(res, parse_image_id(image_id), list(data.tags))
    return image_out(row, res.urls)


@get("/images/{image_id:str}", summary="Get one image", responses=errors(404, 503))
async def get_image(res: NamedDependency[Resources], image_id: ImageId) -> Image:
    return image_out(await library.get_image(res, parse_image_id(image_id)), res.urls)


@delete("/images/{image_id:str}", summary="Delete an image and its files", responses=errors(404, 503))
async def delete_image(res: NamedDependency[Resources], image_id: ImageId) -> None:
    await library.delete_image(res, parse_image_id(image_id))
