"""OCR on generated memes: the pure functions, and the OCR process with its time limit (real model, real files)."""

from __future__ import annotations

import io
import os
import signal
import threading
import time
from pathlib import Path

import pytest
from PIL import Image

from reactbin.media.ocr import (
    CaptionReader,
    OcrCrashed,
    OcrFailed,
    OcrTimeout,
    compact,
    merge_lines,
    sample_frames,
)
from tests.conftest import MEDIA
from tests.fixtures import memes

MAX_PIXELS = 64_000_000


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Why not both?", "whynotboth"),
        ("WHYNOTBOTH", "whynotboth"),
        ("  this   is\nfine ", "thisisfine"),
        ("Déjà vu", "dejavu"),
        ("I'm in danger!", "imindanger"),
        ("100% _ok_", "100ok"),
        ("", ""),
    ],
)
def test_compact_form(text: str, expected: str) -> None:
    assert compact(text) == expected


@pytest.mark.parametrize(
    ("frames", "expected"),
    [
        ([["WHY NOT BOTH"]], ["WHY NOT BOTH"]),
        ([["TOP"], ["TOP"], ["TOP"]], ["TOP"]),
        ([[], ["WHY NOT"], ["WHY NOT BOTH"]], ["WHY NOT BOTH"]),
        ([["WHYNOTBOTH"], ["why not both?"]], ["WHYNOTBOTH"]),
        ([["NO ONE:", "ABSOLUTELY NO ONE:"]], ["NO ONE:", "ABSOLUTELY NO ONE:"]),
        ([["FIRST"], ["SECOND"]], ["FIRST", "SECOND"]),
        ([["", "..."]], []),
    ],
)
def test_frames_are_merged_in_order_without_repeats(frames: list[list[str]], expected: list[str]) -> None:
    assert merge_lines(frames) == expected


@pytest.mark.parametrize(("frames", "count", "expected"), [(6, 3, 3), (2, 3, 2), (1, 3, 1), (9, 1, 1), (9, 5, 5)])
def test_sample_frames_spreads_over_the_animation(tmp_path: Path, frames: int, count: int, expected: int) -> None:
    colours = [(i * 25, 0, 0) for i in range(frames)]
    sequence = [Image.new("RGB", (40, 30), colour) for colour in colours]
    path = tmp_path / "a.gif"
    sequence[0].save(path, save_all=True, append_images=sequence[1:], duration=50, loop=0)

    sampled = [frame.getpixel((0, 0)) for frame in sample_frames(path, "image/gif", count, MAX_PIXELS)]

    assert len(sampled) == expected
    assert sampled[0] == colours[0]
    if expected > 1:
        assert sampled[-1] == colours[-1]  # the last frame, where captions of a reveal end up


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


# A spread of fonts, outlined/plain text, light/busy backgrounds and 1-3 lines.
SAMPLE = [memes.memes()[i] for i in (3, 5, 22, 45)]
LIGHT = memes.memes()[2]  # two lines on a light background: animations of it encode small and fast


@pytest.mark.parametrize("meme", SAMPLE, ids=lambda meme: meme.filename)
def test_reads_the_caption_of_a_meme(caption_reader: CaptionReader, tmp_path: Path, meme: memes.Meme) -> None:
    path = _write(tmp_path, meme.filename, memes.png_bytes(meme))

    caption = caption_reader.read(path, "image/png", timeout=60)

    assert compact(meme.caption) in compact(caption.text), caption.text
    assert caption.frames == 1


@pytest.mark.parametrize(("fmt", "mime_type"), [("GIF", "image/gif"), ("WEBP", "image/webp")])
def test_animation_captions_come_from_sampled_frames(
    caption_reader: CaptionReader, tmp_path: Path, fmt: str, mime_type: str
) -> None:
    meme = LIGHT  # two lines; shown only in the second half of the animation
    path = _write(tmp_path, f"anim.{fmt.lower()}", memes.animated_bytes(meme, fmt=fmt, frames=4))

    caption = caption_reader.read(path, mime_type, timeout=60)

    assert caption.frames == 3
    assert compact(meme.caption) == compact(caption.text), caption.text
    assert caption.text.count("\n") == 1  # each line once, though two sampled frames show it


def test_an_image_without_text_has_an_empty_caption(caption_reader: CaptionReader, tmp_path: Path) -> None:
    out = io.BytesIO()
    Image.new("RGB", (500, 400), (120, 160, 200)).save(out, "PNG")
    path = _write(tmp_path, "blank.png", out.getvalue())

    assert caption_reader.read(path, "image/png", timeout=60).text == ""


def _truncated(data: bytes, fraction: float) -> bytes:
    return data[: int(len(data) * fraction)]


BAD_FILES = [
    ("corrupt-frame.gif", lambda: _truncated(memes.animated_bytes(LIGHT, "GIF", frames=4), 0.8), "truncated"),
    ("corrupt-frame.webp", lambda: _truncated(memes.animated_bytes(LIGHT, "WEBP", frames=4), 0.8), "decode"),
    ("truncated.png", lambda: _truncated(memes.png_bytes(LIGHT), 0.5), "truncated"),
    ("not-an-image.png", lambda: b"just some text, not an image", "decode"),
    ("empty.png", lambda: b"", "decode"),
]


@pytest.mark.parametrize(("name", "make", "reason"), BAD_FILES, ids=[case[0] for case in BAD_FILES])
def test_unreadable_files_fail_cleanly(
    caption_reader: CaptionReader, tmp_path: Path, name: str, make: object, reason: str
) -> None:
    assert callable(make)
    path = _write(tmp_path, name, make())

    with pytest.raises(OcrFailed, match=reason):
        caption_reader.read(path, "image/gif", timeout=60)


def test_the_ocr_process_reads_on_after_a_bad_file(caption_reader: CaptionReader, tmp_path: Path) -> None:
    with pytest.raises(OcrFailed):
        caption_reader.read(_write(tmp_path, "bad.gif", b"GIF89a broken"), "image/gif", timeout=60)
    good = _write(tmp_path, "good.png", memes.png_bytes(memes.memes()[0]))
    assert compact("why not both") in compact(caption_reader.read(good, "image/png", timeout=60).text)


def test_too_many_pixels_fail_before_decoding(tmp_path: Path) -> None:
    path = _write(tmp_path, "big.png", memes.png_bytes(memes.memes()[0]))

    with pytest.raises(OcrFailed, match="more pixels than allowed"):
        list(sample_frames(path, "image/png", 3, max_pixels=1000))


def test_a_read_past_its_time_limit_is_stopped_and_the_next_one_works(tmp_path: Path) -> None:
    # Its own process: a timeout kills the process, and the session's shared one should stay warm.
    reader = CaptionReader(threads=1, frames=3, max_pixels=MAX_PIXELS)
    try:
        path = _write(tmp_path, "meme.png", memes.png_bytes(memes.memes()[0]))
        with pytest.raises(OcrTimeout):
            reader.read(path, "image/png", timeout=0.001)
        assert compact("why not both") in compact(reader.read(path, "image/png", timeout=60).text)
        assert reader.peak_rss_bytes > 50 * 1024 * 1024  # the model is loaded in the child, not here
    finally:
        reader.close()


def _at_birth(reader: CaptionReader, *signals: signal.Signals) -> tuple[threading.Thread, list[int]]:
    """A thread that sends `signals` to the reader's next OCR process the moment it exists (its model still loading)."""
    born: list[int] = []

    def watch() -> None:
        deadline = time.monotonic() + 30
        while (pid := reader.pid) is None:
            assert time.monotonic() < deadline, "no OCR process started"
            time.sleep(0.001)
        for signum in signals:
            os.kill(pid, signum)
        born.append(pid)

    thread = threading.Thread(target=watch)
    thread.start()
    return thread, born


def test_the_ocr_process_ignores_the_services_stop_signals_and_a_kill_is_a_crash(tmp_path: Path) -> None:
    """`systemctl stop` signals every process of the service, a terminal's Ctrl-C its whole process group: the OCR
    process lives on, from its first instant, in a group of its own, so that its worker decides what a stop means.
    A kill (the OOM killer, which is asked to pick it first) is a crash that says so."""
    reader = CaptionReader(threads=1, frames=3, max_pixels=MAX_PIXELS)
    path = _write(tmp_path, "meme.png", memes.png_bytes(memes.memes()[0]))
    try:
        watcher, born = _at_birth(reader, signal.SIGTERM, signal.SIGINT)
        caption = reader.read(path, "image/png", timeout=60)
        watcher.join()
        survivor = reader.pid
        assert survivor is not None
        assert born == [survivor]  # the read was done by the process that got the signals
        assert compact("why not both") in compact(caption.text)
        assert os.getpgid(survivor) == survivor != os.getpgid(0)
        assert Path(f"/proc/{survivor}/oom_score_adj").read_text().strip() == "1000"

        reader.close()
        watcher, born = _at_birth(reader, signal.SIGKILL)
        with pytest.raises(OcrCrashed, match=r"the OCR process died \(killed by SIGKILL\)"):
            reader.read(path, "image/png", timeout=60)
        watcher.join()
    finally:
        reader.close()


def test_a_video_is_read_from_frames_sampled_by_media_frames(caption_reader: CaptionReader) -> None:
    clip = MEDIA / "h264-sound.mp4"

    caption = caption_reader.read(clip, "video/mp4", timeout=60)

    assert caption.frames == 3
