"""A fresh `reactbin serve` process's first fetch of an image, against its second and against a direct S3 GET.

    python -m bench.first_fetch [--rounds 10]

Each round restarts the server, waits a second (as a client arrives some time after a start), then times with a
new connection each: a presigned GET straight from S3, the proxy's first fetch of the image, its second, and S3
again. Loopback only; the medians are printed. Not part of `python -m bench`: run it alone on a quiet machine.
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

from PIL import Image

from bench.stack import Stack
from reactbin.embedded import EmbeddedPostgres


def timed_get(url: str) -> float:
    """Milliseconds for one GET on a new connection, body read to the end."""
    parts = urlsplit(url)
    started = time.perf_counter()
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
    try:
        conn.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""))
        response = conn.getresponse()
        response.read()
    finally:
        conn.close()
    if response.status != 200:
        raise RuntimeError(f"GET {url} answered {response.status}")
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="reactbin-first-fetch-") as tmp:
        work = Path(tmp)
        postgres = EmbeddedPostgres(work / "pg", durable=False)
        postgres.start()
        stack = Stack(postgres, work, "first_fetch", "127.0.0.1")
        try:
            stack.start()
            path = work / "noise.jpg"
            Image.frombytes("RGB", (400, 300), os.urandom(400 * 300 * 3)).save(path, quality=90)
            image = stack.upload(path, "image/jpeg", "bench")["body"]
            times: dict[str, list[float]] = {"direct, first": [], "proxy, first": [], "proxy, second": []}
            for _ in range(args.rounds):
                server = stack.start_server()
                time.sleep(1.0)
                direct = stack.presigned_url(image["storage_key"])
                proxied = server.base_url + image["file_url"]
                times["direct, first"].append(timed_get(direct))
                times["proxy, first"].append(timed_get(proxied))
                times["proxy, second"].append(timed_get(proxied))
        finally:
            stack.stop()
            postgres.stop()
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, value in medians.items():
        print(f"{name}: {value:.2f} ms (median of {args.rounds})")
    print(f"first fetch over direct: {medians['proxy, first'] - medians['direct, first']:+.2f} ms")


if __name__ == "__main__":
    main()
