"""The crawl's progress, saved atomically after every page so that a killed crawl resumes.

``state.json`` is written to a temporary file, flushed to disk and renamed over the old one, so it
is always either the previous or the new state, never half of each. It records the cursor, the
counts and the byte length of each output file at the moment it was saved; on resume the outputs
are cut back to those lengths (see :class:`cinesense.crawl.store.RecordStore`), so a page written
after the last checkpoint is fetched again rather than kept twice or lost.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from cinesense.atomic import atomic_open
from cinesense.data.schema import DataError

STATE_FILE = "state.json"
STATE_VERSION = 1


@dataclass
class CrawlState:
    """Everything a crawl needs to continue where it stopped.

    The comments phase pages with ``cursor``; the replies phase walks ``comments.jsonl`` from byte
    ``thread_offset`` up to ``comments_end`` and pages one thread with ``thread_cursor``; the danmu
    phase fetches segment ``danmu_index`` next.
    """

    target: str
    article: str | None = None
    vid: str | None = None
    cid: str | None = None
    salt: str = field(default_factory=lambda: secrets.token_hex(16))
    version: int = STATE_VERSION
    completed: list[str] = field(default_factory=list)
    stop_reason: str | None = None
    cursor: str = "0"
    pages: int = 0
    cursor_retries: int = 0
    oritotal: int | None = None
    top_level: int = 0
    comments: int = 0
    duplicates: int = 0
    empty: int = 0
    images: int = 0
    image_errors: int = 0
    offsets: dict[str, int] = field(default_factory=dict)
    comments_end: int | None = None
    thread_offset: int = 0
    thread_cursor: str | None = None
    thread_fetched: int = 0
    threads: int = 0
    reply_pages: int = 0
    danmu_index: int = 0
    danmu: int = 0

    def summary(self) -> dict[str, object]:
        """The counts worth printing at the end of a run."""
        keys = ("article", "vid", "cid", "completed", "stop_reason", "pages", "oritotal", "top_level", "comments",
                "duplicates", "empty", "images", "image_errors", "threads", "reply_pages", "danmu")
        return {k: getattr(self, k) for k in keys}


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically (:func:`cinesense.atomic.atomic_open`)."""
    with atomic_open(path, "wb") as out:
        out.write(data)


def save_state(state: CrawlState, directory: Path) -> None:
    """Write ``directory/state.json`` atomically."""
    text = json.dumps(dataclasses.asdict(state), ensure_ascii=False, indent=1)
    write_atomic(directory / STATE_FILE, text.encode("utf-8"))


def load_state(directory: Path) -> CrawlState | None:
    """The saved state of the crawl in ``directory``, or None if it has none.

    Raises:
        DataError: naming the file, if it is not a state this version wrote.
    """
    path = directory / STATE_FILE
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("version") != STATE_VERSION:
            raise ValueError(f"version {data.get('version')!r}, expected {STATE_VERSION}")
        return CrawlState(**data)
    except (ValueError, TypeError, AttributeError) as error:
        raise DataError(f"{path}: not a crawl state of this version ({error}); use a new --out folder") from None
