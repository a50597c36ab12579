"""A file a request delivered: spooled to local disk and hashed while it arrived (see `routes.multipart`)."""

from __future__ import annotations

from pathlib import Path

import msgspec


class ReceivedFile(msgspec.Struct, kw_only=True):
    """The uploaded file as it sits on local disk; the caller deletes it with `discard()`."""

    path: Path
    size: int
    sha256: str
    filename: str

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)
