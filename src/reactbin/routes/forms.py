"""Multipart uploads read straight from the request stream, and how they are documented in OpenAPI."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Request
from litestar.openapi.spec import OpenAPIMediaType, Operation, RequestBody, Schema
from litestar.openapi.spec.enums import OpenAPIType

from reactbin.errors import FileTooLarge
from reactbin.uploads import MAX_FIELD_BYTES, MAX_PARTS, ReceivedForm, receive_form

# Multipart framing around the file: boundaries, part headers and the small text fields.
FORM_OVERHEAD = MAX_PARTS * (MAX_FIELD_BYTES + 512)


async def receive_upload(request: Request[Any, Any, Any], file_field: str, max_file_bytes: int) -> ReceivedForm:
    """The form of an upload route; a declared length far over the limit is refused before reading anything."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_file_bytes + FORM_OVERHEAD:
        raise FileTooLarge(f"The file is larger than {max_file_bytes} bytes")
    return await receive_form(
        request.stream(), request.headers.get("content-type", ""), file_field=file_field, max_file_bytes=max_file_bytes
    )


def multipart_operation(file_field: str, fields: dict[str, Schema]) -> type[Operation]:
    """An Operation class that documents a multipart body the handler reads itself (Litestar cannot infer it)."""
    body = RequestBody(
        required=True,
        content={
            "multipart/form-data": OpenAPIMediaType(
                schema=Schema(
                    type=OpenAPIType.OBJECT,
                    required=[file_field],
                    properties={
                        file_field: Schema(type=OpenAPIType.STRING, format="binary"),  # type: ignore[arg-type]
                        **fields,
                    },
                )
            )
        },
    )

    @dataclass
    class MultipartOperation(Operation):
        def __post_init__(self) -> None:
            self.request_body = body

    return MultipartOperation
