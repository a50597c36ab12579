"""The `chat` section: Discord's /react answers under load, and the installed app's first paint online and offline.

Discord: a stack of its own (database, SeaweedFS, `reactbin serve` with DISCORD_PUBLIC_KEY), 100,000 images with
tags and captions seeded by SQL (bench/search.py's generator), then wrk at 16 connections against
`POST /api/v1/integrations/discord` with requests signed by a key made here. Every request is unique (its own
interaction id, hence its own signature), since the server refuses a signature it has seen; the requests are signed
just before each round (their timestamps must be fresh) and a Lua script hands each wrk thread its own share. Every
answer is checked once before the load: the command and Next find matches, autocomplete offers choices, Send posts.
GET /api/v1/health runs beside them as the hello-world of the same moment.

Service worker: Chromium loads the library page a few times as a repeat visitor: with the worker and the network,
with the worker and no network (the offline screen), and with workers blocked (the HTTP cache alone); the first
contentful paint of each load is read from the Performance API.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path
from typing import Any

from nacl.encoding import HexEncoder
from nacl.signing import SigningKey

from bench.images import tiny_image
from bench.measure import WrkResult, combine_wrk, median, run_wrk
from bench.report import Report
from bench.search import seed_search
from bench.stack import BenchError, Stack
from reactbin.embedded import EmbeddedPostgres

ENDPOINT = "/api/v1/integrations/discord"
LIBRARY = 100_000
QUERY = "happy"
WARM_UP = 6_000
"""Signed requests made for the unmeasured second before the rounds (more than it can send)."""
PER_ROUND = 30_000
"""Signed requests made for one round of one load: more than a round can send (a repeat would be refused)."""
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PAINTS = 9
# A phone on a slow mobile network: every request to the server waits this long (as Chromium's DevTools emulate it).
SLOW_NETWORK = {"offline": False, "latency": 300, "downloadThroughput": 400_000, "uploadThroughput": 100_000}
SLOW_LABEL = "a slow mobile network (300 ms round trips, 3.2 Mbit/s)"

_LUA = r"""
-- Pre-signed Discord interactions: line = signature TAB timestamp TAB body; thread k of n sends lines k, k+n, ...
local requests, count, position = {}, 0, 0
local next_id = 1

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
end

function init(args)
  local path, threads = args[1], tonumber(args[2])
  local line_no = 0
  for line in io.lines(path) do
    if line_no % threads == id - 1 then
      local signature, stamp, body = line:match("^(%x+)\t(%d+)\t(.*)$")
      count = count + 1
      requests[count] = wrk.format("POST", nil, {
        ["Content-Type"] = "application/json",
        ["X-Signature-Ed25519"] = signature,
        ["X-Signature-Timestamp"] = stamp,
      }, body)
    end
    line_no = line_no + 1
  end
end

function request()
  position = position + 1
  if position > count then position = 1 end  -- repeats are refused (401) and show up as non-2xx answers
  return requests[position]
end
"""


def interaction(kind: int, data: dict[str, Any] | None = None) -> bytes:
    body: dict[str, Any] = {"id": str(uuid.uuid4().int >> 64), "application_id": "1", "type": kind, "token": "t"}
    if data is not None:
        body["data"] = data
    return json.dumps(body, separators=(",", ":")).encode()


def loads(image_id: str) -> dict[str, Any]:
    """The interactions measured, each a function making one fresh body."""
    option = {"name": "query", "type": 3, "value": QUERY}
    return {
        "PING (signature check and replay guard only)": lambda: interaction(1),
        f"/react {QUERY} (the preview)": lambda: interaction(2, {"name": "react", "type": 1, "options": [option]}),
        "autocomplete of 'hap'": lambda: interaction(
            4, {"name": "react", "type": 1, "options": [{"name": "query", "type": 3, "value": "hap", "focused": True}]}
        ),
        "button Next (match 2)": lambda: interaction(3, {"custom_id": f"next:1:0:{QUERY}", "component_type": 2}),
        "button Send (a public post and a use)": lambda: interaction(
            3, {"custom_id": f"send:{image_id}", "component_type": 2}
        ),
    }


def sign_requests(key: SigningKey, make: Any, count: int, path: Path) -> None:
    stamp = str(int(time.time()))
    with path.open("w") as out:
        for _ in range(count):
            body = make()
            signature = key.sign(stamp.encode() + body).signature.hex()
            out.write(f"{signature}\t{stamp}\t{body.decode()}\n")


def run_chat_section(
    report: Report, postgres: EmbeddedPostgres, workdir: Path, *, seconds: int, rounds: int, library: int = LIBRARY
) -> None:
    key = SigningKey.generate()
    stack = Stack(postgres, workdir, "chat", "127.0.0.1")
    stack.extra_env = {
        "DISCORD_PUBLIC_KEY": key.verify_key.encode(HexEncoder).decode(),
        "PUBLIC_URL": "https://reactbin.example",
    }
    try:
        stack.start()
        started = time.monotonic()
        counts = seed_search(stack.database_url, library)
        report.note(
            f"Chat: {counts['images']:,} images seeded ({counts['captioned']:,} with a caption, "
            f"{counts['distinct_tags']:,} distinct tags) in {time.monotonic() - started:.0f} s."
        )
        for n in range(24):  # the newest images are real, so the library page paints real thumbnails
            stack.upload(tiny_image(workdir / f"chat-{n}.png", "PNG", seed=5000 + n).path, "image/png", "bench,chat")
        stack.start_server()  # a fresh process: no cache warmed by the seeding
        server = stack.api()
        _discord(report, stack, key, workdir, seconds=seconds, rounds=rounds, library=counts["images"])
        _first_paint(report, server.base_url)
    finally:
        stack.stop()


def _discord(
    report: Report, stack: Stack, key: SigningKey, workdir: Path, *, seconds: int, rounds: int, library: int
) -> None:
    server = stack.api()
    url = server.base_url + ENDPOINT
    script = workdir / "discord.lua"
    script.write_text(_LUA)
    image_id = _an_image(stack)
    measured = loads(image_id)
    for label, make in measured.items():
        _check(server, key, label, make())
    threads, connections = 2, 16
    for make in measured.values():
        # Unmeasured: each pooled connection prepares the load's statements and plans its functions once (the
        # first use on a connection costs a few milliseconds; a server that has been answering has done it).
        signed = workdir / "signed.txt"
        sign_requests(key, make, WARM_UP, signed)
        run_wrk(url, seconds=1, threads=threads, connections=connections, script=script, script_args=(str(signed), "2"))
    shape = f"wrk -t{threads} -c{connections}, {rounds}x{seconds} s, every request signed and unique"
    runs: dict[str, list[WrkResult]] = {"hello": [], **{label: [] for label in measured}}
    for _ in range(rounds):
        runs["hello"].append(
            run_wrk(server.base_url + "/api/v1/health", seconds=seconds, threads=threads, connections=connections)
        )
        for label, make in measured.items():
            signed = workdir / "signed.txt"
            sign_requests(key, make, PER_ROUND, signed)
            runs[label].append(
                run_wrk(
                    url,
                    seconds=seconds,
                    threads=threads,
                    connections=connections,
                    script=script,
                    script_args=(str(signed), str(threads)),
                )
            )
    # The same answers below saturation: what one person waits for when a few others use /react at the same time.
    light: dict[str, WrkResult] = {}
    for label, make in measured.items():
        if "PING" in label or "Send" in label:
            continue
        signed = workdir / "signed.txt"
        sign_requests(key, make, PER_ROUND // 2, signed)
        light[label] = run_wrk(
            url, seconds=seconds, threads=2, connections=4, script=script, script_args=(str(signed), "2")
        )
    hello = combine_wrk(runs["hello"])
    report.add("chat", f"hello-world: GET /api/v1/health ({shape.split(', every')[0]})", _line(hello))
    for label in measured:
        result = combine_wrk(runs[label])
        report.add(
            "chat",
            f"Discord {label}, {library:,} images ({shape})",
            _line(result) + f"; {result.latency_ms['99'] / max(hello.latency_ms['99'], 0.001):.1f}x hello-world's p99",
            "p99 < 100 ms",
            result.latency_ms["99"] < 100 and not result.errors,
        )
    for label, result in light.items():
        report.add("chat", f"Discord {label} at 4 connections (not saturated; 1x{seconds} s)", _line(result))


def _line(result: WrkResult) -> str:
    lat = result.latency_ms
    text = f"{result.requests_per_second:,.0f} req/s, p50 {lat['50']:.2f} ms, p99 {lat['99']:.2f} ms"
    return text + (f"; {result.errors}" if result.errors else "")


def _an_image(stack: Stack) -> str:
    status, body = stack.api().request("GET", "/api/v1/images?limit=1")
    if status != 200:
        raise BenchError(f"listing images answered {status}")
    image_id: str = json.loads(body)["items"][0]["id"]
    return image_id


def _check(server: Any, key: SigningKey, label: str, body: bytes) -> None:
    """One request of the load, answered as Discord expects (a load of refusals would measure nothing)."""
    import http.client

    stamp = str(int(time.time()))
    headers = {
        "content-type": "application/json",
        "x-signature-ed25519": key.sign(stamp.encode() + body).signature.hex(),
        "x-signature-timestamp": stamp,
    }
    conn = http.client.HTTPConnection(server.host, server.port, timeout=30)
    try:
        conn.request("POST", ENDPOINT, body=body, headers=headers)
        response = conn.getresponse()
        answer = response.read()
    finally:
        conn.close()
    if response.status != 200:
        raise BenchError(f"{label}: answered {response.status}: {answer[:300]!r}")
    data = json.loads(answer).get("data", {})
    if "Send" in label and "content" not in data:
        raise BenchError(f"{label}: no post in {answer[:300]!r}")
    if ("Next" in label or "preview" in label) and not data.get("embeds"):
        raise BenchError(f"{label}: no match shown in {answer[:300]!r}")
    if "autocomplete" in label and not data.get("choices"):
        raise BenchError(f"{label}: no choices in {answer[:300]!r}")


def _first_paint(report: Report, base_url: str) -> None:
    if not CHROMIUM.is_file():
        report.add("chat", "service worker first contentful paint", "skipped: /usr/bin/chromium is missing")
        return
    paints = asyncio.run(_paints(base_url))
    for label, values in paints.items():
        report.add(
            "chat",
            f"first contentful paint, {label} (median of {len(values)} loads)",
            f"{median(values):.0f} ms (min {min(values):.0f}, max {max(values):.0f})",
        )


async def _paints(base_url: str) -> dict[str, list[float]]:
    from playwright.async_api import Page, async_playwright

    async def paint(page: Page) -> float:
        await page.goto(base_url + "/", wait_until="load")
        value: float = await page.evaluate(
            """() => new Promise((resolve) => {
                const seen = () => performance.getEntriesByName("first-contentful-paint")[0];
                if (seen()) return resolve(seen().startTime);
                const observer = new PerformanceObserver(() => seen() && resolve(seen().startTime));
                observer.observe({ type: "paint", buffered: true });
            })"""
        )
        return value

    paints: dict[str, list[float]] = {}
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            context = await browser.new_context(viewport={"width": 390, "height": 844})
            page = await context.new_page()
            paints["first visit (nothing cached, no worker yet)"] = [await paint(page)]
            ready = await page.evaluate(
                "Promise.race([navigator.serviceWorker.ready.then(() => true),"
                " new Promise(r => setTimeout(r, 15000, false))])"
            )
            if not ready:
                raise BenchError("the service worker did not install")
            await paint(page)  # now under the worker's control; its caches fill
            paints["repeat visit with the service worker, online"] = [await paint(page) for _ in range(PAINTS)]
            await context.set_offline(True)
            offline = [await paint(page) for _ in range(PAINTS)]
            if not await page.get_by_role("heading", name="You’re offline").is_visible():
                raise BenchError("the offline screen did not show")
            paints["repeat visit with the service worker, offline (the offline screen)"] = offline
            await context.set_offline(False)
            # Last: Playwright's own offline switch and this session's emulation would override each other.
            slow = await context.new_cdp_session(page)
            await slow.send("Network.enable")
            await slow.send("Network.emulateNetworkConditions", SLOW_NETWORK)
            paints[f"repeat visit with the service worker, {SLOW_LABEL}"] = [await paint(page) for _ in range(PAINTS)]
            await context.close()

            blocked = await browser.new_context(viewport={"width": 390, "height": 844}, service_workers="block")
            page = await blocked.new_page()
            await paint(page)
            paints["repeat visit without a service worker (HTTP cache only), online"] = [
                await paint(page) for _ in range(PAINTS)
            ]
            slow = await blocked.new_cdp_session(page)
            await slow.send("Network.enable")
            await slow.send("Network.emulateNetworkConditions", SLOW_NETWORK)
            paints[f"repeat visit without a service worker, {SLOW_LABEL}"] = [await paint(page) for _ in range(PAINTS)]
            await blocked.close()
        finally:
            await browser.close()
    return paints
