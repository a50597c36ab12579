"""Per-process temp directories (`reactbin.scratch`): named by pid and start time, swept once their process is gone."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from reactbin import scratch


@pytest.fixture
def temp_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A TMPDIR of the test's own, and no per-process directory chosen yet."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(scratch, "_own", None)
    return tmp_path


def sleeper() -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])


def dir_of(root: Path, pid: int, ticks: int | None) -> Path:
    path = root / "reactbin" / f"{pid}-{ticks}"
    path.mkdir(parents=True)
    (path / "reactbin-upload-x").write_bytes(b"left behind")
    return path


def test_a_process_keeps_its_files_in_a_private_directory_named_after_it(temp_root: Path) -> None:
    own = scratch.process_dir()

    assert own == temp_root / "reactbin" / f"{os.getpid()}-{scratch.start_ticks(os.getpid())}"
    assert (own.stat().st_mode & 0o777, own.parent.stat().st_mode & 0o777) == (0o700, 0o700)
    own.rmdir()  # a temp cleaner removed it: the next use makes it again
    assert scratch.process_dir() == own
    assert own.is_dir()


def test_the_sweep_removes_what_dead_processes_left_and_nothing_else(temp_root: Path) -> None:
    own = scratch.process_dir()
    live, dead = sleeper(), sleeper()
    try:
        live_dir = dir_of(temp_root, live.pid, scratch.start_ticks(live.pid))
        dead_dir = dir_of(temp_root, dead.pid, scratch.start_ticks(dead.pid))
        # The pid of a running process, but another start time: a dead process whose pid was given out again.
        reused_dir = dir_of(temp_root, live.pid, (scratch.start_ticks(live.pid) or 0) - 1)
        dead.kill()
        dead.wait()
        (temp_root / "reactbin" / "not-a-process-dir").mkdir()

        removed = scratch.sweep()

        assert sorted(removed) == sorted([dead_dir, reused_dir])
        assert live_dir.is_dir()
        assert (live_dir / "reactbin-upload-x").read_bytes() == b"left behind"
        assert own.is_dir()
        assert (temp_root / "reactbin" / "not-a-process-dir").is_dir()
    finally:
        for process in (live, dead):
            process.kill()
            process.wait()


def test_a_zombie_counts_as_gone(temp_root: Path) -> None:
    zombie = subprocess.Popen([sys.executable, "-c", "pass"])
    ticks = scratch.start_ticks(zombie.pid)
    try:
        os.waitid(os.P_PID, zombie.pid, os.WEXITED | os.WNOWAIT)  # ended, not yet reaped
        left = dir_of(temp_root, zombie.pid, ticks)

        assert scratch.sweep() == [left]
    finally:
        zombie.wait()


def test_a_root_someone_else_controls_is_never_used(temp_root: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    (temp_root / "reactbin").symlink_to(elsewhere)  # e.g. planted by another user of a shared /tmp

    own = scratch.process_dir()

    assert own.parent == temp_root / f"reactbin-{os.getuid()}"
    assert list(elsewhere.iterdir()) == []
