"""The processes a test started, seen in /proc (children, the OCR processes among them); waiting on a condition."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _parent_of(pid: int) -> int | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[1]) if fields[0] != "Z" else None


def descendants(pid: int) -> list[int]:
    """Every running process started by `pid`, its children's children included (what its cgroup would hold)."""
    pids = [int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit()]
    parents = {child: _parent_of(child) for child in pids}
    found: list[int] = []
    frontier = {pid}
    while frontier:
        children = {child for child, parent in parents.items() if parent in frontier}
        found.extend(sorted(children))
        frontier = children
    return found


def ocr_processes(pid: int) -> list[int]:
    """The OCR processes (`media.ocr.CaptionReader`: a multiprocessing spawn child) under `pid`."""
    found = []
    for child in descendants(pid):
        try:
            command = Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            continue
        if b"spawn_main" in command and b"resource_tracker" not in command:
            found.append(child)
    return found


async def wait_for(condition: Callable[[], Any], timeout: float, what: str = "the condition") -> Any:
    """Poll `condition` (a function, or a coroutine function) until it returns something truthy, and return that;
    fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        assert time.monotonic() < deadline, f"{what}: not reached after {timeout} s"
        await asyncio.sleep(0.02)
