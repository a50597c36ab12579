"""Every HTTP route of the service, in one place: the `/api/v1` router, the probes and metrics, share pages, the UI.

A new API handler is added to `API_HANDLERS` with its `access(...)` (routes/access.py: who may call it);
`document_access` then puts the answers of the access layers (401, 403, 429, 503) into its OpenAPI description.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar import Litestar, Router
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import Schema

from reactbin.routes import accounts, duplicates, files, health, images, jobs, metrics, oidc, share, tagrules, tags
from reactbin.routes.access import document_access
from reactbin.routes.schemas import ImageUpdate, MergeRequest, NewApiKey, NewUser, Setup, SignIn, UserUpdate
from reactbin.routes.ui import ui_handlers
from reactbin.settings import Settings

PREFIX = "/api/v1"

API_HANDLERS: list[Any] = [
    images.upload_image,
    images.list_images,
    images.get_image,
    images.delete_image,
    images.replace_tags,
    images.update_image,
    share.image_by_hash,
    share.limits,
    share.sharex_config,
    share.oembed,
    files.image_file,
    files.image_thumbnail,
    files.image_preview,
    jobs.submit_thumbnail,
    jobs.list_jobs,
    jobs.get_job,
    jobs.get_job_thumbnail,
    jobs.job_thumbnail_file,
    images.record_use,
    duplicates.similar_images,
    duplicates.merge_image,
    duplicates.suggested_tags,
    tags.suggest_tags,
    tagrules.list_aliases,
    tagrules.create_alias,
    tagrules.delete_alias,
    tagrules.list_implications,
    tagrules.create_implication,
    tagrules.delete_implication,
    health.health,
    health.ready,
    accounts.sign_in_options,
    accounts.sign_in,
    accounts.sign_out,
    accounts.me,
    accounts.setup,
    accounts.list_keys,
    accounts.create_key,
    accounts.revoke_key,
    accounts.list_users,
    accounts.create_user,
    accounts.update_user,
    accounts.delete_user,
    accounts.add_favourite,
    accounts.remove_favourite,
]

OPENAPI = OpenAPIConfig(
    title="reactbin",
    version="1.0.0",
    description="A self-hosted library of reaction images with a CDN-aware API.",
    path="/api/docs",
    render_plugins=[SwaggerRenderPlugin()],
)

_CLOSED_BODIES = (ImageUpdate, NewUser, UserUpdate, SignIn, Setup, NewApiKey, MergeRequest)
"""Request bodies decoded with `forbid_unknown_fields`: their schema must say so, or clients (and schemathesis)
may send extra properties the API then refuses."""


def route_handlers(settings: Settings, ui_dir: Path | None) -> list[Any]:
    """The API router, the operational routes (probes, metrics when enabled), share pages and the UI."""
    api = Router(PREFIX, route_handlers=document_access(PREFIX, API_HANDLERS))
    operations: list[Any] = [health.healthz, health.readyz, metrics.unknown_api_path]
    if settings.metrics:
        operations.append(metrics.metrics)
    browser = [share.share_page, share.share_page_without_id, oidc.oidc_login, oidc.oidc_callback]
    return [api, *operations, *browser, *ui_handlers(ui_dir)]


def close_request_schemas(app: Litestar) -> None:
    """Litestar's schema of a msgspec Struct leaves out `forbid_unknown_fields`; add `additionalProperties: false`."""
    schemas = app.openapi_schema.components.schemas or {}
    for struct in _CLOSED_BODIES:
        schema = schemas.get(struct.__name__)
        if isinstance(schema, Schema):
            schema.additional_properties = False
