"""`reactbin dev`, the README's first command: embedded PostgreSQL, files under the data dir, data kept."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import fixture_bytes
from tests.support.live import free_port


def _start(data_dir: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "S3_", "STORAGE_"))}
    env["RATE_LIMIT_UPLOADS"] = "0"
    command = [str(Path(sys.executable).parent / "reactbin"), "dev", "--port", str(port), "--data-dir", str(data_dir)]
    with log.open("ab") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()[-3000:]
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/ready", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    process.kill()
    raise AssertionError(f"reactbin dev did not get ready:\n{log.read_text()[-3000:]}")


def _stop(process: subprocess.Popen[bytes]) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(30)


def test_dev_keeps_images_across_restarts_and_stops_its_database(tmp_path: Path) -> None:
    data_dir, log, port = tmp_path / "data", tmp_path / "dev.log", free_port()
    first = _start(data_dir, port, log)
    try:
        created = httpx.post(
            f"http://127.0.0.1:{port}/api/v1/images",
            files={"file": ("photo.jpg", fixture_bytes("photo.jpg"), "image/jpeg")},
            data={"tags": "kept"},
            timeout=30,
        )
    finally:
        first_exit = _stop(first)

    assert created.status_code == 201, created.text
    assert first_exit == 0
    assert not (data_dir / "postgres" / "postmaster.pid").exists()  # the embedded database stopped with it

    second = _start(data_dir, port, log)
    try:
        listed = httpx.get(f"http://127.0.0.1:{port}/api/v1/images", params={"tag": "kept"}, timeout=30).json()
        file = httpx.get(f"http://127.0.0.1:{port}{listed['items'][0]['file_url']}", timeout=30)
    finally:
        _stop(second)

    assert [item["id"] for item in listed["items"]] == [created.json()["id"]]
    assert file.content == fixture_bytes("photo.jpg")
    assert (data_dir / "objects" / created.json()["storage_key"]).is_file()
