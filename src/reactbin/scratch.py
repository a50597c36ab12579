"""Where a process keeps its temp files: one directory of its own, `$TMPDIR/reactbin/<pid>-<start>/`, and the sweep
that removes the directories of processes that no longer run.

A process killed with SIGKILL (a crash loop, the OOM killer, `docker kill`) runs no clean-up, so the upload spools
and OCR inputs it had open would stay on disk forever. With every process's temp files under a directory named
after it, the next process to start removes what dead ones left (`sweep`, run when resources open). A pid alone
does not say that a process is gone (pids are reused), so the name carries the process's start time as well
(`/proc/<pid>/stat`, clock ticks since boot): a directory is swept only when no running process has both. That
holds with any number of processes and replicas sharing one machine's temp directory, as long as they share its
process table too (a TMPDIR shared between containers with separate pid namespaces would look dead to each other).
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import shutil
import stat
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)

_NAME = re.compile(r"(\d+)-(\d+)")
_own: tuple[int, Path] | None = None


def root() -> Path:
    """`$TMPDIR/reactbin`, created private to this user; `$TMPDIR/reactbin-<uid>` when another user owns the first.

    Raises:
        OSError: neither is a directory of this user's (e.g. something else squats both names).
    """
    base = Path(tempfile.gettempdir())
    for candidate in (base / "reactbin", base / f"reactbin-{os.getuid()}"):
        try:
            candidate.mkdir(mode=0o700, exist_ok=True)
            info = candidate.lstat()
        except OSError:
            continue
        # A symlink or someone else's directory in a shared /tmp must never receive our files (or our sweeps).
        if stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and not info.st_mode & stat.S_IWOTH:
            return candidate
    raise OSError(f"no private temp directory for reactbin under {base}")


def start_ticks(pid: int) -> int | None:
    """When process `pid` started (clock ticks since boot), or None when no such process runs (a zombie has
    ended: it only waits to be reaped)."""
    try:
        stat_line = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces or parentheses itself.
    fields = stat_line.rsplit(")", 1)[-1].split()
    if len(fields) < 20 or fields[0] in ("Z", "X"):
        return None
    return int(fields[19])


def process_dir() -> Path:
    """This process's temp directory, made on first use (and again if something removed it meanwhile)."""
    global _own
    pid = os.getpid()
    if _own is None or _own[0] != pid:
        path = root() / f"{pid}-{start_ticks(pid) or 0}"
        # Same pid and start time as a process before a reboot: whatever that one left is not ours to keep.
        shutil.rmtree(path, ignore_errors=True)
        _own = (pid, path)
        atexit.register(_remove_own, pid, path)
    path = _own[1]
    try:
        path.mkdir(mode=0o700, exist_ok=True)
    except FileNotFoundError:  # a temp cleaner removed the root too: make it private again
        root()
        path.mkdir(mode=0o700, exist_ok=True)
    return path


def sweep() -> list[Path]:
    """Remove the temp directories of processes that no longer run; return them. Safe beside other processes
    sweeping at the same moment, and never touches a directory whose process still runs."""
    try:
        directory = root()
    except OSError:
        log.warning("no private temp directory; temp files of dead processes are not swept", exc_info=True)
        return []
    own = _own[1] if _own is not None and _own[0] == os.getpid() else None
    removed: list[Path] = []
    for entry in directory.iterdir():
        match = _NAME.fullmatch(entry.name)
        if match is None or entry == own:
            continue
        pid, ticks = int(match[1]), int(match[2])
        if _runs(pid, ticks):
            continue
        shutil.rmtree(entry, ignore_errors=True)
        removed.append(entry)
    if removed:
        log.info("removed the temp files of %d process(es) that no longer run", len(removed))
    return removed


def _runs(pid: int, ticks: int) -> bool:
    started = start_ticks(pid)
    if started is not None:
        return started == ticks
    if Path("/proc/self/stat").exists():
        return False
    # No /proc (not Linux): a pid that exists is assumed to be the same process.
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_own(pid: int, path: Path) -> None:
    # atexit handlers are inherited by forked children; only the process that made the directory removes it.
    if os.getpid() == pid:
        shutil.rmtree(path, ignore_errors=True)
