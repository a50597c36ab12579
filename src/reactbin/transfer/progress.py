"""A progress line on stderr: count, rate and time left. One updating line on a terminal, plain lines otherwise."""

from __future__ import annotations

import time
from typing import TextIO


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"


class Progress:
    """Call `advance()` once per finished file and `finish()` at the end."""

    def __init__(self, total: int, stream: TextIO, *, verb: str = "imported", interval: float | None = None) -> None:
        self.total = total
        self.done = 0
        self.counts: dict[str, int] = {}
        self._stream = stream
        self._tty = stream.isatty()
        self._interval = interval if interval is not None else (0.1 if self._tty else 2.0)
        self._started = time.monotonic()
        self._shown = 0.0
        self._verb = verb

    def advance(self, outcome: str) -> None:
        self.done += 1
        self.counts[outcome] = self.counts.get(outcome, 0) + 1
        now = time.monotonic()
        if now - self._shown >= self._interval:
            self._shown = now
            self._show(now)

    def note(self, line: str) -> None:
        """A message between progress updates (e.g. that Ctrl+C was seen)."""
        if self._tty:
            self._stream.write("\r\x1b[K")
        self._stream.write(line + "\n")
        self._stream.flush()

    def finish(self) -> None:
        self._show(time.monotonic())
        if self._tty:
            self._stream.write("\n")
            self._stream.flush()

    def line(self, now: float) -> str:
        elapsed = max(now - self._started, 1e-6)
        rate = self.done / elapsed
        left = (self.total - self.done) / rate if rate > 0 else 0.0
        percent = 100 * self.done // self.total if self.total else 100
        counts = " · ".join(f"{count} {name}" for name, count in sorted(self.counts.items()))
        width = len(str(self.total))
        return (
            f"[{self.done:>{width}}/{self.total}] {percent:3d}% {rate:7.1f} files/s  "
            f"ETA {_duration(left) if self.done < self.total else '0s'}  {counts}"
        )

    def _show(self, now: float) -> None:
        if self._tty:
            self._stream.write("\r\x1b[K" + self.line(now))
        else:
            self._stream.write(self.line(now) + "\n")
        self._stream.flush()
