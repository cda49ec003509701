"""Command-line wiring of ``cinesense crawl`` and ``cinesense data import``.

``cinesense.cli`` calls :func:`add_crawl_parser` and :func:`add_import_parser` to register the
commands and dispatches to :func:`run_crawl` and :func:`run_import`.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

from cinesense.crawl.http import DEFAULT_USER_AGENT, Backoff, CrawlError, PoliteClient


def add_crawl_parser(commands: argparse._SubParsersAction) -> None:
    """Register ``crawl tencent`` and ``crawl endpoints`` on the top-level sub-parsers."""
    crawl = commands.add_parser("crawl", help="collect comments from a video site (politely, resumably)")
    sites = crawl.add_subparsers(dest="crawl_command", required=True)
    tencent = sites.add_parser("tencent", help="Tencent Video comments (and replies, danmu, attached images)")
    tencent.add_argument("target", help="play-page URL (v.qq.com/x/cover/CID/VID.html), vid, cid or comment article id "
                                        "(prefix vid:, cid: or article: if in doubt)")
    tencent.add_argument("--out", type=Path, required=True, help="crawl folder; run the same command again to resume")
    tencent.add_argument("--replies", action="store_true", help="also fetch full reply threads (reply/v2)")
    tencent.add_argument("--danmu", action="store_true", help="also fetch danmu (bullet comments) into danmu.jsonl")
    tencent.add_argument("--no-images", action="store_true", help="record attached image URLs but do not download them")
    tencent.add_argument("--nicknames", action="store_true", help="keep authors' nicknames (off: personal data)")
    tencent.add_argument("--avatars", action="store_true", help="keep authors' avatar URLs (off: personal data)")
    tencent.add_argument("--max-pages", type=int, default=5000, help="hard cap on top-level pages (default 5000)")
    tencent.add_argument("--page-size", type=int, help="top-level comments per page (orinum; endpoint default 10)")
    tencent.add_argument("--rate", type=float, default=1.0, help="requests per second per host (default 1; 0 lifts the limit)")
    tencent.add_argument("--retries", type=int, default=5, help="retries per request, with exponential back-off (default 5)")
    tencent.add_argument("--backoff", type=float, default=2.0, help="first back-off delay in seconds, doubled per retry (default 2)")
    tencent.add_argument("--timeout", type=float, default=20.0, help="network timeout in seconds (default 20)")
    tencent.add_argument("--user-agent", default=DEFAULT_USER_AGENT, help="User-Agent header")
    _add_endpoint_arguments(tencent)
    tencent.add_argument("--quiet", action="store_true", help="no progress bar")
    endpoints = sites.add_parser("endpoints", help="print the endpoint settings as TOML (edit, then pass --endpoints)")
    _add_endpoint_arguments(endpoints)


def _add_endpoint_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--endpoints", type=Path, help="TOML file overriding endpoint URLs, parameters and headers")
    parser.add_argument("--base-url", help="send every endpoint to this host instead, keeping each path")


def add_import_parser(data_commands: argparse._SubParsersAction) -> None:
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


def _endpoints(args: argparse.Namespace) -> dict:
    from cinesense.crawl.endpoints import load_endpoints

    return load_endpoints(args.endpoints, args.base_url)


def run_crawl(args: argparse.Namespace) -> int:
    """``cinesense crawl ...``: 0 when the crawl ends, 1 when a request fails for good, 130 on Ctrl-C."""
    from cinesense.crawl.crawler import CrawlOptions, crawl
    from cinesense.crawl.endpoints import dump_endpoints
    from cinesense.crawl.tencent import TencentApi

    endpoints = _endpoints(args)
    if args.crawl_command == "endpoints":
        print(dump_endpoints(endpoints), end="")
        return 0
    if args.page_size:
        comments = endpoints["comments"]
        endpoints["comments"] = replace(comments, params={**comments.params, "orinum": str(args.page_size)})
    client = PoliteClient(rate=args.rate or None, timeout=args.timeout, user_agent=args.user_agent,
                          backoff=Backoff(base=args.backoff, retries=args.retries))
    options = CrawlOptions(max_pages=args.max_pages, replies=args.replies, danmu=args.danmu, images=not args.no_images,
                           nicknames=args.nicknames, avatars=args.avatars, progress=not args.quiet)
    try:
        state = crawl(args.target, args.out, TencentApi(client, endpoints), options)
    except CrawlError as error:
        print(f"cinesense crawl: error: {error}\n  progress is saved in {args.out}; run the same command again to resume",
              file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"cinesense crawl: interrupted; run the same command again to resume from {args.out}", file=sys.stderr)
        return 130
    stats = client.stats
    summary = {**state.summary(), "requests": stats.requests, "retries": stats.retries, "out": str(args.out / "comments.jsonl")}
    print(json.dumps(summary, ensure_ascii=False))
    return 0


def run_import(args: argparse.Namespace) -> int:
    """``cinesense data import``: prints the summary as JSON."""
    from cinesense.crawl.dataset import ImportOptions, import_crawl, load_sticker_map, read_labels

    blocklist = frozenset()
    if args.blocklist:
        lines = args.blocklist.read_text(encoding="utf-8").splitlines()
        blocklist = frozenset(line.strip().lower() for line in lines if line.strip())
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
