"""Loader for CSV review files with a column mapping (e.g. the ``chinese_reviews/`` files)."""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from cinesense.data.schema import Dataset, DataError, Record, Skipped, check_input_file

#: The ``chinese_reviews`` convention: label 1 = positive, 0 = negative.
BINARY_LABEL_MAP = {"1": "positive", "0": "negative"}


def load_csv(
    path: str | Path,
    *,
    text_column: str = "review",
    label_column: str | None = "label",
    label_map: Mapping[str, str] | None = BINARY_LABEL_MAP,
    id_prefix: str | None = None,
    skip_invalid: bool = False,
    labels: Sequence[str] | None = None,
) -> Dataset:
    """Load a CSV file with a header row.

    Args:
        path: the file (UTF-8, a BOM is accepted).
        text_column: column holding the review text.
        label_column: column holding the label, or None for unlabelled text.
        label_map: maps raw label values to label names; None keeps raw values.
        id_prefix: ids are ``{prefix}-{line}``; defaults to the file stem.
        skip_invalid: leave out bad rows (recorded in ``Dataset.skipped``) instead of raising.
        labels: allowed label names after mapping; None accepts any.

    Raises:
        DataError: naming the file and line of the first bad row (unless ``skip_invalid``); naming
            the path when it is missing or a folder.
    """
    path = check_input_file(path)
    raw = path.read_bytes()
    try:
        content = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        offset = len(codecs.BOM_UTF8) if raw.startswith(codecs.BOM_UTF8) else 0
        line = raw[: error.start + offset].count(b"\n") + 1
        raise DataError(f"{path}:{line}: not valid UTF-8 ({error.reason})") from None
    reader = csv.DictReader(io.StringIO(content, newline=""))
    try:
        header = reader.fieldnames or []
    except csv.Error as error:
        raise DataError(f"{path}:{reader.line_num + 1}: malformed CSV ({error})") from None
    twice = sorted({column for column in header if header.count(column) > 1})
    if twice:
        raise DataError(f"{path}:1: column {twice[0]!r} appears more than once in the header")
    for column in (text_column, label_column):
        if column is not None and column not in header:
            raise DataError(f"{path}:1: missing column {column!r} (header: {', '.join(header)})")
    prefix = id_prefix or path.stem
    records: list[Record] = []
    skipped: list[Skipped] = []
    for row in _rows(reader, path):
        number = reader.line_num
        try:
            text = (row.get(text_column) or "").replace("\ufeff", "").strip()
            if not text:
                raise ValueError("empty text")
            label = None
            if label_column is not None:
                value = (row.get(label_column) or "").strip()
                label = label_map.get(value) if label_map is not None else value
                if label is None or (labels is not None and label not in labels):
                    raise ValueError(f"unknown label {value!r} in column {label_column!r}")
        except ValueError as error:
            if not skip_invalid:
                raise DataError(f"{path}:{number}: {error}") from None
            skipped.append(Skipped(str(path), number, str(error)))
            continue
        meta = {k: v for k, v in row.items() if k not in (text_column, label_column) and k is not None}
        records.append(Record(id=f"{prefix}-{number}", text=text, label=label, meta=meta, line=number))
    return Dataset(records=records, source=str(path), skipped=skipped)


def _rows(reader: csv.DictReader, path: Path) -> Iterator[dict]:
    """The reader's rows; a row the csv module cannot read (a field over its size limit...) is a
    DataError naming the file and line."""
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:  # the record that failed starts on the line after the last one read
            raise DataError(f"{path}:{reader.line_num + 1}: malformed CSV ({error})") from None
        yield row
