"""`reactbin import` and `reactbin export` as real subprocesses against a real `reactbin serve`."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from PIL import Image

from reactbin.transfer.progress import Progress
from reactbin.transfer.walk import folder_tag
from tests.conftest import FIXTURES, S3Server
from tests.support.live import Server, run_server

REACTBIN = str(Path(sys.executable).parent / "reactbin")
TOKEN = "transfer-test-token-0123456789"
UPLOAD_LIMIT = 150_000


def image_bytes(seed: int, size: tuple[int, int] = (48, 32), fmt: str = "PNG") -> bytes:
    """A small distinct image."""
    rng = random.Random(seed)
    image = Image.new("RGB", size, tuple(rng.randrange(256) for _ in range(3)))
    image.putpixel((seed % size[0], seed // size[0] % size[1]), (seed % 256, 7, 9))
    out = io.BytesIO()
    image.save(out, fmt)
    return out.getvalue()


def run_cli(*args: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [REACTBIN, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, **env},
    )


def summary_line(stdout: str) -> str:
    return stdout.splitlines()[0]


def build_tree(root: Path) -> dict[str, Any]:
    """Nested folders with sidecars, a duplicate, a GPS photo and every kind of reject; what each should become."""
    (root / "Cats" / "smug").mkdir(parents=True)
    (root / "dogs").mkdir()
    (root / "Old Stuff (2019)").mkdir()
    (root / ".hidden").mkdir()
    (root / "Cats" / "smug" / "a.png").write_bytes(image_bytes(1))
    (root / "Cats" / "b.jpg").write_bytes(image_bytes(2, fmt="JPEG"))
    (root / "Cats" / "b.tags.txt").write_text("funny, friday\n# a comment\nlol\n")
    (root / "dogs" / "c.png").write_bytes(image_bytes(3))
    (root / "zz-copy.png").write_bytes(image_bytes(3))  # the same bytes as dogs/c.png: a duplicate
    (root / "Old Stuff (2019)" / "d.gif").write_bytes(image_bytes(4, fmt="GIF"))
    (root / "Old Stuff (2019)" / "d.gif.tags.txt").write_text("classic")
    (root / "gps.jpg").write_bytes((FIXTURES / "gps.jpg").read_bytes())
    (root / ".hidden" / "secret.png").write_bytes(image_bytes(5))
    # Rejects.
    (root / "empty.png").write_bytes(b"")
    (root / "notes.txt").write_bytes((FIXTURES / "not-an-image.txt").read_bytes())
    (root / "truncated.jpg").write_bytes((FIXTURES / "truncated.jpg").read_bytes())
    (root / "big.png").write_bytes(image_bytes(6, size=(8, 8)) + os.urandom(UPLOAD_LIMIT))
    (root / "dangling.png").symlink_to(root / "nowhere.png")
    (root / "dogs" / "loop").symlink_to(root)
    os.mkfifo(root / "pipe.png")  # reading it would block forever
    return {
        "tags": {
            "a.png": ["cats", "smug"],
            "b.jpg": ["cats", "friday", "funny", "lol"],
            "c.png": ["dogs"],
            "d.gif": ["classic", "old-stuff-2019"],
            "gps.jpg": [],
        },
        "rejected": {
            "empty.png": "empty_file",
            "notes.txt": "unsupported_media_type",
            "truncated.jpg": "invalid_image",
            "big.png": "file_too_large",
            "dangling.png": "broken symbolic link",
            "loop": "symbolic link loop",
            "pipe.png": "not a regular file",
        },
    }


@pytest.fixture(scope="module")
def server(database_url: str, s3_server: S3Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    env = {"MAX_UPLOAD_BYTES": str(UPLOAD_LIMIT), "ACCESS_LOG": "true"}
    with run_server(database_url, s3_server, None, tmp_path_factory.mktemp("transfer"), extra_env=env) as running:
        yield running


async def library(server: Server) -> dict[str, dict[str, Any]]:
    """Every image of the server by filename."""
    items = (await server.get("/images?limit=200")).json()["items"]
    return {item["filename"]: item for item in items}


def uploads_logged(server: Server) -> int:
    # The app's access line: `POST /api/v1/images 201 12.3 ms` (with LOG_FORMAT=json, inside the message).
    return len(re.findall(r"POST /api/v1/images \d{3} ", server.log.read_text(errors="replace")))


async def test_import_a_tree_then_rerun_sends_nothing_twice(server: Server, tmp_path: Path) -> None:
    await server.reset()
    root = tmp_path / "reactions"
    expected = build_tree(root)

    first = run_cli("import", str(root), "--tags-from-folders", "--jobs", "3", "--server", server.url)

    assert first.returncode == 1, first.stderr
    assert summary_line(first.stdout).startswith("imported 5, duplicates 1, rejected 7 of 13 file(s)")
    rejected = {line.strip().split(": ", 1)[0]: line for line in first.stdout.splitlines() if line.startswith("  ")}
    for name, reason in expected["rejected"].items():
        line = next(text for path, text in rejected.items() if path.endswith("/" + name))
        assert reason in line, line
    assert "left out 1 hidden" in first.stderr
    # Not a terminal: plain progress lines with count, rate and time left, the last one complete.
    assert re.search(r"^\[13/13\] 100% +[\d.]+ files/s  ETA 0s", first.stderr, re.MULTILINE), first.stderr
    images = await library(server)
    assert {name: image["tags"] for name, image in images.items()} == expected["tags"]
    posted = uploads_logged(server)

    second = run_cli("import", str(root), "--tags-from-folders", "--jobs", "3", "--server", server.url)

    assert second.returncode == 1  # the rejects are still rejects
    assert summary_line(second.stdout).startswith("imported 0, duplicates 6, rejected 7 of 13 file(s)")
    assert await library(server) == images
    # Known files (gps.jpg too, whose stored bytes differ from the file) were never sent again. Of the rejects,
    # empty.png and big.png are refused locally (from GET /limits); notes.txt and truncated.jpg need the server.
    assert uploads_logged(server) - posted == 2


async def test_export_and_restore_into_an_empty_instance(
    server: Server, database_url: str, s3_server: S3Server, tmp_path: Path
) -> None:
    await server.reset()
    root = tmp_path / "reactions"
    build_tree(root)
    assert run_cli("import", str(root), "--tags-from-folders", "--server", server.url).returncode == 1
    before = await library(server)
    export = tmp_path / "export"

    exported = run_cli("export", str(export), "--server", server.url)

    assert exported.returncode == 0, exported.stderr
    manifest = json.loads((export / "manifest.json").read_text())
    assert manifest["format"] == "reactbin-export"
    assert {entry["filename"] for entry in manifest["images"]} == set(before)
    for entry in manifest["images"]:
        assert set(entry) >= {"id", "hash", "filename", "tags", "created_at", "path"}
        data = (export / entry["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["hash"] == before[entry["filename"]]["hash"]
        assert entry["tags"] == before[entry["filename"]]["tags"]
    again = run_cli("export", str(export), "--server", server.url)
    assert "0 downloaded, 5 already there" in again.stdout

    # A caption text in the manifest is sent after the file; a server without captions is reported, not failed.
    manifest["images"][0]["text"] = "THIS IS FINE"
    (export / "manifest.json").write_text(json.dumps(manifest))
    captioned = manifest["images"][0]["filename"]

    # An empty instance: a new bucket and an empty database.
    await server.reset()
    (tmp_path / "logs-restore").mkdir()
    with run_server(database_url, s3_server, None, tmp_path / "logs-restore") as fresh:
        restored = run_cli("import", "--manifest", str(export / "manifest.json"), "--jobs", "1", "--server", fresh.url)
        assert restored.returncode == 0, restored.stdout + restored.stderr
        assert summary_line(restored.stdout).startswith("imported 5, duplicates 0, rejected 0 of 5 file(s)")
        after = await library(fresh)
    assert set(after) == set(before)
    assert after[captioned].get("text") == "THIS IS FINE" or (
        f"{captioned}: caption text not restored: this server has no caption text"
        in restored.stdout.replace(str(export / manifest["images"][0]["path"]), captioned)
    )
    for name, image in before.items():
        assert (after[name]["hash"], after[name]["tags"], after[name]["mime_type"]) == (
            image["hash"],
            image["tags"],
            image["mime_type"],
        )

    # The library keeps its order: created_at is the new server's own, but the oldest were imported first.
    def order(images: dict[str, dict[str, Any]]) -> list[str]:
        return [image["filename"] for image in sorted(images.values(), key=lambda image: image["created_at"])]

    assert order(after) == order(before)


def test_manifest_that_does_not_match_its_files_is_reported(server: Server, tmp_path: Path) -> None:
    export = tmp_path / "export"
    (export / "files").mkdir(parents=True)
    (export / "files" / "x.png").write_bytes(image_bytes(40))
    entries = [
        {"id": "1", "hash": "0" * 64, "filename": "x.png", "tags": [], "created_at": "1", "path": "files/x.png"},
        {"id": "2", "hash": "1" * 64, "filename": "y.png", "tags": [], "created_at": "2", "path": "../../etc/passwd"},
    ]
    manifest = export / "manifest.json"
    manifest.write_text(json.dumps({"format": "reactbin-export", "version": 1, "images": entries}))

    result = run_cli("import", "--manifest", str(manifest), "--server", server.url)

    assert result.returncode == 1
    assert "does not match the manifest" in result.stdout
    assert "outside the export" in result.stdout
    not_a_manifest = run_cli("import", "--manifest", str(export / "files" / "x.png"), "--server", server.url)
    assert not_a_manifest.returncode == 2
    assert "manifest" in not_a_manifest.stderr


async def test_wrong_or_missing_token_stops_before_anything_is_sent(
    database_url: str, s3_server: S3Server, tmp_path: Path
) -> None:
    root = tmp_path / "reactions"
    root.mkdir()
    for seed in range(6):
        (root / f"{seed}.png").write_bytes(image_bytes(100 + seed))
    # A tight upload rate limit too: the import waits it out instead of failing files.
    env = {"API_TOKENS": TOKEN, "RATE_LIMIT_UPLOADS": "2/second"}
    with run_server(database_url, s3_server, None, tmp_path, extra_env=env) as server:
        await server.reset()
        wrong = run_cli("import", str(root), "--server", server.url, "--token", "not-the-token-at-all")
        missing = run_cli("import", str(root), "--server", server.url, REACTBIN_TOKEN="")
        right = run_cli("import", str(root), "--server", server.url, REACTBIN_TOKEN=TOKEN)
        count = len((await server.get("/images")).json()["items"])
    assert wrong.returncode == 2
    assert wrong.stderr.strip().splitlines() == [
        f"reactbin import: {server.url} refused the write token; nothing was imported"
    ]
    assert missing.returncode == 2
    assert "needs a write token" in missing.stderr
    assert right.returncode == 0, right.stdout
    assert summary_line(right.stdout).startswith("imported 6, duplicates 0, rejected 0")
    assert "the server limits uploads" in right.stderr
    assert count == 6


def test_unreachable_server_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(image_bytes(7))
    result = run_cli("import", str(tmp_path), "--server", "http://127.0.0.1:9", timeout=30)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "reactbin import: cannot reach http://127.0.0.1:9: cannot connect to the server"
    ]


def many_files(root: Path, count: int) -> None:
    root.mkdir()
    for seed in range(count):
        (root / f"{seed:04d}.png").write_bytes(image_bytes(1000 + seed, size=(64, 64)))


async def wait_for_images(database_url: str, at_least: int, deadline: float = 30) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            count: int = await conn.fetchval("SELECT count(*) FROM images")
            if count >= at_least:
                return count
            await asyncio.sleep(0.01)
        pytest.fail(f"fewer than {at_least} images after {deadline} s")
    finally:
        await conn.close()


async def stored_consistently(server: Server) -> int:
    """Every image row has its original in storage: nothing half-imported. Returns the number of images."""
    items = (await server.get("/images?limit=200")).json()["items"]
    async with httpx.AsyncClient(base_url=server.api, timeout=30) as client:
        for item in items:
            assert (await client.head(f"/images/{item['id']}/file")).status_code == 200
    return len(items)


async def test_ctrl_c_stops_cleanly(server: Server, database_url: str, tmp_path: Path) -> None:
    await server.reset()
    root = tmp_path / "many"
    many_files(root, 300)
    process = subprocess.Popen(  # noqa: ASYNC220 - it runs on its own while the test watches the database
        [REACTBIN, "import", str(root), "--jobs", "1", "--server", server.url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    await wait_for_images(database_url, 5)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=30)

    assert process.returncode == 130, stderr
    assert "stopping" in stderr
    assert "Traceback" not in stderr
    first = summary_line(stdout)
    imported = int(first.split()[1].rstrip(","))
    assert "interrupted:" in stdout
    assert 5 <= imported < 300
    assert await stored_consistently(server) == imported


async def test_server_going_away_mid_run_reports_every_file(
    database_url: str, s3_server: S3Server, tmp_path: Path
) -> None:
    root = tmp_path / "many"
    many_files(root, 120)
    with run_server(database_url, s3_server, None, tmp_path) as server:
        await server.reset()
        process = subprocess.Popen(  # noqa: ASYNC220 - it runs on its own while the test watches the database
            [REACTBIN, "import", str(root), "--jobs", "2", "--server", server.url, "--timeout", "5"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        await wait_for_images(database_url, 5)
        os.killpg(server.process.pid, signal.SIGKILL)
        started = time.monotonic()
        stdout, stderr = process.communicate(timeout=60)
    assert time.monotonic() - started < 30
    assert process.returncode == 1, stderr
    first = summary_line(stdout)
    counts = [int(word.rstrip(",")) for word in first.split()[1:6:2]]
    assert sum(counts) == 120, first
    unreachable = [line for line in stdout.splitlines() if "not imported:" in line]
    assert len(unreachable) == counts[2] > 0


@pytest.mark.parametrize(
    ("folder", "tag"),
    [
        ("Cats", "cats"),
        ("Old Stuff (2019)", "old-stuff-2019"),
        ("  thumbs   up  ", "thumbs-up"),
        ("ünïcode Ok", "ünïcode-ok"),
        ("a/b", "a-b"),
        ("...", ""),
        ("x" * 80, "x" * 64),
        ("tag:cat.v2", "tag:cat.v2"),
    ],
)
def test_folder_names_become_tags(folder: str, tag: str) -> None:
    assert folder_tag(folder) == tag


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_on_a_terminal_is_one_updating_line() -> None:
    terminal = FakeTerminal()
    progress = Progress(3, terminal, interval=0)
    progress.advance("imported")
    progress.note("stopping: finishing the files in progress")
    progress.advance("rejected")
    progress.finish()
    out = terminal.getvalue()
    assert out.count("\n") == 2  # the note's own line, and the end of the progress line
    assert out.endswith("\n")
    last = out.rstrip("\n").rsplit("\r\x1b[K", 1)[-1]
    assert re.fullmatch(r"\[2/3\]  66% +[\d.]+ files/s  ETA \d+s  1 imported · 1 rejected", last), last


NASTY_NAMES = [
    '"><svg onload=alert(1)>.jpg',
    "50% off; a=b.png",
    "déjà vu 日本.png",
    'quote\'s "double".gif',
    "spaces  and\ttab.png",
]


async def test_restore_keeps_filenames_and_upload_times(
    server: Server, database_url: str, s3_server: S3Server, tmp_path: Path
) -> None:
    """`import --manifest` is lossless for filenames (no percent-encoding) and `created_at` (ids are new)."""
    await server.reset()
    source = tmp_path / "source"
    source.mkdir()
    for seed, name in enumerate(NASTY_NAMES):
        (source / name.replace("/", "_")).write_bytes(
            image_bytes(100 + seed, fmt="GIF" if name.endswith(".gif") else "PNG")
        )
    imported = run_cli("import", str(source), "--jobs", "1", "--server", server.url)
    assert imported.returncode == 0, imported.stdout + imported.stderr
    before = await library(server)
    assert set(before) == {name.replace("\t", "") for name in NASTY_NAMES}  # control characters are dropped
    export = tmp_path / "export"
    assert run_cli("export", str(export), "--server", server.url).returncode == 0

    await server.reset()
    (tmp_path / "logs-restore").mkdir()
    with run_server(database_url, s3_server, None, tmp_path / "logs-restore") as fresh:
        restored = run_cli("import", "--manifest", str(export / "manifest.json"), "--jobs", "2", "--server", fresh.url)
        assert restored.returncode == 0, restored.stdout + restored.stderr
        after = await library(fresh)
    assert set(after) == set(before)
    for name, image in before.items():
        assert after[name]["created_at"] == image["created_at"]
        assert after[name]["id"] != image["id"]  # ids are not kept (README)
