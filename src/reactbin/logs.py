"""Log lines as text or as one JSON object per line, each carrying the id of the request it belongs to."""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import re
import sys
import traceback
import uuid
from typing import Any, Literal

REQUEST_ID = contextvars.ContextVar[str | None]("reactbin_request_id", default=None)
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,128}$")
# Fields an access line adds through `extra=`; copied into the JSON object when present.
ACCESS_FIELDS = ("method", "path", "route", "status", "duration_ms")


def request_id_from(header: bytes | None) -> str:
    """The client's `X-Request-ID` when it is at most 128 safe characters, else a new one."""
    if header:
        text = header.decode("latin-1")
        if _SAFE_ID.match(text):
            return text
    return uuid.uuid4().hex


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id, access fields, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        for field in ACCESS_FIELDS:
            if hasattr(record, field):
                entry[field] = getattr(record, field)
        if record.exc_info and record.exc_info[0] is not None:
            entry["exception"] = "".join(traceback.format_exception(*record.exc_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


class _TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        request_id = getattr(record, "request_id", None)
        return f"{line} [request_id={request_id}]" if request_id else line


def configure_logging(fmt: Literal["text", "json"], level: int = logging.INFO) -> None:
    """Route every logger (ours, uvicorn's, libraries') through one handler on stderr in `fmt`."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_RequestIdFilter())
    handler.setFormatter(
        JsonFormatter() if fmt == "json" else _TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    # The app writes the access lines (`reactbin.access`, with request id and route); uvicorn's stay off.
    uvicorn_access = logging.getLogger("uvicorn.access")
    uvicorn_access.handlers[:] = []
    uvicorn_access.propagate = False


def uvicorn_log_config() -> dict[str, Any]:
    """uvicorn keeps the logging set up by `configure_logging` (its own config would replace the handlers)."""
    return {"version": 1, "disable_existing_loggers": False}
