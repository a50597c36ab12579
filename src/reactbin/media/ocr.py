"""Caption text (OCR): read the words in an image with rapidocr-onnxruntime, which carries its ONNX models.

`read_caption` is a pure function of a file and a loaded engine: stills are read once; animated GIF/WebP have a
few frames sampled (decoded one at a time) and their lines merged in order without repeats. `CaptionReader` runs
it in one child process per job worker, so the model is loaded once, lazily, never on an event loop and never in
an API process that runs no worker; a read that passes its time limit kills the child (the next read starts a
fresh one). rapidocr often drops the spaces of upper-case English (`WHYNOTBOTH`): the child puts them back
(`media/words.py`, `WHY NOT BOTH`), and search matches on `compact`, which is the same with or without them.

The child belongs to its worker, not to the service: a stop (`systemctl stop` signals every process of the
service, a terminal's Ctrl-C the whole process group) is the worker's to handle, which lets the read in progress
finish or hands the job back. So the child runs in a process group of its own and ignores SIGTERM and SIGINT from
its first instruction on; it ends when the worker closes it or goes away (its pipe closes). It also volunteers as
the OOM killer's first choice: an image that needs too much memory then costs the read, not the worker.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import resource
import signal
import threading
import time
import unicodedata
from collections.abc import Iterator
from multiprocessing import resource_tracker
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Protocol

import msgspec
from PIL import Image

from reactbin.errors import ImageTooLarge, InvalidImage, InvalidVideo, ReactbinError
from reactbin.media.frames import sample_frames as _sample_frames
from reactbin.media.words import default_segmenter, readable

_MIN_SCORE = 0.5
_ENGINE_OPTIONS: dict[str, Any] = {
    # Memes are upright: the 180° classifier costs time and finds nothing.
    "use_cls": False,
    # The default ("min", 736) scales a 500x400 image *up* to 920x736 before detection: 3-4x slower, no better.
    "det_limit_type": "max",
    "det_limit_side_len": 736,
}


class Engine(Protocol):
    def __call__(self, img_content: Image.Image) -> tuple[list[list[Any]] | None, Any]: ...


class OcrTimeout(Exception):
    """The read took longer than its time limit; the process doing it was stopped."""


class OcrFailed(Exception):
    """The file could not be read (a corrupt frame, an undecodable image): reading it again cannot help."""


class OcrCrashed(Exception):
    """The OCR process died during the read (killed, out of memory, a crash in native code) or could not start."""


class Caption(msgspec.Struct, frozen=True):
    text: str
    """Lines top to bottom, joined with newlines; empty when the image has no legible text."""
    frames: int
    seconds: float
    cpu_seconds: float
    """CPU time of the read, all threads together: its cost on a machine that other work shares."""


def compact(text: str) -> str:
    """The form captions are matched in: lower case, no accents, punctuation or spaces (`Why not both?` →
    `whynotboth`), because OCR drops the spaces between upper-case words."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if ch.isalnum())


def load_engine(threads: int) -> Engine:
    """The recogniser with its models loaded (about 1 s and 150 MiB); `threads` caps onnxruntime's threads."""
    import cv2
    from rapidocr_onnxruntime import RapidOCR
    from rapidocr_onnxruntime.utils import infer_engine

    cv2.setNumThreads(1)
    # onnxruntime keeps a memory plan per input shape ("mem pattern"); the recogniser sees a new width for
    # almost every text line, so the process grew by ~26 MiB every few images (484 MiB after the 48 memes of
    # the benchmark) for no speed-up. Without it the peak stayed at 278 MiB at the same CPU time per image.
    # rapidocr 1.4 builds its session options in this one static method (the version is pinned below 1.5).
    make_options = infer_engine.OrtInferSession._init_sess_opts

    def without_mem_pattern(config: dict[str, Any]) -> Any:
        options = make_options(config)
        options.enable_mem_pattern = False
        return options

    infer_engine.OrtInferSession._init_sess_opts = staticmethod(without_mem_pattern)
    engine: Engine = RapidOCR(intra_op_num_threads=threads, inter_op_num_threads=1, **_ENGINE_OPTIONS)
    return engine


def sample_frames(path: Path, mime_type: str, count: int, max_pixels: int) -> Iterator[Image.Image]:
    """Up to `count` frames spread evenly over an animation or video (`media.frames.sample_frames`), ready to read.

    Raises:
        OcrFailed: a frame has more than `max_pixels` pixels, or cannot be decoded.
    """
    try:
        yield from _sample_frames(path, mime_type, count, max_pixels)
    except ImageTooLarge as exc:
        raise OcrFailed(exc.detail) from exc
    except (InvalidImage, InvalidVideo) as exc:
        # The decoder's own words ("image file is truncated") say more about this file than our generic detail.
        raise OcrFailed(f"cannot decode the image: {exc.__cause__ or exc.detail}") from exc


def read_lines(engine: Engine, image: Image.Image) -> list[str]:
    """The text boxes of one RGB image, top to bottom and left to right (the recogniser's own order)."""
    result, _ = engine(image)
    lines: list[str] = []
    for _box, text, score in result or []:
        cleaned = " ".join(str(text).split())
        if cleaned and float(score) >= _MIN_SCORE:
            lines.append(cleaned)
    return lines


def merge_lines(frames: list[list[str]]) -> list[str]:
    """Every line of the first frame, then the lines of later frames that say something new, in order.

    A later line whose compact form is part of an earlier one is a repeat; an earlier line that is part of a
    later one (a caption still fading in) is replaced by the longer reading.
    """
    kept: list[str] = []
    for lines in frames:
        earlier = [compact(line) for line in kept]
        for line in lines:
            key = compact(line)
            if not key or any(key in other for other in earlier):
                continue
            grown = next((i for i, other in enumerate(earlier) if other and other in key), None)
            if grown is None:
                kept.append(line)
            else:
                kept[grown], earlier[grown] = line, ""
    return kept


def read_caption(engine: Engine, path: Path, mime_type: str, *, frames: int, max_pixels: int) -> Caption:
    """The caption of an image file: every line of text, animations merged over `frames` sampled frames.

    Raises:
        OcrFailed: the file cannot be decoded (a corrupt frame, not an image, too many pixels).
    """
    started, cpu_started = time.perf_counter(), time.process_time()
    Image.MAX_IMAGE_PIXELS = max_pixels
    per_frame: list[list[str]] = []
    try:
        for frame in sample_frames(path, mime_type, max(1, frames), max_pixels):
            per_frame.append(read_lines(engine, frame))
    except OcrFailed:
        raise
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError, ReactbinError) as exc:
        raise OcrFailed(f"cannot decode the image: {exc}") from exc
    if not per_frame:
        raise OcrFailed("the image has no frame to read")
    text = "\n".join(merge_lines(per_frame))
    return Caption(
        text=text,
        frames=len(per_frame),
        seconds=time.perf_counter() - started,
        cpu_seconds=time.process_time() - cpu_started,
    )


class CaptionReader:
    """`read_caption` in a child process that keeps the model loaded, with a time limit per read.

    Thread-safe: reads are serialised (the child uses `threads` cores for one image at a time); the time limit
    counts from when a read starts, not while it waits for another one to finish.
    """

    def __init__(self, *, threads: int, frames: int, max_pixels: int, start_timeout: float = 120.0) -> None:
        self.threads = threads
        self.frames = frames
        self.max_pixels = max_pixels
        self.start_timeout = start_timeout
        self.peak_rss_bytes = 0
        """The child's peak resident memory as last reported (the OCR job's RSS)."""
        self._lock = threading.Lock()
        self._process: multiprocessing.process.BaseProcess | None = None
        self._conn: Connection | None = None

    def read(self, path: Path, mime_type: str, timeout: float) -> Caption:
        """Read the caption of `path`; blocking, so call it from a thread.

        Raises:
            OcrTimeout: the read passed `timeout` seconds (the child is killed).
            OcrFailed: the file is unreadable.
            OcrCrashed: the child died during the read, or could not start.
        """
        with self._lock:
            conn = self._started()
            conn.send((str(path), mime_type, self.frames, self.max_pixels))
            if not conn.poll(timeout):
                self._kill()
                raise OcrTimeout(f"no text after {timeout:g} s")
            kind, value, rss = self._receive(conn)
            self.peak_rss_bytes = max(self.peak_rss_bytes, rss)
            if kind == "error":
                raise OcrFailed(str(value))
            return msgspec.convert(value, Caption)

    @property
    def pid(self) -> int | None:
        """The OCR process's id while one runs (it starts at the first read)."""
        process = self._process
        return process.pid if process is not None else None

    def close(self) -> None:
        """Stop the child (it is started again by the next read)."""
        with self._lock:
            if self._conn is not None:
                with contextlib.suppress(OSError):
                    self._conn.send(None)
            process = self._process
            if process is not None:
                process.join(timeout=2)
            self._kill()

    def _started(self) -> Connection:
        if self._conn is not None and self._process is not None and self._process.is_alive():
            return self._conn
        self._kill()
        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe()
        process = context.Process(target=_serve, args=(child, self.threads), name="reactbin-ocr", daemon=True)
        # The child inherits this thread's signal mask across fork and exec: with the stop signals blocked it
        # cannot die of one before `_serve` has set them to be ignored. multiprocessing starts its resource tracker
        # at the first spawn and unblocks SIGINT and SIGTERM after doing so, so that has to happen first.
        resource_tracker.ensure_running()
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
        try:
            process.start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        child.close()
        self._process, self._conn = process, parent
        if not parent.poll(self.start_timeout):
            self._kill()
            raise OcrCrashed(f"the OCR model did not load within {self.start_timeout:g} s")
        kind, value, rss = self._receive(parent)
        self.peak_rss_bytes = max(self.peak_rss_bytes, rss)
        if kind != "ready":
            self._kill()
            raise OcrCrashed(f"the OCR model did not load: {value}")
        return parent

    def _receive(self, conn: Connection) -> tuple[str, Any, int]:
        try:
            kind, value, rss = conn.recv()
        except (EOFError, OSError):
            # The pipe closed: the child is ending. Give it a moment, so that the exit it reports is its own.
            how = self._kill(grace=1.0)
            raise OcrCrashed(f"the OCR process died ({how})") from None
        return str(kind), value, int(rss)

    def _kill(self, grace: float = 0.0) -> str:
        """Stop the child if it still runs after `grace` seconds; say how it ended."""
        if self._conn is not None:
            self._conn.close()
        how = "not running"
        if self._process is not None:
            if grace:
                self._process.join(timeout=grace)
            if self._process.is_alive():
                self._process.kill()
            self._process.join(timeout=5)
            how = _exit_description(self._process.exitcode)
        self._process, self._conn = None, None
        return how


_STOP_SIGNALS = frozenset({signal.SIGTERM, signal.SIGINT})


def _exit_description(code: int | None) -> str:
    if code is None:
        return "still running"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def _peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _detach_from_the_service() -> None:
    """Make the service's stop signals the worker's business only, and offer this process to the OOM killer."""
    for signum in _STOP_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)  # blocked by the parent until now
    os.setpgrp()
    # Raising one's own score needs no privilege; under memory pressure the read dies, the worker lives on.
    with contextlib.suppress(OSError):
        Path("/proc/self/oom_score_adj").write_text("1000")


def _serve(conn: Connection, threads: int) -> None:
    """The child: load the model once, then answer read requests until told to stop or the parent goes."""
    _detach_from_the_service()
    try:
        engine = load_engine(threads)
    except Exception as exc:
        conn.send(("error", f"{type(exc).__name__}: {exc}", _peak_rss()))
        return
    # The word list for readable captions loads here too, once, beside the model (see media/words.py).
    default_segmenter()
    conn.send(("ready", None, _peak_rss()))
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            return
        if request is None:
            return
        path, mime_type, frames, max_pixels = request
        try:
            caption = read_caption(engine, Path(path), mime_type, frames=frames, max_pixels=max_pixels)
            caption = msgspec.structs.replace(caption, text=readable(caption.text))
        except Exception as exc:
            conn.send(
                ("error", f"{type(exc).__name__}: {exc}" if not isinstance(exc, OcrFailed) else str(exc), _peak_rss())
            )
        else:
            conn.send(("ok", msgspec.to_builtins(caption), _peak_rss()))
