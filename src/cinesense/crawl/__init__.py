"""Collect comments from Tencent Video politely and resumably, into the shared JSONL format.

``http`` (rate limit, back-off, timeouts), ``endpoints`` (configurable URLs), ``parse`` (lenient
JSON/JSONP), ``records`` (API objects -> records), ``tencent`` (targets, article id, pages),
``store`` and ``checkpoint`` (deduplicated outputs, atomic progress), ``images`` (attachments),
``crawler`` (the crawl loop). Turning a crawl into a data set is :mod:`cinesense.data.crawl_import`;
the commands are :mod:`cinesense.cli.crawl`; a local stand-in for the endpoints, for tests and
benchmarks, is ``tests/fake_tencent.py``. See ``docs/crawl.md``.
"""

from cinesense.crawl.crawler import CrawlOptions, crawl
from cinesense.crawl.http import Backoff, CrawlError, PoliteClient

__all__ = ["Backoff", "CrawlError", "CrawlOptions", "PoliteClient", "crawl"]
