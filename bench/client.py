"""The benchmark's HTTP client, run as a subprocess (standard library only).

It runs on the host for loopback measurements and inside the benchmark's network namespace
(``ip netns exec``) for the LAN ones, so it must not import anything from the project. It prints one JSON
document on stdout. Every loop is bounded by a repetition count and a deadline.

Modes:
    timed     Download each URL ``--reps`` times, interleaving the URLs (A B A B ...) so slow drifts in the
              machine's load hit every target alike; a fresh TCP connection per request or one kept-alive
              connection per URL. Reports per-request wall times (connect to last byte).
    parallel  ``--clients`` threads download one URL at the same moment (fresh connections).
    upload    POST a file as multipart/form-data (fields ``file`` and ``tags``), streamed from disk.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import threading
import time
import urllib.parse
import uuid
from typing import Any

READ_BUFFER = 1024 * 1024
TIMEOUT = 60.0


class Target:
    """One URL and, in keep-alive mode, its open connection."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme != "http" or parts.hostname is None:
            raise SystemExit(f"only http:// URLs are supported: {url}")
        self.url = url
        self.host = parts.hostname
        self.port = parts.port or 80
        self.path = parts.path + (f"?{parts.query}" if parts.query else "")
        self.headers = headers
        self.conn: http.client.HTTPConnection | None = None
        self.times: list[float] = []
        self.statuses: dict[str, int] = {}
        self.body_bytes: set[int] = set()

    def connect(self) -> http.client.HTTPConnection:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=TIMEOUT)
        conn.connect()
        return conn

    def fetch(self, buffer: memoryview, *, keepalive: bool) -> tuple[float, int, int]:
        """One GET; returns (seconds, status, body bytes). Fresh mode times connect + request + body."""
        started = time.perf_counter()
        conn = self.conn if keepalive and self.conn is not None else self.connect()
        try:
            conn.request("GET", self.path, headers=self.headers)
            response = conn.getresponse()
            received = 0
            while True:
                count = response.readinto(buffer)
                if not count:
                    break
                received += count
            elapsed = time.perf_counter() - started
            reusable = keepalive and not response.will_close
        except BaseException:
            conn.close()
            self.conn = None
            raise
        if reusable:
            self.conn = conn
        else:
            conn.close()
            self.conn = None
        return elapsed, response.status, received

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def _parse_headers(raw: list[str] | None) -> dict[str, str]:
    headers = {}
    for item in raw or []:
        name, _, value = item.partition(":")
        headers[name.strip()] = value.strip()
    return headers


def timed(args: argparse.Namespace) -> dict[str, Any]:
    headers = _parse_headers(args.header)
    targets = [Target(url, headers) for url in args.url]
    buffer = memoryview(bytearray(READ_BUFFER))
    deadline = time.monotonic() + args.deadline
    for _ in range(args.warmup):
        for target in targets:
            target.fetch(buffer, keepalive=args.keepalive)
    for rep in range(args.reps):
        if time.monotonic() > deadline:
            break
        order = targets if rep % 2 == 0 else list(reversed(targets))
        for target in order:
            elapsed, status, received = target.fetch(buffer, keepalive=args.keepalive)
            target.times.append(elapsed)
            target.statuses[str(status)] = target.statuses.get(str(status), 0) + 1
            target.body_bytes.add(received)
    for target in targets:
        target.close()
    return {
        "results": [
            {
                "url": target.url,
                "times": target.times,
                "statuses": target.statuses,
                "body_bytes": sorted(target.body_bytes),
            }
            for target in targets
        ],
        "warmup_per_url": args.warmup,
    }


def parallel(args: argparse.Namespace) -> dict[str, Any]:
    headers = _parse_headers(args.header)
    barrier = threading.Barrier(args.clients)
    results: list[dict[str, Any]] = [{} for _ in range(args.clients)]

    def worker(index: int) -> None:
        target = Target(args.url, headers)
        buffer = memoryview(bytearray(READ_BUFFER))
        barrier.wait(timeout=30)
        times, statuses, sizes = [], [], []
        try:
            for _ in range(args.reps):
                elapsed, status, received = target.fetch(buffer, keepalive=False)
                times.append(elapsed)
                statuses.append(status)
                sizes.append(received)
        except Exception as exc:  # reported, not raised: the other clients' numbers still count
            results[index] = {"error": repr(exc), "times": times}
            return
        results[index] = {"times": times, "statuses": statuses, "sizes": sizes}

    started = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(args.clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(args.deadline)
    wall = time.perf_counter() - started
    if any(thread.is_alive() for thread in threads):
        return {"error": f"clients still running after {args.deadline} s", "wall": wall}
    return {"clients": results, "wall": wall}


def upload(args: argparse.Namespace) -> dict[str, Any]:
    parts = urllib.parse.urlsplit(args.url)
    boundary = f"bench-{uuid.uuid4().hex}"
    size = os.path.getsize(args.file)
    head = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="tags"\r\n\r\n'
        f"{args.tags}\r\n"
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="file"; filename="{args.filename}"\r\n'
        f"Content-Type: {args.content_type}\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=TIMEOUT * 2)
    started = time.perf_counter()
    conn.putrequest("POST", parts.path)
    conn.putheader("Content-Type", f"multipart/form-data; boundary={boundary}")
    conn.putheader("Content-Length", str(len(head) + size + len(tail)))
    conn.endheaders()
    conn.send(head)
    with open(args.file, "rb") as handle:
        while chunk := handle.read(READ_BUFFER):
            conn.send(chunk)
    conn.send(tail)
    response = conn.getresponse()
    body = response.read()
    elapsed = time.perf_counter() - started
    conn.close()
    try:
        parsed: Any = json.loads(body)
    except ValueError:
        parsed = body[:500].decode("utf-8", "replace")
    return {"status": response.status, "seconds": elapsed, "body": parsed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    modes = parser.add_subparsers(dest="mode", required=True)
    one = modes.add_parser("timed")
    one.add_argument("--url", action="append", required=True)
    one.add_argument("--header", action="append")
    one.add_argument("--reps", type=int, default=10)
    one.add_argument("--warmup", type=int, default=2)
    one.add_argument("--keepalive", action="store_true")
    one.add_argument("--deadline", type=float, default=120.0, help="stop starting new repetitions after this")
    many = modes.add_parser("parallel")
    many.add_argument("--url", required=True)
    many.add_argument("--header", action="append")
    many.add_argument("--clients", type=int, default=8)
    many.add_argument("--reps", type=int, default=1)
    many.add_argument("--deadline", type=float, default=120.0)
    post = modes.add_parser("upload")
    post.add_argument("--url", required=True)
    post.add_argument("--file", required=True)
    post.add_argument("--filename", required=True)
    post.add_argument("--content-type", required=True)
    post.add_argument("--tags", default="")
    args = parser.parse_args()
    handler = {"timed": timed, "parallel": parallel, "upload": upload}[args.mode]
    print(json.dumps(handler(args)))


if __name__ == "__main__":
    main()
