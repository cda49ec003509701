"""The crawl itself: top-level comments, then (optionally) full reply threads and danmu, with a
checkpoint after every page so that the same command, run again, continues where it stopped.

Stop conditions of the top-level listing (API note §4), checked in this order after each page:
``empty_page`` (no comments, or ``oriretnum == 0``), ``no_more`` (``hasnext`` false),
``no_cursor`` (``last`` empty, ``false``, ``"false"`` or ``"0"``; first retried with back-off,
``cursor_retries`` times, as it also shows up transiently under load), ``repeated_cursor``
(``last`` equals the cursor just used), and, unless the page says ``hasnext: true``, the safety
caps ``reached_total`` (as many top-level comments as ``oritotal``) and ``short_page`` (fewer
than requested); finally ``page_cap`` (``max_pages`` requests).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from cinesense.crawl.checkpoint import CrawlState, load_state, save_state
from cinesense.crawl.images import ImageDownloader
from cinesense.crawl.parse import CommentPage, as_int, next_cursor
from cinesense.crawl.records import Privacy, comment_record, danmu_record
from cinesense.crawl.store import RecordStore
from cinesense.crawl.tencent import TencentApi, parse_target
from cinesense.data.schema import DataError

logger = logging.getLogger(__name__)

COMMENTS_FILE = "comments.jsonl"
DANMU_FILE = "danmu.jsonl"


@dataclass(frozen=True)
class CrawlOptions:
    """What to fetch and the limits (the rate limit and retries belong to the HTTP client)."""

    max_pages: int = 5000
    replies: bool = False
    danmu: bool = False
    images: bool = True
    nicknames: bool = False
    avatars: bool = False
    cursor_retries: int = 3
    max_reply_pages: int = 100
    progress: bool = True


class Crawler:
    """Crawls one target into one folder; see :func:`crawl`."""

    def __init__(self, api: TencentApi, directory: Path, options: CrawlOptions) -> None:
        self.api, self.directory, self.options = api, directory, options
        self.images = ImageDownloader(api.client, directory)

    def run(self, target: str) -> CrawlState:
        """Crawl (or resume crawling) ``target``; returns the final state."""
        state = self._start(target)
        opts = self.options
        if "comments" in state.completed and state.stop_reason == "page_cap" and state.pages < opts.max_pages:
            state.completed = [p for p in state.completed if p not in ("comments", "replies")]
            state.stop_reason = None  # a larger --max-pages continues a capped crawl
        with RecordStore(self.directory) as store:
            store.restore(state.offsets, [COMMENTS_FILE, DANMU_FILE])
            self.store, self.state = store, state
            self.privacy = Privacy(state.salt, opts.nicknames, opts.avatars)
            for phase, wanted, step in (("comments", True, self._comments), ("replies", opts.replies, self._replies),
                                        ("danmu", opts.danmu, self._danmu)):
                if wanted and phase not in state.completed:
                    step()
                    if phase == "comments":
                        state.comments_end = store.offset(COMMENTS_FILE)
                    state.completed.append(phase)
                    self._checkpoint()
        return state

    def _start(self, target: str) -> CrawlState:
        state = load_state(self.directory)
        if state is not None:
            if state.target != target:
                raise DataError(f"{self.directory} holds the crawl of {state.target!r}, not {target!r}; use another --out")
            return state
        existing = self.directory / COMMENTS_FILE
        if existing.exists() and existing.stat().st_size:
            raise DataError(f"{existing} exists but {self.directory} has no crawl state; use an empty --out folder")
        parsed = parse_target(target)
        state = CrawlState(target=target, vid=parsed.vid, cid=parsed.cid)
        state.article = self.api.resolve_article(parsed)
        self.directory.mkdir(parents=True, exist_ok=True)
        save_state(state, self.directory)
        return state

    def _checkpoint(self) -> None:
        self.state.offsets = {name: self.store.offset(name) for name in (COMMENTS_FILE, DANMU_FILE)}
        save_state(self.state, self.directory)

    def _save(self, name: str, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Write the records not seen before (images fetched first); returns those written."""
        fresh = self.store.unseen(name, records)
        self.state.duplicates += len(records) - len(fresh)
        kept = []
        for record in fresh:
            if self.options.images and record.get("image_urls"):
                stored, rejected = self.images.attach(record)
                self.state.images += stored
                self.state.image_errors += rejected
            if "text" in record or record.get("images"):
                kept.append(record)
            else:
                self.state.empty += 1  # neither text nor image: nothing to learn from
        self.store.append(name, kept)
        return kept

    # ------------------------------------------------------------------ top-level comments
    def _comments(self) -> None:
        state, opts = self.state, self.options
        requested = as_int(self.api.endpoints["comments"].params.get("orinum"), 10) or 10
        bar = tqdm(total=state.oritotal, initial=state.top_level, unit=" comments", disable=not opts.progress,
                   desc=f"article {state.article}")
        while state.stop_reason is None:
            if state.pages >= opts.max_pages:
                state.stop_reason = "page_cap"
                break
            page = self.api.comment_page(state.article, state.cursor)
            state.pages += 1
            records = [comment_record(c, page.users, self.privacy) for c in page.comments + page.hot + page.replies]
            written = self._save(COMMENTS_FILE, records)
            new_top = sum(1 for r in written if r["kind"] == "comment")
            state.top_level += new_top
            state.comments += len(written)
            if page.total is not None:
                state.oritotal = bar.total = page.total
            bar.update(new_top)
            reason = self._stop_reason(page, requested)
            if reason == "no_cursor" and state.cursor_retries < opts.cursor_retries:
                state.cursor_retries += 1
                self._checkpoint()
                self.api.client.pause(state.cursor_retries - 1)
                continue
            state.cursor_retries = 0
            if reason is None:
                state.cursor = next_cursor(page.last) or state.cursor
            state.stop_reason = reason
            self._checkpoint()
        bar.close()

    def _stop_reason(self, page: CommentPage, requested: int) -> str | None:
        returned = page.returned if page.returned is not None else len(page.comments)
        cursor = next_cursor(page.last)
        if not page.comments or returned == 0:
            return "empty_page"
        if page.has_next is False:
            return "no_more"
        if cursor is None:
            return "no_cursor"
        if cursor == self.state.cursor:
            return "repeated_cursor"
        if page.has_next is not True:
            if page.total is not None and self.state.top_level >= page.total:
                return "reached_total"
            if returned < (page.requested or requested):
                return "short_page"
        return None

    # ------------------------------------------------------------------ reply threads
    def _replies(self) -> None:
        state = self.state
        embedded = as_int(self.api.endpoints["comments"].params.get("orirepnum"), 0) or 0
        end = state.comments_end or 0
        with open(self.directory / COMMENTS_FILE, "rb") as handle:
            handle.seek(state.thread_offset)
            while handle.tell() < end:
                line = handle.readline()
                record = json.loads(line)
                if record.get("kind") == "comment" and (record.get("reply_count") or 0) > embedded:
                    self._thread(record)
                    state.threads += 1
                state.thread_offset = handle.tell()
                state.thread_cursor, state.thread_fetched = None, 0
                if record.get("kind") == "comment":
                    self._checkpoint()

    def _thread(self, root: dict[str, Any]) -> None:
        """Fetch one reply thread (``first`` is the next cursor), checkpointing after each page."""
        state = self.state
        cursor, fetched = state.thread_cursor or "0", state.thread_fetched
        for _ in range(self.options.max_reply_pages):
            page = self.api.reply_page(state.article, root["id"], cursor)
            state.reply_pages += 1
            records = [comment_record(c, page.users, self.privacy) for c in page.comments]
            state.comments += len(self._save(COMMENTS_FILE, records))
            fetched += len(page.comments)
            following = next_cursor(page.first)
            if (not page.comments or page.has_next is False or following is None or following == cursor
                    or fetched >= root["reply_count"]):
                return
            cursor = state.thread_cursor = following
            state.thread_fetched = fetched
            self._checkpoint()

    # ------------------------------------------------------------------ danmu
    def _danmu(self) -> None:
        state = self.state
        vid = state.vid or (self._first_vid() if state.cid is None else None)
        if not vid:
            logger.warning("no episode id (vid) for this target: danmu skipped")
            return
        segments = self.api.danmu_segments(vid)[: self.options.max_pages]
        bar = tqdm(total=len(segments), initial=state.danmu_index, unit=" segments", disable=not self.options.progress,
                   desc=f"danmu {vid}")
        for index in range(state.danmu_index, len(segments)):
            items = self.api.danmu(vid, segments[index])
            state.danmu += len(self._save(DANMU_FILE, [danmu_record(item, vid, self.privacy) for item in items]))
            state.danmu_index = index + 1
            self._checkpoint()
            bar.update(1)
        bar.close()

    def _first_vid(self) -> str | None:
        if not (self.directory / COMMENTS_FILE).exists():
            return None
        with open(self.directory / COMMENTS_FILE, encoding="utf-8") as handle:
            return next((vid for line in handle if (vid := json.loads(line).get("vid"))), None)


def crawl(target: str, directory: str | Path, api: TencentApi, options: CrawlOptions = CrawlOptions()) -> CrawlState:
    """Crawl ``target`` (URL, vid, cid or article id) into ``directory``, resuming a previous run.

    Writes ``comments.jsonl`` (and ``danmu.jsonl``, ``images/``), ``state.json`` and ``seen.sqlite``.

    Raises:
        CrawlError: a request failed after its retries (run again to resume).
        DataError: the folder holds another crawl or was changed by hand.
        ValueError: the target is not a URL, vid, cid or article id.
    """
    return Crawler(api, Path(directory), options).run(target)
