"""An upload goes through the media pipeline once: sniffed once, its container walked once, decoded once.

The spies below wrap the real functions (nothing is replaced: every call still does its work) and count how often
an upload request reaches each step.
"""

from __future__ import annotations

import collections
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
import pytest
from litestar.testing import AsyncTestClient
from PIL import Image

from reactbin.media import analyse, formats, video
from tests.conftest import FIXTURES, AppFactory

MEDIA = Path(__file__).parent / "fixtures" / "media"


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> collections.Counter[str]:
    counted: collections.Counter[str] = collections.Counter()

    def spy(owner: object, name: str, label: str) -> None:
        real: Callable[..., Any] = getattr(owner, name)

        def counting(*args: Any, **kwargs: Any) -> Any:
            counted[label] += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(owner, name, counting)

    spy(formats, "sniff", "sniff")
    spy(analyse, "read_timeline", "walk")
    spy(Image, "open", "pillow open")
    spy(av, "open", "video open")
    spy(video, "first_frame", "first frame")
    return counted


# file, the steps an upload of it takes (each exactly once; anything not named: never)
CASES = [
    (FIXTURES / "photo.jpg", {"sniff", "pillow open"}),
    (FIXTURES / "gps.jpg", {"sniff", "pillow open"}),  # stripped of its location first: no second look
    (FIXTURES / "alpha.png", {"sniff", "walk", "pillow open"}),
    (MEDIA / "animated.gif", {"sniff", "walk", "pillow open"}),
    (MEDIA / "animated.webp", {"sniff", "walk", "pillow open"}),
    (MEDIA / "still.avif", {"sniff", "pillow open"}),
    (MEDIA / "h264-sound.mp4", {"sniff", "video open", "first frame"}),
    (MEDIA / "vp9.webm", {"sniff", "video open", "first frame"}),
]


@pytest.mark.parametrize(("path", "steps"), CASES, ids=[case[0].name for case in CASES])
async def test_an_upload_is_sniffed_walked_and_decoded_once(
    make_client: AppFactory, calls: collections.Counter[str], path: Path, steps: set[str]
) -> None:
    client: AsyncTestClient[Any]
    async with make_client(run_worker=False) as client:
        data = path.read_bytes()  # noqa: ASYNC240 - a small fixture
        calls.clear()
        response = await client.post("/api/v1/images", files={"file": (path.name, data)})
        assert response.status_code == 201, response.text
        assert dict(calls) == dict.fromkeys(steps, 1)
