"""The wheel an operator installs: built from the repository (the hatch hook puts the UI in it), installed into a
fresh virtual environment (not editable), migrated and served from there, and the real UI loads in Chromium.

To stay fast the fresh venv gets only the wheel (`--no-deps`); its dependencies come from this project's venv
through a `.pth` line. Only the lines of a `.pth` file are added to `sys.path`, the `.pth` files they point at are
not run, so the project's editable install (a `.pth` of its own) cannot shadow the wheel.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, expect

from tests.conftest import S3Server
from tests.e2e.conftest import REPO, browser_session
from tests.support.live import Server, run_server


def _run(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False, **kwargs)  # type: ignore[call-overload]
    assert done.returncode == 0, f"{' '.join(command)}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def wheel(ui_dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(out), str(REPO)])
    (built,) = out.glob("reactbin-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv holding the wheel; returns its `reactbin` command."""
    venv = tmp_path_factory.mktemp("venv") / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    python = venv / "bin" / "python"
    site = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"]).stdout.strip())
    (site / "project-deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", str(wheel)])
    return venv / "bin" / "reactbin"


def test_the_wheel_carries_the_built_ui_and_the_migrations(wheel: Path, ui_dist: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert "reactbin/ui_dist/index.html" in names
    built_assets = {path.name for path in (ui_dist / "assets").iterdir()}
    assert built_assets
    assert built_assets <= {Path(name).name for name in names if name.startswith("reactbin/ui_dist/")}
    assert any(name.startswith("reactbin/_migrations/0001_") for name in names)


@pytest.fixture(scope="module")
def served(
    installed: Path, database_url: str, s3_server: S3Server, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    elsewhere = tmp_path_factory.mktemp("operator")  # not the repository: nothing can come from the source tree
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UI_DIR", "PYTHONPATH"))}
    done = _run([str(installed), "migrate"], cwd=elsewhere, env=env | {"DATABASE_URL": database_url})
    assert "migration" in done.stdout
    with run_server(database_url, s3_server, None, elsewhere, reactbin=installed, cwd=elsewhere) as server:
        yield server


def test_the_installed_package_is_the_wheel_not_the_source(installed: Path) -> None:
    python = installed.parent / "python"
    where = _run([str(python), "-c", "import reactbin; print(reactbin.__file__)"]).stdout.strip()
    assert str(installed.parents[1]) in where
    assert str(REPO / "src") not in where


async def test_the_installed_wheel_serves_the_real_ui(served: Server, browser: Browser) -> None:
    async with httpx.AsyncClient(base_url=served.url) as http:
        page = await http.get("/")
        assets = re.findall(r'(?:src|href)="(/assets/[^"]+)"', page.text)
        responses = [await http.get(asset) for asset in assets]
    assert page.status_code == 200
    assert assets, page.text[:500]
    for response in responses:
        assert response.status_code == 200
        assert "immutable" in response.headers["cache-control"]
    async with browser_session(browser, served.url) as session:
        await session.page.goto("/")
        await expect(session.page.get_by_role("link", name="reactbin, all images")).to_be_visible()
        assert "has not been built" not in await session.page.content()


def test_without_npm_the_wheel_build_stops_with_one_clear_line(tmp_path: Path) -> None:
    source = tmp_path / "reactbin"
    source.mkdir()
    for name in ("pyproject.toml", "hatch_build.py", "README.md"):
        shutil.copy(REPO / name, source / name)
    for name in ("src", "migrations"):
        shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "ui_dist"))
    shutil.copytree(REPO / "ui", source / "ui", ignore=shutil.ignore_patterns("node_modules", "dist"))
    no_node = {**os.environ, "PATH": str(Path(sys.executable).parent)}

    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp_path), str(source)],
        capture_output=True,
        text=True,
        timeout=120,
        env=no_node,
        check=False,
    )

    assert done.returncode != 0
    assert "reactbin: building the wheel needs npm" in done.stdout + done.stderr
    assert not list(tmp_path.glob("*.whl"))
