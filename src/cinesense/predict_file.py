"""Batch prediction over a JSONL file of any size, with bounded memory, progress, and resume.

    cinesense predict-file --model DIR --data comments.jsonl --out predictions.jsonl

The input is read a line at a time and predicted ``batch_size`` comments at a time, so memory does
not grow with the file. Every output line names the input line it answers::

    {"line": 17, "id": "c17", "label": "positive", "probabilities": {"negative": 0.08, "positive": 0.92}}

Each batch is appended with one write and flushed to disk before the next starts. On restart the
output's last complete line says where to continue: a torn last line (the process was killed
mid-write) is cut off, the input is skipped up to the line it answered, after checking that the id
there is the same, and prediction continues. With ``skip_invalid``, a line that cannot be read or
predicted gets ``{"line", "id", "error"}`` instead of stopping the run.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from cinesense.data.jsonl import parse_record
from cinesense.data.schema import DataError, Record
from cinesense.model_inputs import check_inputs, proba_inputs, record_image

TAIL_BLOCK = 1 << 16


@dataclass
class PredictFileResult:
    """What a run did: comments predicted now, lines already done before (resume), error lines."""

    predicted: int
    resumed_after_line: int
    errors: int
    seconds: float


@dataclass
class _Line:
    number: int
    end: int  # byte offset just after the line
    record: Record | None
    error: str | None


def _read_lines(path: Path, base_dir: Path) -> Iterator[_Line]:
    """Each non-blank line of the file as a record (or the reason it is not one), with its byte end."""
    offset = 0
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            offset += len(raw)
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw.decode("utf-8-sig" if number == 1 else "utf-8").rstrip("\r\n"))
                record = parse_record(obj, base_dir, labels=None, require_label=False)
            except UnicodeDecodeError as error:
                yield _Line(number, offset, None, f"not valid UTF-8 ({error.reason} at byte {error.start})")
            except json.JSONDecodeError as error:
                yield _Line(number, offset, None, f"malformed JSON: {error.msg} (column {error.colno})")
            except ValueError as error:
                yield _Line(number, offset, None, str(error))
            else:
                yield _Line(number, offset, record, None)


def resume_point(out: Path) -> tuple[int, str | None]:
    """The input line answered by the output's last complete line and that line's id ((0, None) if
    there is none). A torn last line is cut off the file."""
    if not out.exists():
        return 0, None
    with open(out, "rb+") as handle:
        size = handle.seek(0, os.SEEK_END)
        block, last, keep = TAIL_BLOCK, None, 0
        while True:
            start = max(0, size - block)
            handle.seek(start)
            tail = handle.read()
            end = tail.rfind(b"\n")
            previous = tail.rfind(b"\n", 0, max(end, 0))
            if end >= 0 and (previous >= 0 or start == 0):
                last, keep = tail[previous + 1 : end], start + end + 1
                break
            if start == 0:
                break
            block *= 2
        if keep < size:
            handle.truncate(keep)
    if last is None:
        return 0, None
    try:
        obj = json.loads(last)
        return int(obj["line"]), obj.get("id")
    except (ValueError, KeyError, TypeError):
        raise DataError(f"{out}: the last line is not a predict-file output line; remove the file or choose another --out") from None


def _predict_batch(classifier: Any, batch: list[_Line], skip_invalid: bool, source: Path) -> tuple[list[dict], int]:
    """Output objects for a batch of lines, and how many of them are errors."""
    modality = classifier.modality_
    good, outputs = [], {}
    for line in batch:
        error = line.error
        if error is None:
            try:
                check_inputs(modality, line.record.text, line.record.image, strict=False)
                good.append(line)
            except ValueError as problem:
                error = str(problem)
        if error is not None:
            outputs[line.number] = _error(line, error, skip_invalid, source)
    if good:
        try:
            probabilities = _proba(classifier, good)
        except ValueError:  # an unreadable image: find it by predicting one at a time
            probabilities = []
            for line in good:
                try:
                    probabilities.append(_proba(classifier, [line])[0])
                except ValueError as problem:
                    probabilities.append(None)
                    outputs[line.number] = _error(line, str(problem), skip_invalid, source)
        classes = classifier.classes_
        for line, row in zip(good, probabilities):
            if row is not None:
                best = int(row.argmax())
                outputs[line.number] = {
                    "line": line.number,
                    "id": line.record.id,
                    "label": classes[best],
                    "probabilities": {c: float(p) for c, p in zip(classes, row)},
                }
    errors = sum("error" in o for o in outputs.values())
    return [outputs[line.number] for line in batch], errors


def _proba(classifier: Any, lines: list[_Line]):
    records = [line.record for line in lines]
    modality = classifier.modality_
    inputs = proba_inputs(modality, [r.text for r in records], [record_image(modality, r.images) for r in records])
    return classifier.predict_proba(**inputs)


def _error(line: _Line, reason: str, skip_invalid: bool, source: Path) -> dict:
    if not skip_invalid:
        raise DataError(f"{source}:{line.number}: {reason}")
    return {"line": line.number, "id": line.record.id if line.record else None, "error": reason}


def predict_file(
    classifier: Any,
    data: str | Path,
    out: str | Path,
    *,
    batch_size: int = 256,
    skip_invalid: bool = False,
    progress: bool = True,
) -> PredictFileResult:
    """Predict every comment of ``data`` into ``out``, continuing a previous run's ``out``.

    Args:
        classifier: a loaded ``Classifier`` (any modality).
        data: input in the shared JSONL format (labels optional, ignored).
        out: output JSONL; if it exists, it must come from an earlier run on the same input.
        batch_size: comments predicted and written together; memory is bounded by it.
        skip_invalid: write an error line for a line that cannot be read or predicted instead of stopping.
        progress: show a progress bar (stderr).

    Raises:
        DataError: an invalid line (without ``skip_invalid``), naming the file and line; or an
            ``out`` that does not belong to ``data``.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    data, out = Path(data), Path(out)
    if not data.is_file():
        raise DataError(f"{data}: file not found")
    lines = _read_lines(data, data.parent)
    total = data.stat().st_size
    done_line, done_id = resume_point(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    written = errors = 0
    with open(out, "ab") as handle, tqdm(
        total=total, unit="B", unit_scale=True, desc="predict-file", disable=not progress, mininterval=1.0
    ) as bar:

        def flush(batch: list[_Line]) -> None:
            nonlocal written, errors
            objects, failed = _predict_batch(classifier, batch, skip_invalid, data)
            handle.write("".join(json.dumps(o, ensure_ascii=False) + "\n" for o in objects).encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())  # the batch is on disk before the next one starts
            written, errors = written + len(batch), errors + failed
            bar.update(batch[-1].end - bar.n)
            bar.set_postfix(comments=written, refresh=False)

        if done_line:
            bar.update(_skip_done(lines, done_line, done_id, data, out))
        batch: list[_Line] = []
        for line in lines:
            batch.append(line)
            if len(batch) == batch_size:
                flush(batch)
                batch = []
        if batch:
            flush(batch)
    return PredictFileResult(written - errors, done_line, errors, time.perf_counter() - start)


def _skip_done(lines: Iterator[_Line], done_line: int, done_id: str | None, data: Path, out: Path) -> int:
    """Consume the lines answered by an earlier run; return the byte offset reached."""
    for line in lines:
        if line.number < done_line:
            continue
        found = line.record.id if line.record else None
        if line.number == done_line and found == done_id:
            return line.end
        break
    raise DataError(
        f"{out} was not written for this input: its last line answers line {done_line} (id {done_id!r}), "
        f"which {data} does not have; remove {out} or choose another --out"
    )
