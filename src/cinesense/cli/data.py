"""``cinesense clean``, ``data emoji``, ``data import`` and ``weights fetch``: build and clean data sets,
fetch pretrained weights."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from cinesense.data.schema import DataError


def add_commands(commands: argparse._SubParsersAction) -> None:
    clean = commands.add_parser("clean", help="drop advertising / irrelevant images from a JSONL file (paper §3.1)")
    clean.add_argument("--data", type=Path, required=True, help="input, shared JSONL format")
    clean.add_argument("--out", type=Path, required=True, help="output JSONL (records whose image was dropped are left out)")
    clean.add_argument("--report", type=Path, help="what was dropped and why (.csv or .jsonl); default OUT.dropped.jsonl")
    clean.add_argument("--max-aspect-ratio", type=float, default=3.0, help="drop banners longer than this ratio")
    clean.add_argument("--max-comments-per-image", type=int, default=10,
                       help="drop an image (perceptual hash) attached to more distinct comments than this; 0 = off")
    clean.add_argument("--blocklist", type=Path, help="file of SHA-256 digests (one a line) of images to drop")

    data = commands.add_parser("data", help="build data sets")
    data_commands = data.add_subparsers(dest="data_command", required=True)
    emoji = data_commands.add_parser("emoji", help="build the labelled emoji-image corpus")
    emoji.add_argument("--out", type=Path, required=True, help="output folder")
    emoji.add_argument("--seed", type=int, default=0)
    emoji.add_argument("--styles", nargs="+", default=["openmoji", "noto"], help="emoji styles to render (default: both)")
    emoji.add_argument("--size", type=int, default=128, help="image side in pixels")
    emoji.add_argument("--test-fraction", type=float, default=0.2)
    emoji.add_argument("--dev-fraction", type=float, default=0.1)
    emoji.add_argument("--limit", type=int, default=None, help="at most this many emoji (for a quick look)")
    emoji.add_argument("--force", action="store_true", help="rebuild even when the folder is up to date")
    _add_import_parser(data_commands)

    weights = commands.add_parser("weights", help="pretrained weights")
    weights_commands = weights.add_subparsers(dest="weights_command", required=True)
    fetch = weights_commands.add_parser("fetch", help="fetch ImageNet VGG16 conv weights into the cache")
    fetch.add_argument("--cache-dir", type=Path, default=None, help="default: $CINESENSE_CACHE or ~/.cache/cinesense")


def _add_import_parser(data_commands: argparse._SubParsersAction) -> None:
    """Register ``data import`` on the ``data`` sub-parsers."""
    imp = data_commands.add_parser("import", help="turn a crawl folder into a training-ready JSONL file")
    imp.add_argument("crawl", type=Path, help="folder written by `cinesense crawl`")
    imp.add_argument("--out", type=Path, required=True, help="output JSONL (shared format)")
    imp.add_argument("--danmu", action="store_true", help="include danmu.jsonl (ids prefixed danmu-)")
    imp.add_argument("--no-clean", action="store_true", help="keep every image (skip the ad / irrelevant image filter)")
    imp.add_argument("--max-aspect-ratio", type=float, default=3.0, help="drop banner images longer than this ratio")
    imp.add_argument("--max-comments-per-image", type=int, default=10, help="drop an image repeated in more comments; 0 = off")
    imp.add_argument("--blocklist", type=Path, help="file of SHA-256 digests (one a line) of images to drop")
    imp.add_argument("--stickers", type=Path, help="folder (流泪.png = [流泪]) or JSON map of emoticon codes to images")
    imp.add_argument("--labels", type=Path, help="a filled-in labelling CSV (columns id, label): human labels")
    imp.add_argument("--model", type=Path, help="trained model folder: add predicted labels (marked as predicted)")
    imp.add_argument("--label-sheet", type=Path, help="also write a CSV to label by hand")
    imp.add_argument("--keep-raw", action="store_true", help="keep each record's raw API fields")


def run_weights(args: argparse.Namespace) -> int:
    from cinesense.image.weights import fetch_vgg16_weights

    path = fetch_vgg16_weights(args.cache_dir)
    print(f"VGG16 ImageNet conv weights: {path}")
    return 0


def run_clean(args: argparse.Namespace) -> int:
    import os

    from cinesense.data.jsonl import load_jsonl, write_jsonl
    from cinesense.data.schema import check_input_file, check_output_file
    from cinesense.data.ad_filter import clean_images, read_blocklist, write_clean_report

    report_path = args.report or args.out.with_suffix(".dropped.jsonl")
    for path in (args.out, report_path):  # checked before any work: a folder, or the input itself
        check_output_file(path)
        if path.exists() and check_input_file(args.data) and os.path.samefile(path, args.data):
            raise DataError(f"{path} is the input file {args.data}; --out and --report must name other files")
    records = load_jsonl(args.data, require_label=False).records
    blocklist = read_blocklist(args.blocklist) if args.blocklist else frozenset()
    pairs = [(r.id, path) for r in records for path in r.images]
    result = clean_images(
        pairs, max_aspect_ratio=args.max_aspect_ratio, max_comments_per_image=args.max_comments_per_image or None,
        blocklist_sha256=blocklist,
    )
    dropped_ids = {item[0] for item, _ in result.dropped}
    write_jsonl([r for r in records if r.id not in dropped_ids], args.out)
    report = write_clean_report(result, report_path)
    counts = ", ".join(f"{k} {v}" for k, v in result.reason_counts().items()) or "nothing"
    print(f"kept {len(records) - len(dropped_ids)} of {len(records)} records; dropped: {counts}; details in {report}")
    return 0


def run_data(args: argparse.Namespace) -> int:
    if args.data_command == "import":
        return run_import(args)
    from cinesense.data.emoji import build_emoji_corpus

    summary = build_emoji_corpus(
        args.out, styles=args.styles, size=args.size, seed=args.seed, test_fraction=args.test_fraction,
        dev_fraction=args.dev_fraction, limit=args.limit, force=args.force,
    )
    print(json.dumps({k: v for k, v in summary.items() if k != "skipped"}, ensure_ascii=False, indent=2))
    return 0


def run_import(args: argparse.Namespace) -> int:
    """``cinesense data import``: prints the summary as JSON."""
    from cinesense.data.crawl_import import ImportOptions, import_crawl, load_sticker_map, read_labels

    from cinesense.data.ad_filter import read_blocklist

    blocklist = read_blocklist(args.blocklist) if args.blocklist else frozenset()
    options = ImportOptions(danmu=args.danmu, clean=not args.no_clean, max_aspect_ratio=args.max_aspect_ratio,
                            max_comments_per_image=args.max_comments_per_image or None, blocklist_sha256=blocklist,
                            keep_raw=args.keep_raw)
    summary = import_crawl(
        args.crawl, args.out, options,
        stickers=load_sticker_map(args.stickers) if args.stickers else None,
        labels=read_labels(args.labels) if args.labels else None,
        model=args.model, label_sheet=args.label_sheet,
    )
    print(json.dumps(summary, ensure_ascii=False, indent=2))
    return 0


COMMANDS = {"clean": run_clean, "data": run_data, "weights": run_weights}
