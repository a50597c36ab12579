"""`reactbin export DIR`: every original and a `manifest.json` that `reactbin import --manifest` restores.

Files are named by their content hash (`files/<sha256>.<ext>`), checked against it as they arrive and written
under a temporary name first, so an interrupted export leaves no half file and a second run downloads only
what is missing. The manifest is written last.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, TextIO

from reactbin.transfer.api import ApiClient, Unreachable
from reactbin.transfer.progress import Progress

MANIFEST = "manifest.json"
_PAGE = 200


@dataclass
class ExportSummary:
    exported: int = 0
    already_there: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    def render(self, directory: Path) -> str:
        lines = [
            f"exported {self.exported + self.already_there} image(s) to {directory}"
            f" ({self.exported} downloaded, {self.already_there} already there) in {self.seconds:.1f} s"
        ]
        if self.failed:
            lines.append(f"failed {len(self.failed)}:")
            lines += [f"  {name}: {reason}" for name, reason in self.failed]
        return "\n".join(lines)


class ExportError(Exception):
    """The library could not be listed."""


def _file_name(image: dict[str, Any]) -> str:
    suffix = PurePosixPath(str(image.get("storage_key", ""))).suffix
    if not (1 < len(suffix) <= 6 and suffix[1:].isalnum()):
        suffix = ""
    return f"{image['hash']}{suffix.lower()}"


def _sha256_of(path: Path) -> str | None:
    try:
        with path.open("rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError:
        return None


async def _list_all(client: ApiClient) -> list[dict[str, Any]]:
    images: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": _PAGE} | ({"cursor": cursor} if cursor else {})
        try:
            answer = await client.call("GET", "/images", params=params)
        except Unreachable as exc:
            raise ExportError(f"cannot list the library: {exc}") from None
        if answer.status != 200 or not isinstance(answer.body, dict):
            raise ExportError(f"cannot list the library: {answer.detail}")
        images.extend(item for item in answer.body.get("items", []) if isinstance(item, dict))
        cursor = answer.body.get("next_cursor")
        if not cursor:
            return images


async def _download(client: ApiClient, image: dict[str, Any], target: Path) -> None:
    """Stream an original to `target` via a temp file, checking its hash; raises OSError, ValueError, Unreachable."""
    fd, name = tempfile.mkstemp(prefix=".part-", dir=target.parent)
    temp = Path(name)
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as out:
            async for chunk in client.stream(f"/images/{image['id']}/file"):
                digest.update(chunk)
                await asyncio.to_thread(out.write, chunk)
        if digest.hexdigest() != image["hash"]:
            raise ValueError("the downloaded bytes do not match the image's hash")
        await asyncio.to_thread(temp.replace, target)
    finally:
        await asyncio.to_thread(temp.unlink, missing_ok=True)


def _entry(image: dict[str, Any], path: str) -> dict[str, Any]:
    entry = {
        "id": image["id"],
        "hash": image["hash"],
        "filename": image.get("filename"),
        "mime_type": image.get("mime_type"),
        "tags": image.get("tags", []),
        "created_at": image.get("created_at"),
        "path": path,
    }
    if image.get("text") is not None:
        entry["text"] = image["text"]
    return entry


async def run_export(
    server: str, token: str | None, directory: Path, *, jobs: int, stream: TextIO, timeout: float = 60.0
) -> ExportSummary:
    """Export the whole library at `server` into `directory`.

    Raises:
        ExportError: the library could not be listed.
    """
    started = time.monotonic()
    summary = ExportSummary()
    files = directory / "files"
    files.mkdir(parents=True, exist_ok=True)
    async with ApiClient(server, token, connections=jobs, timeout=timeout) as client:
        images = await _list_all(client)
        progress = Progress(len(images), stream)
        entries: list[dict[str, Any]] = []
        queue = list(images)

        async def worker() -> None:
            while queue:
                image = queue.pop()
                name = _file_name(image)
                target = files / name
                if await asyncio.to_thread(_sha256_of, target) == image["hash"]:
                    summary.already_there += 1
                    outcome = "already there"
                else:
                    try:
                        await _download(client, image, target)
                    except (OSError, ValueError, Unreachable) as exc:
                        summary.failed.append((str(image.get("filename")), f"{image['id']}: {exc}"))
                        progress.advance("failed")
                        continue
                    summary.exported += 1
                    outcome = "downloaded"
                entries.append(_entry(image, f"files/{name}"))
                progress.advance(outcome)

        await asyncio.gather(*(worker() for _ in range(max(1, jobs))))
        progress.finish()
    entries.sort(key=lambda entry: (str(entry["created_at"]), entry["id"]))
    manifest = {
        "format": "reactbin-export",
        "version": 1,
        "exported_at": dt.datetime.now(dt.UTC).isoformat(),
        "source": server,
        "count": len(entries),
        "images": entries,
    }
    temp = directory / f".{MANIFEST}.part"
    temp.write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    temp.replace(directory / MANIFEST)
    summary.seconds = time.monotonic() - started
    return summary
