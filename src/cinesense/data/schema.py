"""The one record type of cinesense and the errors raised on bad input."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class DataError(ValueError):
    """Bad input data; the message names the file and line (or field)."""


def check_input_file(path: str | Path) -> Path:
    """``path`` as a Path if it names a file that can be read; DataError naming it otherwise (a
    missing path, a folder). A pipe or device (e.g. ``<(zcat x.gz)``) is accepted."""
    path = Path(path)
    if path.is_dir():
        raise DataError(f"{path}: is a folder, not a file")
    if not path.exists():
        raise DataError(f"{path}: file not found")
    return path


def check_output_file(path: str | Path) -> Path:
    """``path`` as a Path if a file can be written there; DataError naming it when it is a folder
    (or its parent is a file), before any work is done."""
    path = Path(path)
    if path.is_dir():
        raise DataError(f"{path}: is a folder; give a file name")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise DataError(f"{path}: {parent} is a file, not a folder")
            break
    return path


@dataclass(frozen=True)
class Record:
    """One comment: text and/or images, and a label (None for unlabelled data).

    ``images`` holds absolute paths; ``meta`` keeps every extra field of the source line; ``line``
    is the line of the source file the record was read from (None when it was not read from a file),
    so that errors about it can name the file and line.
    """

    id: str
    text: str | None
    label: str | None
    images: tuple[Path, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict, compare=False)
    line: int | None = field(default=None, compare=False)

    def where(self, source: str | Path | None) -> str:
        """``source:line`` (or ``source: record 'id'`` when the line is unknown) for error messages."""
        place = f"line {self.line}" if self.line is not None else f"record {self.id!r}"
        if not source:
            return place
        return f"{source}:{self.line}" if self.line is not None else f"{source}: {place}"

    @property
    def image(self) -> Path | None:
        """The first image, or None."""
        return self.images[0] if self.images else None


def one_record_per_image(records: "list[Record] | tuple[Record, ...]") -> list[Record]:
    """Image-only records, one per image (id ``{comment id}#{k}``), labelled with their comment's label."""
    return [Record(f"{r.id}#{k}", None, r.label, (path,)) for r in records for k, path in enumerate(r.images)]


@dataclass(frozen=True)
class Skipped:
    """A line that ``skip_invalid`` left out, and why."""

    source: str
    line: int
    reason: str


@dataclass
class Dataset:
    """Records loaded from one source, plus what was skipped (only with ``skip_invalid``)."""

    records: list[Record]
    source: str = ""
    skipped: list[Skipped] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.records)

    @property
    def labels(self) -> list[str]:
        return [r.label for r in self.records if r.label is not None]

    def skipped_summary(self) -> dict[str, int]:
        """Count of skipped lines per reason (without the line-specific detail)."""
        return dict(Counter(s.reason.split(":")[0] for s in self.skipped))

    def class_counts(self) -> dict[str, int]:
        return dict(sorted(Counter(self.labels).items()))
