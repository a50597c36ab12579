"""Hatch build hook: a wheel carries the built web UI as `reactbin/ui_dist`.

`pip install .`, `pip wheel .` and `python -m build` run `npm ci && npm run build` in ui/ (skipped when ui/dist is
newer than every UI source, as `make ui` does). Without npm the build stops with one line that says so. Editable
installs skip this: they serve ui/dist from the repository.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

UI_SOURCES = ("src", "public", "index.html", "package.json", "package-lock.json", "vite.config.ts", "tsconfig.json")


class UiBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel" or version == "editable":
            return
        ui = Path(self.root) / "ui"
        dist = ui / "dist"
        if not _up_to_date(ui, dist):
            npm = shutil.which("npm")
            if npm is None:
                sys.exit("reactbin: building the wheel needs npm (Node.js 20+) to build the web UI in ui/; install it")
            for command in ([npm, "ci", "--no-audit", "--no-fund"], [npm, "run", "build"]):
                done = subprocess.run(command, cwd=ui, check=False, stdout=sys.stderr)  # noqa: S603
                if done.returncode != 0:
                    sys.exit(f"reactbin: `{' '.join(command[1:])}` failed in ui/ (exit {done.returncode})")
        build_data["force_include"][str(dist)] = "reactbin/ui_dist"


def _up_to_date(ui: Path, dist: Path) -> bool:
    index = dist / "index.html"
    if not index.is_file():
        return False
    newest = 0.0
    for name in UI_SOURCES:
        path = ui / name
        files = path.rglob("*") if path.is_dir() else [path] if path.exists() else []
        newest = max([newest, *(f.stat().st_mtime for f in files if f.is_file())])
    return index.stat().st_mtime >= newest
