"""The checkout holds what the layout says and nothing a test or a shell left behind."""

from __future__ import annotations

import subprocess

import pytest

from tests.conftest import REPO, untracked_files

# The top level the product owner fixed (README "Architecture"), plus the operational files.
TOP_LEVEL = {
    ".ci",
    ".dockerignore",
    ".gitignore",
    "Dockerfile",
    "Makefile",
    "README.md",
    "bench",
    "compose.yaml",
    "config",
    "deploy",
    "docs",
    "hatch_build.py",
    "migrations",
    "pyproject.toml",
    "src",
    "tests",
    "ui",
}


def test_only_known_entries_are_committed_at_the_top_level() -> None:
    """A stray `pid2` (a shell's `echo $! > pid2`) was once committed with everything else."""
    done = subprocess.run(["git", "-C", str(REPO), "ls-files"], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip("not a git checkout")
    top = {path.split("/", 1)[0] for path in done.stdout.splitlines()}
    assert top <= TOP_LEVEL, sorted(top - TOP_LEVEL)


def test_stray_files_are_noticed() -> None:
    before = untracked_files(REPO)
    if before is None:
        pytest.skip("not a git checkout")
    stray = REPO / "pid-stray-check"
    stray.write_text("2476\n")
    try:
        assert "pid-stray-check" in (untracked_files(REPO) or set())
    finally:
        stray.unlink()
