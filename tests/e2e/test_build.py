"""The built UI as served: every text file has brotli and gzip copies made at build time, and the README's bundle
sizes are those of the build (within 10%, so they are updated when the UI grows)."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import brotli
import pytest

from tests.e2e.conftest import REPO

TEXT = re.compile(r"\.(html|js|css)$")


def test_text_files_are_precompressed(ui_dist: Path) -> None:
    texts = [path for path in ui_dist.rglob("*") if TEXT.search(path.name)]
    assert {path.suffix for path in texts} == {".html", ".js", ".css"}
    for path in texts:
        raw = path.read_bytes()
        assert brotli.decompress(path.with_name(path.name + ".br").read_bytes()) == raw, path
        assert gzip.decompress(path.with_name(path.name + ".gz").read_bytes()) == raw, path
    assert not list(ui_dist.rglob("*.svg.br")), "images are never precompressed"


SIZES = re.compile(
    r"production build is ([\d.]+) KB of JavaScript \(([\d.]+) KB gzipped, ([\d.]+) KB with brotli[^)]*\) "
    r"and ([\d.]+) KB of CSS \(([\d.]+) KB gzipped\)"
)


def test_the_readme_tells_the_bundle_sizes(ui_dist: Path) -> None:
    found = SIZES.search(" ".join((REPO / "README.md").read_text().split()))
    assert found, "README.md no longer states the bundle sizes in the expected sentence"
    stated = [float(value) * 1000 for value in found.groups()]

    def total(pattern: str) -> int:
        return sum(path.stat().st_size for path in (ui_dist / "assets").glob(pattern))

    built = [total("*.js"), total("*.js.gz"), total("*.js.br"), total("*.css"), total("*.css.gz")]
    for name, said, real in zip(("JS", "JS gzip", "JS brotli", "CSS", "CSS gzip"), stated, built, strict=True):
        message = f"README says {name} {said / 1000:.1f} KB, the build is {real / 1000:.1f} KB"
        assert said == pytest.approx(real, rel=0.10), message
