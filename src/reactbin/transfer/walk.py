"""Find the files to import under the given paths, with the tags their folders and sidecar files give them."""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

SIDECAR_SUFFIX = ".tags.txt"
_MAX_TAG_LENGTH = 64
_NOT_TAG_CHARACTERS = re.compile(r"[^\w:.-]+")
_NOT_REGULAR = "not a regular file (a device, socket or pipe)"


@dataclass(frozen=True)
class Candidate:
    """A file to send, with its tags."""

    path: Path
    tags: tuple[str, ...]


@dataclass(frozen=True)
class Problem:
    """A path that cannot be imported, and why."""

    path: Path
    reason: str


@dataclass
class Found:
    files: list[Candidate] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    hidden: int = 0
    """Hidden files and folders (names starting with a dot) left out."""


def folder_tag(name: str) -> str:
    """A folder name as a tag: lowercased, runs of spaces and other non-tag characters become `-`."""
    tag = _NOT_TAG_CHARACTERS.sub("-", name.strip().lower()).strip("-_:.")
    return re.sub(r"-{2,}", "-", tag)[:_MAX_TAG_LENGTH].strip("-")


def sidecar_tags(path: Path) -> tuple[str, ...]:
    """Tags from `NAME.tags.txt` (or `NAME.EXT.tags.txt`) beside `path`: comma- or line-separated, `#` comments."""
    tags: list[str] = []
    for sidecar in (path.with_name(path.stem + SIDECAR_SUFFIX), path.with_name(path.name + SIDECAR_SUFFIX)):
        try:
            text = sidecar.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for line in text.splitlines():
            line = line.split("#", 1)[0]
            tags.extend(part.strip() for part in line.split(",") if part.strip())
    return tuple(tags)


def _merge(*groups: tuple[str, ...]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for group in groups:
        for tag in group:
            seen.setdefault(tag, None)
    return tuple(seen)


def find_files(paths: list[Path], *, extra_tags: tuple[str, ...] = (), tags_from_folders: bool = False) -> Found:
    """Every file under `paths` (sorted), following symbolic links but never around a loop.

    A folder that cannot be listed, a broken link and a link back into a folder being walked are problems, each
    reported once; sidecar `.tags.txt` files and hidden names are not imported.
    """
    found = Found()
    for root in paths:
        try:
            info = root.stat()
        except OSError as exc:
            found.problems.append(Problem(root, f"unreadable: {exc.strerror or exc}"))
            continue
        if root.is_dir():
            _walk(root, (), {(info.st_dev, info.st_ino)}, found, extra_tags, tags_from_folders)
        elif root.name.endswith(SIDECAR_SUFFIX):
            continue
        elif not stat.S_ISREG(info.st_mode):
            found.problems.append(Problem(root, _NOT_REGULAR))
        else:
            found.files.append(Candidate(root, _merge(extra_tags, sidecar_tags(root))))
    return found


def _walk(
    folder: Path,
    folder_tags: tuple[str, ...],
    ancestors: set[tuple[int, int]],
    found: Found,
    extra_tags: tuple[str, ...],
    tags_from_folders: bool,
) -> None:
    try:
        with os.scandir(folder) as listing:
            entries = sorted(listing, key=lambda entry: entry.name)
    except OSError as exc:
        found.problems.append(Problem(folder, f"unreadable folder: {exc.strerror or exc}"))
        return
    for entry in entries:
        path = Path(entry.path)
        if entry.name.startswith("."):
            found.hidden += 1
            continue
        try:
            info = entry.stat()  # follows links
        except OSError as exc:
            reason = "broken symbolic link" if entry.is_symlink() else f"unreadable: {exc.strerror or exc}"
            found.problems.append(Problem(path, reason))
            continue
        if entry.is_dir():
            key = (info.st_dev, info.st_ino)
            if key in ancestors:
                found.problems.append(Problem(path, "symbolic link loop: it leads back into a folder being imported"))
                continue
            tags = folder_tags + ((folder_tag(entry.name),) if tags_from_folders else ())
            _walk(path, tuple(t for t in tags if t), ancestors | {key}, found, extra_tags, tags_from_folders)
        elif entry.name.endswith(SIDECAR_SUFFIX):
            continue
        elif not stat.S_ISREG(info.st_mode):
            found.problems.append(Problem(path, _NOT_REGULAR))
        else:
            found.files.append(Candidate(path, _merge(extra_tags, folder_tags, sidecar_tags(path))))
