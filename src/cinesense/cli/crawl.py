"""``cinesense crawl tencent`` and ``cinesense crawl endpoints``: collect comments politely and resumably."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

from cinesense.crawl.http import DEFAULT_USER_AGENT, Backoff, CrawlError, PoliteClient


def add_commands(commands: argparse._SubParsersAction) -> None:
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


COMMANDS = {"crawl": run_crawl}
