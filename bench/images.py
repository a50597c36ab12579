"""Test images made on the spot from a seeded generator: nothing is downloaded, every run gets the same bytes."""

from __future__ import annotations

import io
import random
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw

MIB = 1024 * 1024
LARGE_TARGET = 48 * MIB
LARGE_LIMIT = 49.5 * MIB  # the service accepts at most 50 MiB
SMALL_TARGET = 100 * 1024


@dataclass(frozen=True)
class TestImage:
    path: Path
    mime_type: str
    width: int
    height: int

    @property
    def size(self) -> int:
        return self.path.stat().st_size

    @property
    def name(self) -> str:
        return self.path.name


def _noise(rng: random.Random, width: int, height: int) -> Image.Image:
    return Image.frombytes("RGB", (width, height), rng.randbytes(width * height * 3))


def _jpeg(image: Image.Image, quality: int) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality, subsampling=0)
    return out.getvalue()


def noise_jpeg(path: Path, target_bytes: int, *, seed: int, quality: int = 95) -> TestImage:
    """A JPEG of random-noise pixels whose size is close to `target_bytes` (noise barely compresses)."""
    rng = random.Random(seed)
    sample = _jpeg(_noise(random.Random(seed + 1), 256, 256), quality)
    per_pixel = len(sample) / (256 * 256)
    width = 4000 if target_bytes > 4 * MIB else 256
    data = b""
    for _ in range(3):  # converge on the size: the header cost makes per-pixel estimates slightly off
        height = max(16, round(target_bytes / per_pixel / width))
        data = _jpeg(_noise(rng, width, height), quality)
        per_pixel = len(data) / (width * height)
        if abs(len(data) - target_bytes) <= target_bytes * 0.02 and len(data) <= max(LARGE_LIMIT, target_bytes * 1.1):
            break
    path.write_bytes(data)
    return TestImage(path, "image/jpeg", width, height)


def noise_png(path: Path, target_bytes: int, *, seed: int) -> TestImage:
    """An RGB PNG of random noise (incompressible: the file is about width x height x 3 bytes)."""
    width = 4096
    height = int(target_bytes / (width * 3 + 1))
    _noise(random.Random(seed), width, height).save(path, "PNG", compress_level=1)
    return TestImage(path, "image/png", width, height)


def tiny_image(path: Path, fmt: str, *, seed: int) -> TestImage:
    """A small unique image, used to warm the upload path without hitting deduplication."""
    _noise(random.Random(seed), 64, 64).save(path, fmt)
    return TestImage(path, "image/png" if fmt == "PNG" else "image/jpeg", 64, 64)


@dataclass(frozen=True)
class ImageSet:
    large_jpeg: TestImage
    small_jpeg: TestImage
    large_png: TestImage | None


def make_images(directory: Path, *, png: bool) -> ImageSet:
    directory.mkdir(parents=True, exist_ok=True)
    large = noise_jpeg(directory / "large-noise.jpg", LARGE_TARGET, seed=48)
    small = noise_jpeg(directory / "small-noise.jpg", SMALL_TARGET, seed=100)
    large_png = noise_png(directory / "large-noise.png", LARGE_TARGET, seed=4096) if png else None
    return ImageSet(large_jpeg=large, small_jpeg=small, large_png=large_png)


def reaction_jpeg(seed: int, *, width: int = 800, height: int = 600, quality: int = 85) -> bytes:
    """A distinct ~100 KiB JPEG that looks like a small photo (gradient, shapes, light grain), made in a few ms."""
    rng = random.Random(seed)
    ramp = Image.linear_gradient("L").resize((width, height))
    flip, turn = Image.Transpose.FLIP_LEFT_RIGHT, Image.Transpose.ROTATE_180
    image = Image.merge("RGB", (ramp, ramp.transpose(turn), ramp.transpose(flip)))
    draw = ImageDraw.Draw(image)
    for _ in range(12):
        x, y, r = rng.randrange(width), rng.randrange(height), rng.randrange(width // 20, width // 4)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=(rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    image = Image.blend(image, _noise(rng, width, height), 0.12)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)  # 4:2:0, as cameras and most tools write them
    return out.getvalue()


def reaction_folder(directory: Path, count: int, *, seed: int = 0) -> int:
    """`count` distinct JPEGs in ten sub-folders (so --tags-from-folders has work); returns their total size."""
    total = 0
    for index in range(count):
        folder = directory / f"folder-{index % 10}"
        folder.mkdir(parents=True, exist_ok=True)
        data = reaction_jpeg(seed + index)
        (folder / f"reaction-{index:05d}.jpg").write_bytes(data)
        total += len(data)
    return total
