"""Loader for the shared JSONL format: one object a line, ``{"id", "text", "label"}`` plus
``"image"`` (a path relative to the file's folder) or ``"images"`` (a list of such paths)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path

from cinesense.data.schema import Dataset, DataError, Record, Skipped

KNOWN_FIELDS = {"id", "text", "label", "image", "images"}


def iter_jsonl_lines(path: Path) -> Iterator[tuple[int, str | UnicodeDecodeError]]:
    """Yield ``(line_number, decoded_line)``, or the decoding error for a non-UTF-8 line.

    A UTF-8 byte-order mark at the start of the file is dropped.
    """
    try:
        handle = open(path, "rb")
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    with handle:
        for number, raw in enumerate(handle, start=1):
            try:
                yield number, raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as error:
                yield number, error


def parse_record(
    obj: object,
    base_dir: Path,
    *,
    labels: Sequence[str] | None,
    require_label: bool,
) -> Record:
    """Turn one decoded JSON object into a Record; raises ValueError with the reason."""
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
    return Record(id=str(obj["id"]), text=text, label=label, images=images, meta=meta)


def _parse_images(obj: dict, base_dir: Path) -> tuple[Path, ...]:
    raw = obj.get("images", [])
    if "image" in obj and obj["image"] is not None:
        raw = [obj["image"], *raw]
    if not isinstance(raw, list) or not all(isinstance(p, str) and p for p in raw):
        raise ValueError("field 'image'/'images' must be a path string or a list of path strings")
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

    Raises:
        DataError: naming the file and line, on the first invalid line (unless ``skip_invalid``).
    """
    path = Path(path)
    records: list[Record] = []
    skipped: list[Skipped] = []
    seen: dict[str, int] = {}
    for number, line in iter_jsonl_lines(path):
        try:
            if isinstance(line, UnicodeDecodeError):
                raise ValueError(f"not valid UTF-8 ({line.reason} at byte {line.start})")
            if not line.strip():
                raise ValueError("empty line")
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as error:
                raise ValueError(f"malformed JSON: {error.msg} (column {error.colno})") from None
            record = parse_record(obj, path.parent, labels=labels, require_label=require_label)
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
    """Write records in the shared format (image paths relative to the file's folder where possible)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    base = path.parent.resolve()
    with open(path, "w", encoding="utf-8") as handle:
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
