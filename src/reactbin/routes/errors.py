"""The one mapping of every error to its answer: JSON `{"detail", "code"}` with a stable code, never internals."""

from __future__ import annotations

import logging
from typing import Any

from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException

from reactbin.errors import ClientGone, RateLimited, ReactbinError

log = logging.getLogger("reactbin.app")

_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "request_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


def error_response(detail: str, code: str, status: int, headers: dict[str, str] | None = None) -> Response[Any]:
    return Response({"detail": detail, "code": code}, status_code=status, media_type=MediaType.JSON, headers=headers)


def domain_error(request: Request[Any, Any, Any], exc: ReactbinError) -> Response[Any]:
    """A domain error: its own status, code and detail (see `reactbin.errors`)."""
    if isinstance(exc, ClientGone):
        log.info("client left during %s %s", request.method, request.url.path)
    headers = {"retry-after": str(exc.retry_after)} if isinstance(exc, RateLimited) else None
    return error_response(exc.detail, exc.code, exc.status_code, headers=headers)


def http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    """Litestar's own errors (validation, 404 of unknown routes, 405 ...) in the same shape."""
    if isinstance(exc, ValidationException):
        problems = exc.extra if isinstance(exc.extra, list) else []
        parts = [
            f"{item.get('key')}: {item.get('message')}" if item.get("key") else str(item.get("message"))
            for item in problems
            if isinstance(item, dict)
        ]
        detail = "Invalid request" + (f" ({'; '.join(parts)})" if parts else "")
        return error_response(detail, "validation_error", 400)
    status = exc.status_code
    if status >= 500:
        return internal_error(request, exc)
    code = _STATUS_CODES.get(status, "client_error")
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail else code.replace("_", " ").capitalize()
    return error_response(detail, code, status, headers=exc.headers)


def internal_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Anything unexpected: logged with its traceback, answered with a generic 500 that says nothing inside."""
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response("Internal server error", "internal_error", 500)


EXCEPTION_HANDLERS: dict[Any, Any] = {
    ReactbinError: domain_error,
    HTTPException: http_error,
    Exception: internal_error,
}
