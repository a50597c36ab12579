"""`reactbin fsck | reindex | dupes`: keeping the database, the store and the derived data in step, and finding
near-duplicates; safe while serving."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from reactbin.cli.common import data_dir_argument, embedded_defaults, load_settings
from reactbin.settings import ConfigError, Settings

if TYPE_CHECKING:  # imported lazily at run time: `reactbin --help` stays quick to start
    from reactbin.domain.resources import Resources


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    fsck = commands.add_parser(
        "fsck", help="check that database and store agree (dry run unless --repair); safe while serving"
    )
    fsck.add_argument("--repair", action="store_true", help="regenerate missing thumbnails, remove orphan objects")
    data_dir_argument(fsck)
    fsck.set_defaults(run=run_fsck)

    reindex = commands.add_parser(
        "reindex",
        help="queue background work again for existing images (workers do it); safe while serving, any workers",
        description="Queue work for existing images, one or more kinds: --ocr, --media. Workers (`reactbin worker`, "
        "or `serve`/`dev`) do the work; --ocr shows their progress until it is done.",
    )
    reindex.add_argument(
        "--ocr", action="store_true", help="caption text (OCR): images whose text is pending or failed"
    )
    reindex.add_argument(
        "--media",
        action="store_true",
        help="probe media kind, duration and sound; make missing placeholders, previews and perceptual hashes "
        "(older images need these for `reactbin dupes` and similar images)",
    )
    reindex.add_argument(
        "--all",
        action="store_true",
        help="every image, not only those that lack something (OCR: hand-set text stays)",
    )
    reindex.add_argument("--no-wait", action="store_true", help="queue and exit without watching the progress")
    data_dir_argument(reindex)
    reindex.set_defaults(run=run_reindex)

    dupes = commands.add_parser(
        "dupes",
        help="list groups of near-duplicate images (the same picture and caption); changes nothing",
        description="Groups of images that show the same picture with the same caption (or none), oldest first, "
        "found by perceptual hash. Images stored before hashing existed need `reactbin reindex --media` first.",
    )
    dupes.add_argument("--json", action="store_true", help='print {"groups": [{"images": [...]}]} for scripts')
    data_dir_argument(dupes)
    dupes.set_defaults(run=run_dupes)


def run_dupes(args: argparse.Namespace) -> int:
    import msgspec

    from reactbin.domain import duplicates
    from reactbin.domain.resources import open_resources

    async def run(local: Settings) -> tuple[list[duplicates.DuplicateGroup], int]:
        async with open_resources(local, serving=False) as res:
            groups = [group async for group in duplicates.duplicate_groups(res)]
            return groups, await duplicates.unhashed_count(res)

    with embedded_defaults(load_settings(), args.data_dir) as local:
        groups, unhashed = asyncio.run(run(local))
    if args.json:
        summary = {"groups": [duplicates.group_summary(group) for group in groups], "unhashed": unhashed}
        print(msgspec.json.encode(summary).decode())
        return 0
    for number, group in enumerate(groups, 1):
        print(f"group {number}: {len(group.images)} images")
        for image in group.images:
            caption = " ".join((image.text or "").split())
            line = f"  {image.id}  {image.created_at:%Y-%m-%d %H:%M}  {image.filename}"
            print(line + (f"  {caption!r}" if caption else ""))
    print(f"{len(groups)} group(s) of duplicates" if groups else "no duplicates")
    if unhashed:
        print(f"{unhashed} image(s) not hashed yet: run `reactbin reindex --media` and let the workers finish")
    return 0


def run_fsck(args: argparse.Namespace) -> int:
    from reactbin.domain import fsck
    from reactbin.domain.resources import open_resources

    async def run(local: Settings) -> fsck.Report:
        async with open_resources(local, serving=False) as res:
            return await fsck.check(res, repair=repair)

    repair = args.repair
    with embedded_defaults(load_settings(), args.data_dir) as local:
        report = asyncio.run(run(local))
    print(f"checked {report.images_checked} images and {report.objects_checked} objects")
    sections = [
        ("images whose original is missing", report.missing_originals),
        ("images without a thumbnail", report.missing_thumbnails),
        ("images without their preview, placeholder or media facts", report.missing_media),
        ("objects no image references", report.orphan_objects),
        ("thumbnails regenerated", report.thumbnails_regenerated),
        ("previews, placeholders and media facts made", report.media_repaired),
        ("orphans removed", report.orphans_removed),
        ("repairs that failed", report.repair_failures),
    ]
    for title, items in sections:
        if items:
            print(f"{title}: {len(items)}")
            for item in items:
                print(f"  {item}")
    if report.clean:
        print("everything is consistent")
    elif not repair:
        print("dry run: nothing changed; run `reactbin fsck --repair` to regenerate thumbnails and remove orphans")
    return 0 if report.clean or (repair and not report.repair_failures and not report.missing_originals) else 1


def run_reindex(args: argparse.Namespace) -> int:
    kinds = [kind for kind in _REINDEX_KINDS if getattr(args, kind)]
    if not kinds:
        raise ConfigError("say what to reindex: --ocr, --media, or both")
    from reactbin.domain.resources import open_resources

    async def run(local: Settings) -> None:
        async with open_resources(local, serving=False) as res:
            for kind in kinds:
                await _REINDEX_KINDS[kind](res, args.all, not args.no_wait)

    with embedded_defaults(load_settings(), args.data_dir) as local:
        try:
            asyncio.run(run(local))
        except KeyboardInterrupt:
            print("\nstopped watching; the queued work goes on in the workers", file=sys.stderr)
            return 130
    return 0


async def _reindex_ocr(res: Resources, redo_all: bool, wait: bool) -> None:
    """Queue OCR for images that need it, then print `queued / done / failed / rate` until none is pending."""
    from reactbin.domain import captions

    async with res.db() as conn:
        since = await conn.fetchval("SELECT now()")
    queued = 0
    async for queued in captions.queue_reindex(res, redo_all=redo_all):
        print(f"ocr: queued {queued}", flush=True)
    print(f"ocr: {queued} image(s) queued" + ("" if queued else "; nothing to do"), flush=True)
    if not wait or not queued:
        return
    started = time.monotonic()
    interactive = sys.stdout.isatty()
    last_line = 0.0
    hinted = False
    while True:
        counts = await captions.reindex_counts(res, since)
        if not hinted and counts.done + counts.failed == 0 and time.monotonic() - started > _IDLE_HINT_AFTER:
            hinted = True
            print(
                "\nocr: nothing read yet: is a worker with RUN_OCR running (`reactbin worker`, or `serve`/`dev`)? "
                "Ctrl-C stops watching; the queued work stays queued",
                file=sys.stderr,
                flush=True,
            )
        elapsed = max(time.monotonic() - started, 1e-3)
        line = (
            f"ocr: queued {queued}, done {counts.done}, failed {counts.failed}, pending {counts.pending}, "
            f"{(counts.done + counts.failed) / elapsed:.1f} images/s"
        )
        finished = counts.pending == 0
        if interactive:
            print("\r" + line, end="\n" if finished else "", flush=True)
        elif finished or time.monotonic() - last_line >= 5:
            print(line, flush=True)
            last_line = time.monotonic()
        if finished:
            return
        await asyncio.sleep(0.5)


_IDLE_HINT_AFTER = 60.0


async def _reindex_media(res: Resources, redo_all: bool, wait: bool) -> None:
    from reactbin.domain.media_jobs import queue_reindex

    queued = await queue_reindex(res, everything=redo_all)
    print(f"queued media work for {queued} image(s); `reactbin worker` (or serve/dev) processes it", flush=True)


_REINDEX_KINDS: dict[str, Callable[[Resources, bool, bool], Awaitable[None]]] = {
    "media": _reindex_media,
    "ocr": _reindex_ocr,
}
"""What `reactbin reindex --<kind>` queues, in this order."""
