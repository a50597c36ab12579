"""Refresh docs/screenshots: runs the screenshot test with SCREENSHOT_DIR pointing there.

Usage (from the repository root): .venv/bin/python ui/scripts/screenshots.py
"""

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

if __name__ == "__main__":
    env = {**os.environ, "SCREENSHOT_DIR": str(REPO / "docs" / "screenshots")}
    command = [sys.executable, "-m", "pytest", "-q", "tests/e2e/test_screenshots.py"]
    raise SystemExit(subprocess.call(command, cwd=REPO, env=env))
