"""Append-only JSONL outputs, deduplicated by id, kept consistent with the checkpoint.

The ids already written live in a small SQLite table on disk (``seen.sqlite``), not in memory,
so memory stays flat however long the crawl. Each id row carries the byte offset at which its
page was appended; :meth:`RecordStore.restore` cuts every file back to the checkpointed length
and forgets the ids written past it, so the page that a kill interrupted is fetched and written
again, once.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO, Any

from cinesense.data.schema import DataError

SEEN_FILE = "seen.sqlite"
_CHUNK = 500


class RecordStore:
    """JSONL files in one folder, each deduplicated by record ``id``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(directory / SEEN_FILE)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # atomic commits; a kill loses nothing committed
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS seen (file TEXT, id TEXT, offset INTEGER, PRIMARY KEY (file, id)) WITHOUT ROWID"
        )
        self._handles: dict[str, IO[bytes]] = {}

    def restore(self, offsets: dict[str, int], names: Iterable[str]) -> None:
        """Cut each file back to its checkpointed length (0 if not checkpointed) and forget later ids.

        Raises:
            DataError: a file is shorter than the checkpoint says (it was edited or replaced).
        """
        for name in set(names) | set(offsets):
            path, keep = self.directory / name, offsets.get(name, 0)
            size = path.stat().st_size if path.exists() else 0
            if size < keep:
                raise DataError(f"{path}: {size} bytes, but the checkpoint says {keep}; the crawl folder was changed by hand")
            if size > keep:
                with open(path, "r+b") as handle:
                    handle.truncate(keep)
            self._db.execute("DELETE FROM seen WHERE file = ? AND offset >= ?", (name, keep))
        self._db.commit()

    def offset(self, name: str) -> int:
        """The current length of file ``name`` in bytes."""
        path = self.directory / name
        return path.stat().st_size if path.exists() else 0

    def unseen(self, name: str, records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """The records whose id is neither in file ``name`` nor earlier in ``records``."""
        ids = list({r["id"] for r in records if r.get("id")})
        known: set[str] = set()
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            rows = self._db.execute(
                f"SELECT id FROM seen WHERE file = ? AND id IN ({','.join('?' * len(chunk))})", (name, *chunk)
            )
            known.update(row[0] for row in rows)
        fresh: list[dict[str, Any]] = []
        for record in records:
            if record.get("id") and record["id"] not in known:
                known.add(record["id"])
                fresh.append(record)
        return fresh

    def append(self, name: str, records: Sequence[dict[str, Any]]) -> None:
        """Append records (already deduplicated by :meth:`unseen`) to file ``name``, durably."""
        if not records:
            return
        handle = self._handles.get(name)
        if handle is None:
            handle = self._handles[name] = open(self.directory / name, "ab")
        start = handle.tell()
        handle.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode("utf-8"))
        handle.flush()
        os.fsync(handle.fileno())
        self._db.executemany("INSERT OR IGNORE INTO seen VALUES (?, ?, ?)", [(name, r["id"], start) for r in records])
        self._db.commit()

    def close(self) -> None:
        """Close the files and the id table."""
        for handle in self._handles.values():
            handle.close()
        self._handles.clear()
        self._db.close()

    def __enter__(self) -> "RecordStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
