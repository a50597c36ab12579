"""Near-duplicates: which perceptual hash, which threshold (measured on a generated set), and what hashing costs.

The set: the 48 captioned memes of tests/fixtures/memes.py and 150 synthetic scenes (gradients, shapes, grain),
each transformed the way chat apps and screenshots transform pictures (resized 25-200%, JPEG quality 40-95,
PNG/WebP/JPEG re-encodes, crops of up to 5%, light colour shifts, the still as an animated GIF's first frame); the
same meme template with another caption; and every pair of distinct originals. Every file goes through the app's
own upload analysis (`analyse_upload`: validation, orientation, first frame, the 400 px WebP thumbnail), and the
candidate hashes are computed from that thumbnail, as the app does. Run alone: `python -m bench.neardup`.
"""

from __future__ import annotations

import argparse
import io
import itertools
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # tests/fixtures is not a package of the wheel
    sys.path.insert(0, str(ROOT))

from tests.fixtures import memes as meme_fixtures  # noqa: E402

from reactbin.media.analyse import analyse_stored  # noqa: E402
from reactbin.media.formats import Limits  # noqa: E402

SCENES = 150
MAX_PIXELS = 64_000_000


# ------------------------------------------------------------------------------------------------ the images


def scene(seed: int) -> Image.Image:
    """A synthetic photo-like picture: a two-colour gradient, a dozen shapes, light grain; sizes vary."""
    rng = random.Random(seed)
    width, height = rng.choice([(640, 480), (800, 600), (480, 640), (720, 720), (1024, 576)])
    top = np.array([rng.randint(0, 255) for _ in range(3)], dtype=np.float32)
    bottom = np.array([rng.randint(0, 255) for _ in range(3)], dtype=np.float32)
    ramp = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    pixels = np.broadcast_to(top * (1 - ramp) + bottom * ramp, (height, width, 3)).copy()
    image = Image.fromarray(pixels.astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(image)
    for _ in range(rng.randint(6, 14)):
        x, y = rng.randint(-80, width), rng.randint(-80, height)
        w, h = rng.randint(30, width // 2), rng.randint(30, height // 2)
        colour = tuple(rng.randint(0, 255) for _ in range(3))
        shape = rng.random()
        if shape < 0.4:
            draw.ellipse((x, y, x + w, y + h), fill=colour)  # type: ignore[arg-type]
        elif shape < 0.8:
            draw.rectangle((x, y, x + w, y + h), fill=colour)  # type: ignore[arg-type]
        else:
            draw.line((x, y, x + w, y + h), fill=colour, width=rng.randint(3, 12))  # type: ignore[arg-type]
    grain = Image.frombytes("L", (width, height), rng.randbytes(width * height)).convert("RGB")
    return Image.blend(image, grain, 0.06)


def _encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def _resize(scale: float) -> Callable[[Image.Image], bytes]:
    def apply(image: Image.Image) -> bytes:
        size = (max(8, round(image.width * scale)), max(8, round(image.height * scale)))
        return _encode(image.resize(size, Image.Resampling.LANCZOS), "JPEG", quality=85)

    return apply


def _crop(fraction: float, centred: bool) -> Callable[[Image.Image], bytes]:
    def apply(image: Image.Image) -> bytes:
        dx, dy = round(image.width * fraction), round(image.height * fraction)
        box = (dx // 2, dy // 2, image.width - dx // 2, image.height - dy // 2) if centred else (0, 0, *image.size)
        if not centred:  # a screenshot cut at the bottom and the right
            box = (0, 0, image.width - dx, image.height - dy)
        return _encode(image.crop(box), "PNG")

    return apply


def _colour(kind: str) -> Callable[[Image.Image], bytes]:
    def apply(image: Image.Image) -> bytes:
        if kind == "brighter":
            out = ImageEnhance.Brightness(image).enhance(1.12)
        elif kind == "darker":
            out = ImageEnhance.Brightness(image).enhance(0.88)
        elif kind == "contrast":
            out = ImageEnhance.Contrast(image).enhance(1.15)
        elif kind == "saturation":
            out = ImageEnhance.Color(image).enhance(0.7)
        else:  # warm: a light tint, as a phone's filter adds
            r, g, b = image.split()
            out = Image.merge("RGB", (r.point(lambda v: min(255, v + 12)), g, b.point(lambda v: max(0, v - 12))))
        return _encode(out, "JPEG", quality=90)

    return apply


def _gif_first_frame(image: Image.Image) -> bytes:
    """An animated GIF whose first frame is the still (palette-quantised, as GIF makers do)."""
    frames = [image.convert("RGB")] + [image.rotate(angle) for angle in (8, 16)]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return out.getvalue()


TRANSFORMS: dict[str, Callable[[Image.Image], bytes]] = {
    "resize 25%": _resize(0.25),
    "resize 50%": _resize(0.5),
    "resize 75%": _resize(0.75),
    "resize 150%": _resize(1.5),
    "resize 200%": _resize(2.0),
    "JPEG q40": lambda im: _encode(im, "JPEG", quality=40),
    "JPEG q60": lambda im: _encode(im, "JPEG", quality=60),
    "JPEG q95": lambda im: _encode(im, "JPEG", quality=95),
    "WebP q75": lambda im: _encode(im, "WEBP", quality=75),
    "WebP lossless": lambda im: _encode(im, "WEBP", lossless=True),
    "PNG": lambda im: _encode(im, "PNG"),
    "WebP q60 -> JPEG q80": lambda im: _encode(
        Image.open(io.BytesIO(_encode(im, "WEBP", quality=60))).convert("RGB"), "JPEG", quality=80
    ),
    "crop 2% centred": _crop(0.02, True),
    "crop 5% centred": _crop(0.05, True),
    "crop 5% bottom-right": _crop(0.05, False),
    "brightness +12%": _colour("brighter"),
    "brightness -12%": _colour("darker"),
    "contrast +15%": _colour("contrast"),
    "saturation -30%": _colour("saturation"),
    "warm tint": _colour("warm"),
    "GIF first frame": _gif_first_frame,
}


@dataclass
class Original:
    name: str
    image: Image.Image
    caption: str | None
    """Compact caption (what OCR would read), None for scenes without text."""


def originals(scenes: int = SCENES) -> list[Original]:
    found = [Original(f"meme-{m.index}", meme_fixtures.render(m), _compact(m.caption)) for m in meme_fixtures.memes()]
    found += [Original(f"scene-{seed}", scene(seed), None) for seed in range(scenes)]
    return found


def template_variants() -> list[tuple[str, Original]]:
    """Each meme's background with the caption of the meme 7 places on: the same template, another reaction."""
    all_memes = meme_fixtures.memes()
    variants = []
    for meme in all_memes:
        other = all_memes[(meme.index + 7) % len(all_memes)]
        variant = meme_fixtures.Meme(meme.index, other.lines, meme.font, meme.outlined, meme.busy)
        variants.append(
            (
                f"meme-{meme.index}",
                Original(f"template-{meme.index}", meme_fixtures.render(variant), _compact(other.caption)),
            )
        )
    return variants


def _compact(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())


# ------------------------------------------------------------------------------------------------ the hashes


@dataclass(frozen=True)
class Algorithm:
    name: str
    bits: int
    compute: Callable[[Image.Image], np.ndarray]
    """From the decoded thumbnail to a flat array of bits (0/1)."""


def _imagehash(kind: str, size: int = 8) -> Callable[[Image.Image], np.ndarray]:
    import imagehash

    function = {"phash": imagehash.phash, "dhash": imagehash.dhash, "whash": imagehash.whash}[kind]

    def compute(image: Image.Image) -> np.ndarray:
        return np.asarray(function(image, hash_size=size).hash, dtype=np.uint8).reshape(-1)

    return compute


def _pdq(image: Image.Image) -> np.ndarray:
    import pdqhash

    bits, _quality = pdqhash.compute(np.asarray(image.convert("RGB")))
    return np.asarray(bits, dtype=np.uint8).reshape(-1)


ALGORITHMS = (
    Algorithm("pHash 64 (imagehash)", 64, _imagehash("phash")),
    Algorithm("dHash 64 (imagehash)", 64, _imagehash("dhash")),
    Algorithm("wHash 64 (imagehash)", 64, _imagehash("whash")),
    Algorithm("pHash 256 (imagehash, hash_size=16)", 256, _imagehash("phash", 16)),
    Algorithm("PDQ 256 (pdqhash)", 256, _pdq),
)


def _thumbnail_of(data: bytes, suffix: str, workdir: Path) -> bytes:
    """The app's own upload analysis: validation, first frame, orientation, the 400 px WebP thumbnail."""
    path = workdir / f"upload{suffix}"
    path.write_bytes(data)
    return analyse_stored(path, Limits(MAX_PIXELS, 60)).thumbnail.data


def _suffix(data: bytes) -> str:
    if data.startswith(b"\xff\xd8"):
        return ".jpg"
    if data.startswith(b"\x89PNG"):
        return ".png"
    if data.startswith(b"GIF"):
        return ".gif"
    return ".webp"


# ------------------------------------------------------------------------------------------------ measuring


@dataclass
class Distances:
    copies: dict[str, list[int]] = field(default_factory=dict)
    """Transform name -> distance of each transformed copy to its original."""
    copy_same_caption: list[bool] = field(default_factory=list)
    distinct: list[int] = field(default_factory=list)
    distinct_same_caption: list[bool] = field(default_factory=list)
    templates: list[int] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)


@dataclass
class NearDupResult:
    algorithms: dict[str, Distances]
    originals: int
    copies: int
    distinct_pairs: int
    template_pairs: int
    analyse_ms: float
    """Median CPU of the whole upload analysis of a still (what hashing is added to)."""


def measure(scenes: int = SCENES, log: Callable[[str], None] = print) -> NearDupResult:
    sources = originals(scenes)
    variants = template_variants()
    results = {algorithm.name: Distances() for algorithm in ALGORITHMS}
    analyse_cpu: list[float] = []
    with tempfile.TemporaryDirectory(prefix="reactbin-neardup-") as tmp:
        workdir = Path(tmp)

        def thumb(data: bytes) -> Image.Image:
            started = time.process_time()
            encoded = _thumbnail_of(data, _suffix(data), workdir)
            analyse_cpu.append(time.process_time() - started)
            with Image.open(io.BytesIO(encoded)) as opened:
                opened.load()
                return opened.convert("RGB")

        def hashes(image: Image.Image, timed: bool = False) -> dict[str, np.ndarray]:
            out = {}
            for algorithm in ALGORITHMS:
                started = time.process_time()
                out[algorithm.name] = algorithm.compute(image)
                if timed:
                    results[algorithm.name].cpu_ms.append((time.process_time() - started) * 1000)
            return out

        log(f"hashing {len(sources)} originals")
        base: dict[str, dict[str, np.ndarray]] = {}
        for source in sources:
            base[source.name] = hashes(thumb(_encode(source.image, "PNG")), timed=True)
        log(f"hashing {len(sources) * len(TRANSFORMS)} transformed copies")
        copies = 0
        for source in sources:
            for transform_name, transform in TRANSFORMS.items():
                copy = hashes(thumb(transform(source.image)))
                copies += 1
                for name, bits in copy.items():
                    distance = int(np.count_nonzero(bits != base[source.name][name]))
                    results[name].copies.setdefault(transform_name, []).append(distance)
        log("distinct pairs and template pairs")
        by_name = {source.name: source for source in sources}
        pairs = list(itertools.combinations(sources, 2))
        for a, b in pairs:
            same = a.caption is not None and a.caption == b.caption
            for name in results:
                distance = int(np.count_nonzero(base[a.name][name] != base[b.name][name]))
                results[name].distinct.append(distance)
                results[name].distinct_same_caption.append(same or (a.caption is None and b.caption is None))
        for original_name, variant in variants:
            variant_hashes = hashes(thumb(_encode(variant.image, "PNG")))
            assert by_name[original_name].caption != variant.caption
            for name in results:
                results[name].templates.append(int(np.count_nonzero(variant_hashes[name] != base[original_name][name])))
    return NearDupResult(
        algorithms=results,
        originals=len(sources),
        copies=copies,
        distinct_pairs=len(pairs),
        template_pairs=len(variants),
        analyse_ms=statistics.median(analyse_cpu) * 1000,
    )


@dataclass(frozen=True)
class Verdict:
    algorithm: str
    bits: int
    threshold: int
    recall: float
    false_pairs: float
    false_duplicates: float
    """Distinct pairs within the threshold whose captions also agree (both none, or equal): called duplicates."""
    templates_within: float
    cpu_ms: float
    worst: str
    """The transform with the lowest recall, and its recall."""


def choose_threshold(distances: Distances, bits: int, max_false: float = 0.001) -> int:
    """The largest threshold at which at most `max_false` of the distinct pairs fall (hash alone)."""
    ordered = sorted(distances.distinct)
    allowed = int(len(ordered) * max_false)
    limit = ordered[allowed] - 1 if allowed < len(ordered) else bits
    return max(0, limit)


def verdict(name: str, bits: int, distances: Distances, threshold: int) -> Verdict:
    every_copy = [d for values in distances.copies.values() for d in values]
    recall = sum(d <= threshold for d in every_copy) / len(every_copy)
    false_pairs = sum(d <= threshold for d in distances.distinct) / len(distances.distinct)
    false_duplicates = sum(
        d <= threshold and same for d, same in zip(distances.distinct, distances.distinct_same_caption, strict=True)
    ) / len(distances.distinct)
    templates_within = sum(d <= threshold for d in distances.templates) / len(distances.templates)
    per_transform = {
        transform: sum(d <= threshold for d in values) / len(values) for transform, values in distances.copies.items()
    }
    worst = min(per_transform, key=lambda t: per_transform[t])
    return Verdict(
        algorithm=name,
        bits=bits,
        threshold=threshold,
        recall=recall,
        false_pairs=false_pairs,
        false_duplicates=false_duplicates,
        templates_within=templates_within,
        cpu_ms=statistics.median(distances.cpu_ms),
        worst=f"{worst} {per_transform[worst]:.0%}",
    )


def verdicts(result: NearDupResult) -> list[Verdict]:
    out = []
    for algorithm in ALGORITHMS:
        distances = result.algorithms[algorithm.name]
        out.append(verdict(algorithm.name, algorithm.bits, distances, choose_threshold(distances, algorithm.bits)))
    return out


def threshold_sweep(result: NearDupResult, name: str, thresholds: list[int]) -> list[tuple[int, float, float, float]]:
    """(threshold, recall, distinct pairs within, template pairs within) for one algorithm."""
    bits = next(a.bits for a in ALGORITHMS if a.name == name)
    rows = []
    for threshold in thresholds:
        v = verdict(name, bits, result.algorithms[name], threshold)
        rows.append((threshold, v.recall, v.false_pairs, v.templates_within))
    return rows


def percentiles(values: list[int]) -> str:
    ordered = sorted(values)

    def at(p: float) -> int:
        return ordered[min(len(ordered) - 1, int(len(ordered) * p))]

    return f"min {ordered[0]}, p1 {at(0.01)}, median {at(0.5)}, max {ordered[-1]}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.neardup", description=__doc__)
    parser.add_argument("--scenes", type=int, default=SCENES)
    args = parser.parse_args(argv)
    started = time.monotonic()
    result = measure(args.scenes)
    print(
        f"\n{result.originals} originals, {result.copies} copies, {result.distinct_pairs} distinct pairs, "
        f"{result.template_pairs} template pairs; upload analysis of a still {result.analyse_ms:.1f} ms CPU (median)"
    )
    for v in verdicts(result):
        print(
            f"{v.algorithm}: threshold {v.threshold}/{v.bits}: copies found {v.recall:.1%} (worst {v.worst}), "
            f"distinct pairs within {v.false_pairs:.2%}, of which same caption {v.false_duplicates:.2%}, "
            f"template pairs within {v.templates_within:.0%}, {v.cpu_ms:.2f} ms CPU per hash"
        )
        distances = result.algorithms[v.algorithm]
        print(f"   distinct: {percentiles(distances.distinct)}; templates: {percentiles(distances.templates)}")
        for transform, values in distances.copies.items():
            print(f"   {transform}: {percentiles(values)}")
        step = max(1, v.bits // 64)
        for threshold, recall, false_pairs, templates in threshold_sweep(
            result, v.algorithm, list(range(step * 2, v.bits // 3, step * 2))
        ):
            print(f"   t={threshold}: copies {recall:.1%}, distinct {false_pairs:.3%}, templates {templates:.0%}")
    print(f"finished in {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
