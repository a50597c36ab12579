"""A real OpenID Connect provider for the tests: panva's oidc-provider (npm) under Node, on a loopback port.

Its pinned packages (tests/support/oidc-provider/package-lock.json) are installed by `make test` with `npm ci`; this
module installs them the same way if they are missing, so a single test run from a fresh clone works too.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support.live import free_port

PROVIDER_DIR = Path(__file__).parent / "oidc-provider"
CLIENT_ID = "reactbin-test"
CLIENT_SECRET = "reactbin-test-client-secret-0123456789"
ADMIN_GROUP = "reactbin-admins"
"""Logins starting with `admin` are in this group (see server.mjs)."""


@dataclass(frozen=True)
class OidcProvider:
    issuer: str
    client_id: str
    client_secret: str

    def env(self) -> dict[str, str]:
        """reactbin's settings for this provider."""
        return {
            "OIDC_ISSUER": self.issuer,
            "OIDC_CLIENT_ID": self.client_id,
            "OIDC_CLIENT_SECRET": self.client_secret,
            "OIDC_ADMIN_GROUP": ADMIN_GROUP,
            "OIDC_NAME": "Test ID",
        }


def _installed() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is needed for the OpenID provider")
    if not (PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir():
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=PROVIDER_DIR, check=True, timeout=300
        )


@contextlib.contextmanager
def running_provider(redirect_uri: str, port: int | None = None) -> Iterator[OidcProvider]:
    """Start the provider with one client whose only redirect URI is `redirect_uri`; stopped at the end."""
    _installed()
    port = port or free_port()
    env = {
        **os.environ,
        "PORT": str(port),
        "CLIENT_ID": CLIENT_ID,
        "CLIENT_SECRET": CLIENT_SECRET,
        "REDIRECT_URI": redirect_uri,
    }
    process = subprocess.Popen(
        ["node", "server.mjs"], cwd=PROVIDER_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    issuer = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                output = process.stdout.read() if process.stdout else ""
                raise RuntimeError(f"the OpenID provider exited: {output}")
            try:
                if httpx.get(f"{issuer}/.well-known/openid-configuration", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the OpenID provider did not start within 30 s")
            time.sleep(0.1)
        yield OidcProvider(issuer, CLIENT_ID, CLIENT_SECRET)
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
