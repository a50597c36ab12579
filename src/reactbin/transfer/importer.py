"""`reactbin import`: send a folder tree (or an export's manifest) to a server through its HTTP API.

Each file is hashed locally first and looked up with `/images/by-hash/{sha256}`: bytes the library already has
(stored as they are, or stripped of location metadata on their first upload) are never sent again, so a second
run over the same folder only reads and hashes. New files are uploaded `jobs` at a time; the server applies
every rule and limit and answers each with a status this module turns into one line of the summary.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, TextIO

from reactbin.transfer.api import Answer, ApiClient, Unreachable, Upload
from reactbin.transfer.progress import Progress
from reactbin.transfer.walk import Candidate, Problem

IMPORTED = "imported"
DUPLICATE = "duplicates"
REJECTED = "rejected"
_DOWN_AFTER = 3
"""Consecutive unreachable answers after which the server counts as gone: the files left are reported at once."""


class Fatal(Exception):
    """The run cannot start (server unreachable, token refused); nothing was sent."""


@dataclass(frozen=True)
class Item:
    """One file to import: where it is, its tags and, from a manifest, what else to restore."""

    path: Path
    tags: tuple[str, ...]
    expected_hash: str | None = None
    text: str | None = None
    filename: str | None = None
    """The name to upload under (a manifest's original filename); else the file's own name."""
    created_at: str | None = None
    """When the image was first added (a manifest's), so a restore keeps the library's dates and order."""


@dataclass
class Summary:
    total: int = 0
    imported: list[Path] = field(default_factory=list)
    duplicates: list[Path] = field(default_factory=list)
    rejected: list[tuple[Path, str]] = field(default_factory=list)
    notes: list[tuple[Path, str]] = field(default_factory=list)
    not_started: int = 0
    interrupted: bool = False
    seconds: float = 0.0

    @property
    def failed(self) -> bool:
        return bool(self.rejected) or self.not_started > 0

    def render(self) -> str:
        rate = (len(self.imported) + len(self.duplicates)) / self.seconds if self.seconds > 0 else 0.0
        lines = [
            f"imported {len(self.imported)}, duplicates {len(self.duplicates)}, rejected {len(self.rejected)}"
            f" of {self.total} file(s) in {self.seconds:.1f} s ({rate:.1f} files/s)"
        ]
        if self.interrupted:
            lines.append(f"interrupted: {self.not_started} file(s) not processed; run the same command to finish")
        if self.rejected:
            lines.append("rejected:")
            lines += [f"  {path}: {reason}" for path, reason in sorted(self.rejected)]
        if self.notes:
            lines.append("notes:")
            lines += [f"  {path}: {note}" for path, note in sorted(self.notes)]
        return "\n".join(lines)


@dataclass(frozen=True)
class ServerLimits:
    max_upload_bytes: int | None
    writes_need_token: bool
    token_accepted: bool | None


async def check_server(client: ApiClient, server: str, token: str | None) -> ServerLimits:
    """Ask `GET /limits` once before any file is touched: a wrong token or an absent server stops the run here."""
    try:
        answer = await client.call("GET", "/limits")
    except Unreachable as exc:
        raise Fatal(f"cannot reach {server}: {exc}") from None
    if answer.status == 404:  # a server from before /limits: every rule still applies per upload
        return ServerLimits(None, writes_need_token=False, token_accepted=None)
    if answer.status != 200 or not isinstance(answer.body, dict):
        raise Fatal(f"{server} answered {answer.status} to GET /api/v1/limits: is it a reactbin server?")
    limits = ServerLimits(
        max_upload_bytes=answer.body.get("max_upload_bytes"),
        writes_need_token=bool(answer.body.get("writes_need_token")),
        token_accepted=answer.body.get("token_accepted"),
    )
    if limits.writes_need_token and not token:
        raise Fatal(f"{server} needs a write token: pass --token (or set REACTBIN_TOKEN)")
    if limits.writes_need_token and limits.token_accepted is False:
        raise Fatal(f"{server} refused the write token; nothing was imported")
    return limits


def items_from_walk(files: list[Candidate]) -> list[Item]:
    return [Item(candidate.path, candidate.tags) for candidate in files]


def items_from_manifest(manifest: Path) -> tuple[list[Item], list[Problem]]:
    """The entries of an export's `manifest.json`, oldest first, with their files beside it.

    Raises:
        Fatal: the manifest cannot be read or is not a reactbin export.
    """
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise Fatal(f"cannot read the manifest {manifest}: {exc}") from None
    if (
        not isinstance(data, dict)
        or data.get("format") != "reactbin-export"
        or not isinstance(data.get("images"), list)
    ):
        raise Fatal(f"{manifest} is not a reactbin export manifest")
    base = manifest.parent
    items: list[Item] = []
    problems: list[Problem] = []
    entries = [entry for entry in data["images"] if isinstance(entry, dict)]
    entries.sort(key=lambda entry: str(entry.get("created_at", "")))
    for entry in entries:
        relative = PurePosixPath(str(entry.get("path", "")))
        if relative.is_absolute() or ".." in relative.parts or not relative.parts:
            problems.append(Problem(base / str(entry.get("path", "?")), "the manifest names a path outside the export"))
            continue
        tags = entry.get("tags")
        text = entry.get("text")
        filename = entry.get("filename")
        created_at = entry.get("created_at")
        items.append(
            Item(
                path=base.joinpath(*relative.parts),
                tags=tuple(str(tag) for tag in tags) if isinstance(tags, list) else (),
                expected_hash=str(entry["hash"]) if entry.get("hash") else None,
                text=text if isinstance(text, str) else None,
                filename=filename if isinstance(filename, str) and filename else None,
                created_at=created_at if isinstance(created_at, str) and created_at else None,
            )
        )
    return items, problems


def _read(path: Path) -> tuple[bytes, str]:
    data = path.read_bytes()
    return data, hashlib.sha256(data).hexdigest()


class _Run:
    def __init__(
        self,
        client: ApiClient,
        limits: ServerLimits,
        summary: Summary,
        progress: Progress,
    ) -> None:
        self.client = client
        self.limits = limits
        self.summary = summary
        self.progress = progress
        self.unreachable_in_a_row = 0
        self.server_gone: str | None = None
        self.rate_limited = False

    def finish(self, path: Path, outcome: str, reason: str | None = None) -> None:
        if outcome == IMPORTED:
            self.summary.imported.append(path)
        elif outcome == DUPLICATE:
            self.summary.duplicates.append(path)
        else:
            self.summary.rejected.append((path, reason or "rejected"))
        self.progress.advance(outcome)

    async def request(self, method: str, path: str, *, json_body: Any = None, upload: Upload | None = None) -> Answer:
        """A request that waits out rate limits and counts unreachable answers toward "the server is gone"."""
        while True:
            if self.server_gone is not None:
                raise Unreachable(self.server_gone)
            try:
                answer = await self.client.call(method, path, json_body=json_body, upload=upload)
            except Unreachable as exc:
                self.unreachable_in_a_row += 1
                if self.unreachable_in_a_row >= _DOWN_AFTER:
                    self.server_gone = f"{exc} (the server stopped answering)"
                raise
            self.unreachable_in_a_row = 0
            if answer.status == 429:
                # The server paces uploads per client: wait as told, however long the import then takes.
                delay = _retry_after(answer)
                if not self.rate_limited:
                    self.rate_limited = True
                    self.progress.note(
                        f"the server limits uploads ({answer.detail}); waiting as it asks. "
                        "For a big import, raise RATE_LIMIT_UPLOADS on the server."
                    )
                await asyncio.sleep(delay)
                continue
            return answer

    async def import_one(self, item: Item) -> None:
        try:
            outcome, reason = await self._import(item)
        except Unreachable as exc:
            outcome, reason = REJECTED, f"not imported: {exc}"
        self.finish(item.path, outcome, reason)

    async def _import(self, item: Item) -> tuple[str, str | None]:
        try:
            size = item.path.stat().st_size
        except OSError as exc:
            return REJECTED, f"unreadable: {exc.strerror or exc}"
        if size == 0:
            return REJECTED, "empty_file: the file is empty (0 bytes)"
        if self.limits.max_upload_bytes is not None and size > self.limits.max_upload_bytes:
            return REJECTED, f"file_too_large: {size} bytes, the server accepts at most {self.limits.max_upload_bytes}"
        try:
            data, sha256 = await asyncio.to_thread(_read, item.path)
        except OSError as exc:
            return REJECTED, f"unreadable: {exc.strerror or exc}"
        if item.expected_hash is not None and sha256 != item.expected_hash:
            return REJECTED, "the file's SHA-256 does not match the manifest (changed since the export?)"

        wants_more = bool(item.tags) or item.text is not None
        known = await self.request("GET" if wants_more else "HEAD", f"/images/by-hash/{sha256}")
        if known.status == 200:
            image = known.body if isinstance(known.body, dict) else {}
            problem = await self._complete(item, image)
            return (REJECTED, problem) if problem else (DUPLICATE, None)
        if known.status not in (404, 405):  # 405: a server from before by-hash; the upload decides
            return REJECTED, f"{known.code or known.status}: {known.detail}"

        form = Upload(item.filename or item.path.name, data, ",".join(item.tags) or None, item.created_at)
        answer = await self.request("POST", "/images", upload=form)
        if answer.status >= 500:
            await asyncio.sleep(1.0)  # one retry: the server dedupes by hash, so a repeat is never a second image
            answer = await self.request("POST", "/images", upload=form)
        if answer.status in (200, 201) and isinstance(answer.body, dict):
            problem = await self._complete(item, answer.body)
            if problem:
                return REJECTED, problem
            return (IMPORTED if answer.status == 201 else DUPLICATE), None
        return REJECTED, f"{answer.code or answer.status}: {answer.detail}"

    async def _complete(self, item: Item, image: dict[str, Any]) -> str | None:
        """Make a stored image carry the item's tags and caption text; a problem to report, or None."""
        image_id = image.get("id")
        if not image_id:
            return None
        have = set(image.get("tags") or [])
        missing = [tag for tag in item.tags if tag not in have]
        if missing:
            answer = await self.request("PATCH", f"/images/{image_id}/tags", json_body={"tags": [*have, *missing]})
            if answer.status != 200:
                return (
                    f"already stored, but its tags could not be added: {answer.code or answer.status}: {answer.detail}"
                )
        if item.text is not None and image.get("text") != item.text:
            answer = await self.request("PATCH", f"/images/{image_id}", json_body={"text": item.text})
            if answer.status in (404, 405) and answer.code != "image_not_found":
                self.summary.notes.append((item.path, "caption text not restored: this server has no caption text"))
            elif answer.status != 200:
                self.summary.notes.append((item.path, f"caption text not restored: {answer.detail}"))
        return None


def _retry_after(answer: Answer) -> float:
    try:
        return min(max(float(answer.headers.get("retry-after", "1")), 0.1), 60.0)
    except ValueError:
        return 1.0


async def run_import(
    server: str,
    token: str | None,
    items: list[Item],
    problems: list[Problem],
    *,
    jobs: int,
    stream: TextIO,
    timeout: float = 60.0,
) -> Summary:
    """Import `items`; `problems` (found while walking) are reported as rejected. Ctrl+C stops taking new files,
    lets the ones in flight finish and reports the rest as not processed; a second Ctrl+C abandons those too.

    Raises:
        Fatal: the server cannot be reached or refuses the token; nothing was sent.
    """
    summary = Summary(total=len(items) + len(problems))
    started = time.monotonic()
    async with ApiClient(server, token, connections=jobs, timeout=timeout) as client:
        limits = await check_server(client, server, token)
        progress = Progress(summary.total, stream)
        run = _Run(client, limits, summary, progress)
        for problem in problems:
            run.finish(problem.path, REJECTED, problem.reason)
        queue = list(reversed(items))
        stopping = asyncio.Event()

        async def worker() -> None:
            while queue and not stopping.is_set():
                await run.import_one(queue.pop())

        workers = [asyncio.create_task(worker()) for _ in range(max(1, jobs))]
        loop = asyncio.get_running_loop()

        def interrupt() -> None:
            if not stopping.is_set():
                stopping.set()
                progress.note("stopping: finishing the files in progress (Ctrl+C again to abandon them)")
            else:
                for task in workers:
                    task.cancel()

        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signal.SIGINT, interrupt)
        try:
            await asyncio.gather(*workers, return_exceptions=True)
        finally:
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(signal.SIGINT)
        progress.finish()
    summary.interrupted = stopping.is_set()
    reported = len(summary.imported) + len(summary.duplicates) + len(summary.rejected)
    summary.not_started = summary.total - reported
    summary.seconds = time.monotonic() - started
    return summary
