"""An emulated 1 Gbit/s LAN: a network namespace for the client, joined to the host by a veth pair.

Only addresses this module creates are used: 10.77.0.1 (host end) and 10.77.0.2 (namespace end) of a /30.
The host end's egress (server -> client, the download direction) is shaped with a token bucket filter (`tbf`);
netem is not available here, so no latency is added beyond the veth's own (tens of microseconds).
Everything is removed again on exit, also after an error or Ctrl-C.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from types import TracebackType

from bench.stack import BenchError

NAMESPACE = "reactbin-bench"
HOST_IF = "rbbench-h"
NS_IF = "rbbench-n"
HOST_ADDR = "10.77.0.1"
NS_ADDR = "10.77.0.2"
PREFIX = 30
RATE = "1gbit"
# ~0.26 ms of line rate: small enough that a 100 KiB response is paced like on a real 1 Gbit/s link
# (a large burst would let it through at veth speed), large enough for tbf to keep the full rate.
BURST = "32kb"
QUEUE_LATENCY = "20ms"
# TCP hands the veth 64 KB GSO segments; tbf splits any segment larger than its burst into 1.5 KB packets in
# software, and the namespace's per-packet receive work then runs in the *sender's* context. That tripled the
# CPU charged to the serving process (proxy: 143 -> 29 ms of system time per 48 MiB; SeaweedFS alike), an
# artefact a real NIC does not have. Segments below the burst pass tbf whole and are still paced at RATE.
GSO_MAX_SIZE = "30000"


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30, check=False)
    if check and result.returncode != 0:
        raise BenchError(f"ip {' '.join(args)} failed: {result.stderr.strip()}")
    return result


def missing_tools() -> list[str]:
    """What the LAN emulation needs but this machine lacks (empty when it can run)."""
    problems = []
    if os.geteuid() != 0:
        problems.append("root (network namespaces)")
    for tool, package in (("ip", "iproute2"), ("tc", "iproute2")):
        if shutil.which(tool) is None:
            problems.append(f"{tool} (apt-get install -y {package})")
    return problems


class LanLink:
    """Context manager creating the namespace, the veth pair, the addresses and the shaping."""

    def __init__(self) -> None:
        self.created = False

    def __enter__(self) -> LanLink:
        problems = missing_tools()
        if problems:
            raise BenchError("LAN emulation needs " + ", ".join(problems))
        self._remove_leftovers()
        clash = _ip("-4", "-o", "addr", "show", "to", f"{HOST_ADDR}/{PREFIX}").stdout.strip()
        if clash:
            raise BenchError(f"{HOST_ADDR}/{PREFIX} is already in use on this host: {clash}")
        self.created = True
        try:
            _ip("netns", "add", NAMESPACE)
            _ip("link", "add", HOST_IF, "type", "veth", "peer", "name", NS_IF)
            _ip("link", "set", NS_IF, "netns", NAMESPACE)
            _ip("addr", "add", f"{HOST_ADDR}/{PREFIX}", "dev", HOST_IF)
            _ip("link", "set", "dev", HOST_IF, "gso_max_size", GSO_MAX_SIZE)
            _ip("link", "set", HOST_IF, "up")
            _ip("-n", NAMESPACE, "addr", "add", f"{NS_ADDR}/{PREFIX}", "dev", NS_IF)
            _ip("-n", NAMESPACE, "link", "set", NS_IF, "up")
            _ip("-n", NAMESPACE, "link", "set", "lo", "up")
            tc = subprocess.run(
                [
                    "tc",
                    "qdisc",
                    "add",
                    "dev",
                    HOST_IF,
                    "root",
                    "tbf",
                    "rate",
                    RATE,
                    "burst",
                    BURST,
                    "latency",
                    QUEUE_LATENCY,
                ],
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
            if tc.returncode != 0:
                raise BenchError(f"tc qdisc add failed: {tc.stderr.strip()}")
        except BaseException:
            self.remove()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.remove()

    def remove(self) -> None:
        if not self.created:
            return
        self.created = False
        self._remove_leftovers()

    @staticmethod
    def _remove_leftovers() -> None:
        """Delete this benchmark's own namespace and veth (by their fixed names) if a killed run left them."""
        if _ip("link", "show", HOST_IF, check=False).returncode == 0:
            _ip("link", "del", HOST_IF, check=False)  # deleting one end removes the peer too
        if NAMESPACE in _ip("netns", "list", check=False).stdout.split():
            _ip("netns", "del", NAMESPACE, check=False)

    def prefix(self) -> Sequence[str]:
        """Command prefix that runs a program inside the namespace."""
        return ["ip", "netns", "exec", NAMESPACE]

    def qdisc_stats(self) -> str:
        result = subprocess.run(
            ["tc", "-s", "qdisc", "show", "dev", HOST_IF], capture_output=True, text=True, timeout=30, check=False
        )
        return " ".join(result.stdout.split())


def describe() -> str:
    return (
        f"client in netns {NAMESPACE} ({NS_ADDR}), servers on the veth host end {HOST_ADDR}; "
        f"host->client shaped with tbf rate {RATE} burst {BURST} latency {QUEUE_LATENCY}, "
        f"veth gso_max_size {GSO_MAX_SIZE}; no added latency (netem unavailable)"
    )


if __name__ == "__main__":
    LanLink._remove_leftovers()
    print("removed any leftover", NAMESPACE, HOST_IF)
