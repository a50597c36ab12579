"""uvicorn's supervisor of `serve --workers N`, which also tells prometheus-client when a worker has ended.

prometheus-client's multiprocess mode keeps a file of values per process. Gauges summed over live processes (the
pool gauges, `livesum`) must forget a process once it has ended, or a worker that died or was replaced (a crash,
SIGHUP, SIGTTOU) would be counted for as long as the server runs: that is `multiprocess.mark_process_dead`.
Imported only by `serve` (uvicorn and prometheus-client load only when a server starts).
"""

from __future__ import annotations

import socket
from pathlib import Path

from prometheus_client import multiprocess
from uvicorn import Config
from uvicorn.supervisors import Multiprocess


class WorkerSupervisor(Multiprocess):
    """`uvicorn.supervisors.Multiprocess`, marking each worker dead in `metrics_dir` once it has ended.

    uvicorn retires workers (replacing a dead one, restarting all on SIGHUP, one fewer on SIGTTOU, all at exit)
    only from `handle_signals`, `keep_subprocess_alive` and `join_all`, so looking after each of them is enough.
    """

    def __init__(self, config: Config, sockets: list[socket.socket], metrics_dir: Path | None) -> None:
        super().__init__(config, sockets)
        self.metrics_dir = metrics_dir
        self._running: set[int] = set()

    def handle_signals(self) -> None:
        super().handle_signals()
        self._forget_ended_workers()

    def keep_subprocess_alive(self) -> None:
        super().keep_subprocess_alive()
        self._forget_ended_workers()

    def join_all(self) -> None:
        super().join_all()
        self._forget_ended_workers()

    def _forget_ended_workers(self) -> None:
        running = {p.pid for p in self.processes if p.pid is not None and p.exitcode is None}
        if self.metrics_dir is not None:
            for pid in self._running - running:
                multiprocess.mark_process_dead(pid, str(self.metrics_dir))  # type: ignore[no-untyped-call]
        self._running = running
