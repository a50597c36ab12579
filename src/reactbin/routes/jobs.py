"""The thumbnail job API: submit an image, poll the job, list jobs, fetch the result."""

from __future__ import annotations

import asyncio
import functools
import uuid
from typing import Annotated, Any

from litestar import Request, Response, get, post, route
from litestar.di import NamedDependency
from litestar.openapi.spec import Schema
from litestar.openapi.spec.enums import OpenAPIType
from litestar.params import PathParameter, QueryParameter
from litestar.types import ASGIApp

from reactbin.db.jobs import JobStatus
from reactbin.domain import thumbnail_jobs
from reactbin.domain.resources import Resources
from reactbin.errors import JobNotFound
from reactbin.routes.files import FILE_RESPONSES, serve_content
from reactbin.routes.images import errors
from reactbin.routes.multipart import multipart_operation, receive_upload
from reactbin.routes.schemas import Job, JobAccepted, JobList, JobThumbnail, job_out

JobId = Annotated[str, PathParameter(description="Job id", format="uuid")]


def parse_job_id(raw: str) -> uuid.UUID:
    """Job ids are UUIDs; anything else names no job."""
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise JobNotFound() from None


_SIDE = f"{thumbnail_jobs.MIN_BOX}..{thumbnail_jobs.MAX_BOX}, default {thumbnail_jobs.DEFAULT_BOX}"
_SubmitOperation = multipart_operation(
    "image",
    {
        "width": Schema(
            type=OpenAPIType.INTEGER,
            minimum=thumbnail_jobs.MIN_BOX,
            maximum=thumbnail_jobs.MAX_BOX,
            description=f"Box width ({_SIDE})",
        ),
        "height": Schema(
            type=OpenAPIType.INTEGER,
            minimum=thumbnail_jobs.MIN_BOX,
            maximum=thumbnail_jobs.MAX_BOX,
            description=f"Box height ({_SIDE})",
        ),
        "fit": Schema(
            type=OpenAPIType.STRING,
            enum=["contain", "cover"],
            description="contain: fit inside the box (default); cover: fill it, cropping",
        ),
        "format": Schema(type=OpenAPIType.STRING, enum=["webp", "jpeg", "png"], description="default webp"),
    },
)


@post(
    "/thumbnails",
    operation_class=_SubmitOperation,
    summary="Submit an image for a thumbnail",
    description="The file is validated now (same rules as image uploads); the thumbnail is made by a worker. "
    "Poll the `Location` URL until the job's status is SUCCESS or FAILURE.",
    responses=errors(400, 413, 415, 422, 500, 503),
    status_code=202,
)
async def submit_thumbnail(request: Request[Any, Any, Any], res: NamedDependency[Resources]) -> Response[JobAccepted]:
    form = await receive_upload(request, "image", res.settings.max_upload_bytes)
    try:
        spec = thumbnail_jobs.parse_spec(form.fields)
        job_id = await thumbnail_jobs.submit_thumbnail_job(res, form.file, spec)
    finally:
        await asyncio.to_thread(form.file.discard)
    body = JobAccepted(
        job_id=job_id, status="PENDING", message="Thumbnail job queued; poll its Location for the result"
    )
    return Response(body, status_code=202, headers={"location": res.urls.job_url(job_id)})


@get("/jobs", summary="List thumbnail jobs, newest first", responses=errors(400, 503))
async def list_jobs(
    res: NamedDependency[Resources],
    status: Annotated[JobStatus | None, QueryParameter(description="Only jobs in this status")] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, QueryParameter(max_length=200)] = None,
) -> JobList:
    page = await thumbnail_jobs.list_jobs(res, status=status, limit=limit, cursor=cursor)
    return JobList(items=[job_out(row, res.urls) for row in page.items], next_cursor=page.next_cursor)


@get("/jobs/{job_id:str}", summary="Get a thumbnail job's status and result", responses=errors(404, 503))
async def get_job(res: NamedDependency[Resources], job_id: JobId) -> Job:
    return job_out(await thumbnail_jobs.get_job(res, parse_job_id(job_id)), res.urls)


@get(
    "/jobs/{job_id:str}/thumbnail",
    summary="Get the URL of a finished job's thumbnail",
    description="409 `job_not_ready` until the job succeeded (also after it failed; the detail says so).",
    responses=errors(404, 409, 503),
)
async def get_job_thumbnail(res: NamedDependency[Resources], job_id: JobId) -> JobThumbnail:
    job_uuid = parse_job_id(job_id)
    result = await thumbnail_jobs.job_result(res, job_uuid)
    return JobThumbnail(job_id=job_uuid, thumbnail_url=res.urls.job_thumbnail_url(job_uuid, result.key))


@route(
    "/jobs/{job_id:str}/thumbnail/file",
    http_method=["GET", "HEAD"],
    summary="Download a finished job's thumbnail",
    responses=FILE_RESPONSES | errors(409),
)
async def job_thumbnail_file(request: Request[Any, Any, Any], job_id: JobId) -> ASGIApp:
    res: Resources = request.app.state.resources
    return await serve_content(request, functools.partial(thumbnail_jobs.open_job_thumbnail, res, parse_job_id(job_id)))
