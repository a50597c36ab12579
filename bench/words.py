"""Readable captions: which word segmentation gives the 48 test memes back word for word.

Each meme of tests/fixtures/memes.py is read by the app's OCR (`media/ocr.py`, rapidocr, as the worker reads it),
then its text is made readable by `media/words.py` with each candidate's segmentation: symspellpy (frequency
dictionary of 82,765 words) and wordsegment (Google web corpus unigrams and bigrams). A caption counts when its
words, compared in compact form (`I'm` = `im`), are exactly the meme's words in order. The same is measured on the
captions typed upper-case without spaces (the worst case OCR produces), and each candidate's load time, memory and
time per caption are reported. Run alone: `python -m bench.words`.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # tests/fixtures is not a package of the wheel
    sys.path.insert(0, str(ROOT))

from tests.fixtures import memes as meme_fixtures  # noqa: E402

from reactbin.media.ocr import compact, load_engine, read_caption  # noqa: E402
from reactbin.media.words import Segment, readable  # noqa: E402


def _symspellpy() -> tuple[Segment, frozenset[str]]:
    import importlib.resources

    from symspellpy import SymSpell

    # Edit distance 0: segment only, never "correct" a word into another one.
    speller = SymSpell(max_dictionary_edit_distance=0, prefix_length=7)
    path = importlib.resources.files("symspellpy") / "frequency_dictionary_en_82_765.txt"
    speller.load_dictionary(str(path), term_index=0, count_index=1)

    def segment(run: str) -> list[str]:
        return speller.word_segmentation(run, max_edit_distance=0).segmented_string.split()

    return segment, frozenset(speller.words)


def _wordsegment() -> tuple[Segment, frozenset[str]]:
    """What the app uses (`media/words.py`)."""
    from reactbin.media.words import default_segmenter

    return default_segmenter()


CANDIDATES: dict[str, Callable[[], tuple[Segment, frozenset[str]]]] = {
    "symspellpy": _symspellpy,
    "wordsegment": _wordsegment,
}


@dataclass(frozen=True)
class WordsResult:
    candidate: str
    ocr_exact: int
    spaceless_exact: int
    total: int
    ms_per_caption: float
    load_seconds: float
    rss_mib: float
    misses: list[str]


def words_of(text: str) -> list[str]:
    return [word for word in (compact(part) for part in text.split()) if word]


def ocr_texts() -> list[str]:
    """What the app's OCR reads from each meme (PNG, as uploaded)."""
    engine = load_engine(1)
    texts = []
    with tempfile.TemporaryDirectory(prefix="reactbin-words-") as tmp:
        for meme in meme_fixtures.memes():
            path = Path(tmp) / meme.filename
            path.write_bytes(meme_fixtures.png_bytes(meme))
            texts.append(read_caption(engine, path, "image/png", frames=1, max_pixels=64_000_000).text)
    return texts


def _rss_mib() -> float:
    """Resident memory now (the peak counter would include what the parent process had at fork)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def measure_candidate(name: str, ocr: list[str]) -> WordsResult:
    """In this process: load the candidate, make every caption readable, compare word for word."""
    rss_before = _rss_mib()
    started = time.perf_counter()
    segment, known = CANDIDATES[name]()
    load_seconds = time.perf_counter() - started
    rss = _rss_mib() - rss_before
    expected = [words_of(meme.caption) for meme in meme_fixtures.memes()]
    spaceless = ["\n".join(line.upper().replace(" ", "") for line in meme.lines) for meme in meme_fixtures.memes()]
    timings: list[float] = []
    ocr_exact = spaceless_exact = 0
    misses: list[str] = []
    for want, read, typed in zip(expected, ocr, spaceless, strict=True):
        started = time.perf_counter()
        got = readable(read, segment, known)
        timings.append(time.perf_counter() - started)
        if compact(got) != compact(read):
            raise AssertionError(f"{name} changed more than spaces: {read!r} -> {got!r}")
        if words_of(got) == want:
            ocr_exact += 1
        else:
            misses.append(f"{read!r} -> {got!r}")
        spaceless_exact += words_of(readable(typed, segment, known)) == want
    return WordsResult(
        candidate=name,
        ocr_exact=ocr_exact,
        spaceless_exact=spaceless_exact,
        total=len(expected),
        ms_per_caption=statistics.median(timings) * 1000,
        load_seconds=load_seconds,
        rss_mib=rss,
        misses=misses,
    )


def measure(log: Callable[[str], None] = print) -> tuple[int, int, list[WordsResult]]:
    """(OCR captions already word for word, total, one result per candidate, each measured in a fresh process)."""
    log("reading the 48 memes with the app's OCR")
    ocr = ocr_texts()
    expected = [words_of(meme.caption) for meme in meme_fixtures.memes()]
    raw = sum(words_of(text) == want for text, want in zip(ocr, expected, strict=True))
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as handle:
        handle.write("\x00".join(ocr))
        texts_path = handle.name
    results = []
    for name in CANDIDATES:
        log(f"segmenting with {name}")
        # A fresh process per candidate: load time and memory are its own.
        out = subprocess.run(
            [sys.executable, "-m", "bench.words", "--one", name, "--texts", texts_path],
            check=True,
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        import msgspec

        results.append(msgspec.json.decode(out.stdout.strip().splitlines()[-1], type=WordsResult))
    Path(texts_path).unlink()
    return raw, len(expected), results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.words", description=__doc__)
    parser.add_argument("--one", choices=sorted(CANDIDATES), help=argparse.SUPPRESS)
    parser.add_argument("--texts", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        import msgspec

        ocr = Path(args.texts).read_text().split("\x00")
        print(msgspec.json.encode(measure_candidate(args.one, ocr)).decode())
        return
    raw, total, results = measure()
    print(f"\nOCR text already word for word: {raw}/{total}")
    for r in results:
        print(
            f"{r.candidate}: OCR captions word for word {r.ocr_exact}/{r.total}; typed without spaces "
            f"{r.spaceless_exact}/{r.total}; {r.ms_per_caption:.2f} ms per caption; load {r.load_seconds:.1f} s; "
            f"+{r.rss_mib:.0f} MiB resident after loading"
        )
        for miss in r.misses:
            print(f"   {miss}")


if __name__ == "__main__":
    main()
