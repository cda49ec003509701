"""Loader for the shared JSONL format: one object a line, ``{"id", "text", "label"}`` plus
``"image"`` (a path relative to the file's folder) or ``"images"`` (a list of such paths).

One line parser, :func:`parse_line`, serves every reader of the format (``load_jsonl``, so
``evaluate``, ``explain``, ``clean`` and training; and ``predict-file``), so a bad line gets the same
message everywhere: ``malformed JSON: <reason> (column N)`` counts columns in the line without its
line ending, ``not valid UTF-8 (<reason> at byte N)`` counts bytes in the line. Blank lines (empty
or whitespace only, anywhere in the file, trailing ones included) carry no record: every reader
skips them, and they are not counted as skipped lines; line numbers still count them. A UTF-8
byte-order mark at the start of the file is dropped.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from cinesense.atomic import atomic_open

from cinesense.data.schema import Dataset, DataError, Record, Skipped, check_input_file, check_output_file

KNOWN_FIELDS = {"id", "text", "label", "image", "images"}


def iter_raw_lines(path: str | Path) -> Iterator[tuple[int, int, bytes]]:
    """Yield ``(line_number, byte_offset_after_the_line, raw_bytes)`` for each line of the file.

    Raises:
        DataError: naming the path when it is missing or a folder.
    """
    path = check_input_file(path)
    offset = 0
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            offset += len(raw)
            yield number, offset, raw


def parse_line(
    raw: bytes,
    number: int,
    base_dir: Path,
    *,
    labels: Sequence[str] | None = None,
    require_label: bool = True,
) -> Record | None:
    """The record on one raw line (``number`` counts from 1), or None for a blank line.

    Raises:
        ValueError: the reason the line is not a record (without the file and line: the caller
            adds them).
    """
    try:
        line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"not valid UTF-8 ({error.reason} at byte {error.start})") from None
    line = line.rstrip("\r\n")
    if not line.strip():
        return None
    try:
        obj = json.loads(line, object_pairs_hook=_unique_fields)
    except json.JSONDecodeError as error:
        raise ValueError(f"malformed JSON: {error.msg} (column {error.colno})") from None
    except RecursionError:
        raise ValueError("malformed JSON: nested too deeply") from None
    if "\\u" in line:  # an escaped lone surrogate is valid JSON but no character: the record could not be written back
        try:
            json.dumps(obj, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError as error:
            raise ValueError(f"not valid Unicode (a lone surrogate {error.object[error.start]!r})") from None
    return parse_record(obj, base_dir, labels=labels, require_label=require_label, line=number)


def _unique_fields(pairs: list[tuple[str, object]]) -> dict:
    """A JSON object's fields, refusing a field given twice (json keeps the last one silently)."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        twice = next(key for key, _ in pairs if key in seen or seen.add(key))
        raise ValueError(f"duplicated field {twice!r}")
    return obj


def parse_record(
    obj: object,
    base_dir: Path,
    *,
    labels: Sequence[str] | None,
    require_label: bool,
    line: int | None = None,
) -> Record:
    """Turn one decoded JSON object (read from line ``line``) into a Record; raises ValueError with the reason."""
    if not isinstance(obj, dict):
        raise ValueError(f"expected a JSON object, got {type(obj).__name__}")
    if "id" not in obj:
        raise ValueError("missing field 'id'")
    if not isinstance(obj["id"], (str, int)) or isinstance(obj["id"], bool):
        raise ValueError(f"field 'id' must be a string, got {obj['id']!r}")
    images = _parse_images(obj, base_dir)
    text = obj.get("text")
    if text is not None and not isinstance(text, str):
        raise ValueError(f"field 'text' must be a string, got {type(text).__name__}")
    if text is not None and not text.strip():
        raise ValueError("empty text")
    if text is None and not images:
        raise ValueError("missing field 'text' (and no 'image')")
    label = obj.get("label")
    if label is None:
        if require_label:
            raise ValueError("missing field 'label'")
    else:
        label = str(label) if isinstance(label, int) and not isinstance(label, bool) else label
        if not isinstance(label, str):
            raise ValueError(f"field 'label' must be a string, got {label!r}")
        if labels is not None and label not in labels:
            raise ValueError(f"unknown label {label!r} (expected one of {', '.join(labels)})")
    meta = {k: v for k, v in obj.items() if k not in KNOWN_FIELDS}
    return Record(id=str(obj["id"]), text=text, label=label, images=images, meta=meta, line=line)


def _parse_images(obj: dict, base_dir: Path) -> tuple[Path, ...]:
    raw = obj.get("images", [])
    if "image" in obj and obj["image"] is not None:
        raw = [obj["image"], *raw]
    if not isinstance(raw, list) or not all(isinstance(p, str) and p for p in raw):
        raise ValueError("field 'image'/'images' must be a path string or a list of path strings")
    if any("\0" in p for p in raw):
        raise ValueError("field 'image'/'images' must not contain a NUL character")
    return tuple((base_dir / p).resolve() for p in raw)


def load_jsonl(
    path: str | Path,
    *,
    labels: Sequence[str] | None = None,
    require_label: bool = True,
    skip_invalid: bool = False,
) -> Dataset:
    """Load a JSONL file in the shared format.

    Args:
        path: the file.
        labels: the allowed labels; None accepts any string label.
        require_label: whether a record without ``label`` is an error.
        skip_invalid: leave out invalid lines (recorded in ``Dataset.skipped``) instead of raising.

    Blank lines are skipped (see the module docstring); each record's ``line`` is its line number.

    Raises:
        DataError: naming the file and line, on the first invalid line (unless ``skip_invalid``);
            naming the path when it is missing or a folder.
    """
    path = Path(path)
    records: list[Record] = []
    skipped: list[Skipped] = []
    seen: dict[str, int] = {}
    for number, _, raw in iter_raw_lines(path):
        try:
            record = parse_line(raw, number, path.parent, labels=labels, require_label=require_label)
            if record is None:
                continue
            if record.id in seen:
                raise ValueError(f"duplicate id {record.id!r} (first on line {seen[record.id]})")
        except ValueError as error:
            if not skip_invalid:
                raise DataError(f"{path}:{number}: {error}") from None
            skipped.append(Skipped(str(path), number, str(error)))
            continue
        seen[record.id] = number
        records.append(record)
    return Dataset(records=records, source=str(path), skipped=skipped)


def write_jsonl(records: Sequence[Record], path: str | Path) -> None:
    """Write records in the shared format (image paths relative to the file's folder where possible).

    Raises:
        DataError: naming ``path`` when it is a folder, or when writing fails (a full disk, a
            read-only folder): the file is written whole or not at all (:mod:`cinesense.atomic`).
    """
    path = check_output_file(path)
    try:
        with atomic_open(path, "w", encoding="utf-8") as handle:  # creates the folder
            _write_records(records, handle, path.parent.resolve())
    except OSError as error:
        raise DataError(f"{path}: could not write it ({error.strerror or error}); nothing was written and an earlier "
                        f"file there is unchanged") from error


def _write_records(records: Sequence[Record], handle: Any, base: Path) -> None:
    for r in records:
        obj: dict = {"id": r.id}
        if r.text is not None:
            obj["text"] = r.text
        if r.images:
            rel = [_relative(p, base) for p in r.images]
            obj.update({"image": rel[0]} if len(rel) == 1 else {"images": rel})
        if r.label is not None:
            obj["label"] = r.label
        obj.update(r.meta)
        handle.write(json.dumps(obj, ensure_ascii=False) + "\n")


def _relative(p: Path, base: Path) -> str:
    try:
        return str(p.relative_to(base))
    except ValueError:
        return str(p)
