"""Crawler throughput and memory against a local stand-in for the Tencent endpoints.

    .venv/bin/python bench/crawl_throughput.py [--comments 100000] [--small 10000] [--page-size 10]

A server on 127.0.0.1 (its own process) serves comments in the documented ``comment/v2``
shape, each with one embedded reply. The crawler runs with the rate limit lifted; every page is
still written, fsynced and checkpointed as in a real crawl. Prints pages/s and records/s (no
tracing), then the Python-heap peak (tracemalloc) and the process's peak RSS
(ru_maxrss) of a crawl of ``--small`` and of ``--comments`` comments: flat memory means the two
peaks are about the same. The speed runs crawl ``--small`` comments twice, once as shipped and
once with ``os.fsync`` patched out, to show how much of the time is the per-page durability.
Nothing is asserted.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import resource
import tempfile
import time
import tracemalloc
from dataclasses import replace
from pathlib import Path
from unittest import mock

import sys

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # the fake Tencent server lives with the tests

from cinesense.crawl.crawler import CrawlOptions, crawl
from cinesense.crawl.endpoints import load_endpoints
from fake_tencent import FakeServer, SyntheticArticle
from cinesense.crawl.http import PoliteClient
from cinesense.crawl.tencent import TencentApi

ARTICLE = "7700000001"


def serve(total: int, ready: multiprocessing.Queue, stop: multiprocessing.Event) -> None:
    with FakeServer(SyntheticArticle(total, article=ARTICLE, with_replies=True), log_requests=False) as server:
        ready.put(server.url)
        stop.wait()


def run_crawl(url: str, page_size: int, out: Path) -> tuple[int, int, float]:
    """Crawl the whole article into ``out``; returns (pages, records, seconds)."""
    endpoints = load_endpoints(base_url=url)
    comments = endpoints["comments"]
    endpoints["comments"] = replace(comments, params={**comments.params, "orinum": str(page_size)})
    api = TencentApi(PoliteClient(rate=None), endpoints)
    tick = time.perf_counter()
    state = crawl(f"article:{ARTICLE}", out, api, CrawlOptions(max_pages=10**9, progress=False))
    return state.pages, state.comments, time.perf_counter() - tick


def with_server(total: int, page_size: int, trace: bool) -> dict[str, float]:
    context = multiprocessing.get_context("spawn")
    ready, stop = context.Queue(), context.Event()
    process = context.Process(target=serve, args=(total, ready, stop), daemon=True)
    process.start()
    try:
        url = ready.get(timeout=120)
        with tempfile.TemporaryDirectory() as folder:
            if trace:
                tracemalloc.start()
            pages, records, seconds = run_crawl(url, page_size, Path(folder) / "crawl")
            peak = tracemalloc.get_traced_memory()[1] if trace else 0
            tracemalloc.stop()
    finally:
        stop.set()
        process.join(timeout=10)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return {"pages": pages, "records": records, "seconds": seconds, "heap_peak_mib": peak / 2**20, "rss_mib": rss}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--comments", type=int, default=100_000, help="top-level comments in the big crawl")
    parser.add_argument("--small", type=int, default=10_000, help="top-level comments in the small crawl (and the speed runs)")
    parser.add_argument("--page-size", type=int, default=10, help="orinum (the web default is 10)")
    args = parser.parse_args()

    print(f"crawl of {args.small:,} comments (+1 embedded reply each), page size {args.page_size}, rate limit lifted:")
    for label, durable in (("as shipped (fsync per page)", True), ("fsync patched out", False)):
        with contextlib.nullcontext() if durable else mock.patch("os.fsync"):
            speed = with_server(args.small, args.page_size, trace=False)
        print(f"  {label:28} {speed['pages'] / speed['seconds']:7.1f} pages/s  {speed['records'] / speed['seconds']:8.1f} records/s"
              f"  ({speed['pages']:,} pages, {speed['records']:,} records, {speed['seconds']:.1f} s)")
    print("memory (tracemalloc heap peak during the crawl; ru_maxrss of this process so far):")
    for total in (args.small, args.comments):
        figures = with_server(total, args.page_size, trace=True)
        print(f"  {total:>9,} comments: heap peak {figures['heap_peak_mib']:6.2f} MiB   max RSS {figures['rss_mib']:7.1f} MiB"
              f"   ({figures['pages']:,} pages in {figures['seconds']:.0f} s, traced)")


if __name__ == "__main__":
    main()
