"""Batch prediction over a JSONL file of any size, with bounded memory, progress, and resume.

(Over 300 lines: the resume protocol — the output's fingerprint of input and model, the torn last
line, the meta file — is one piece and reads best whole; what a model reads of each line is its
adapter's, :mod:`cinesense.adapter`.)

    cinesense predict-file --model DIR --data comments.jsonl --out predictions.jsonl

The input is read a line at a time and predicted ``batch_size`` comments at a time, so memory does
not grow with the file. Lines are read by the one parser of the shared format
(:func:`cinesense.data.jsonl.parse_line`): a bad line gets the same message as in ``evaluate``, and
blank lines are skipped (not answered). Every output line names the input line it answers::

    {"line": 17, "id": "c17", "label": "positive", "probabilities": {"negative": 0.08, "positive": 0.92}}

Before the first batch, a sidecar ``OUT.meta.json`` records what the output is the answer of: the
input (path, size, SHA-256 of its bytes) and the model (its bundle path and a fingerprint: the
SHA-256 of the manifest, which pins the weights' SHA-256, of the vocabulary and of the tokenizer
files). Each batch is appended with one write and flushed to disk before the next starts.

Run the same command again to continue after a stop. predict-file only ever appends to, or cuts,
a file it has verified to be its own output of the same model on the same input; it refuses, with
an error naming the file and changing nothing:

* ``--out`` that is the input file itself (also through a symbolic or hard link);
* an existing, non-empty ``--out`` without its ``OUT.meta.json`` (not known to be predict-file
  output: notes, another tool's file, an output of an older cinesense);
* an ``OUT.meta.json`` that is not a predict-file record;
* an output written by another model (a different fingerprint: even the same training run saved
  again with other weights) or for another input (any byte of it changed, grown included: to
  predict a file that grew, use a new ``--out``); a renamed or moved copy of the same model or
  input is the same model or input;
* an output whose last complete line is not an output line, or whose unfinished last line does not
  start like one.

Otherwise the output's last complete line says where to continue: a torn last line (the process
was killed mid-write) is cut off, the input is skipped up to the line it answered, after checking
that the id there is the same, and prediction continues; the result is the same file an
uninterrupted run writes. Checking the input costs one extra read of it per run (its SHA-256).
With ``skip_invalid``, a line that cannot be read or predicted gets ``{"line", "id", "error"}``
instead of stopping the run.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from cinesense.atomic import atomic_open
from cinesense.data.jsonl import iter_raw_lines, parse_line
from cinesense.data.schema import DataError, Record, check_input_file, check_output_file
from cinesense.hashing import sha256_file

TAIL_BLOCK = 1 << 16
META_FORMAT = "cinesense-predict-file"
META_VERSION = 1
LINE_START = b'{"line": '  # how every output line starts (json.dumps of a dict whose first key is "line")


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


def _read_lines(path: Path) -> Iterator[_Line]:
    """Each non-blank line of the file as a record (or the reason it is not one), with its byte end."""
    for number, end, raw in iter_raw_lines(path):
        line = read_line(raw, number, path.parent, end)
        if line is not None:
            yield line


def read_line(raw: bytes, number: int, base_dir: Path, end: int = 0) -> _Line | None:
    """Input line ``number`` as a record (or the reason it is not one); None for a blank line.
    (Also used by :mod:`cinesense.predict_ray`, whose read tasks number the lines.)"""
    try:
        record = parse_line(raw, number, base_dir, labels=None, require_label=False)
    except ValueError as error:
        return _Line(number, end, None, str(error))
    return None if record is None else _Line(number, end, record, None)


def meta_path(out: str | Path) -> Path:
    """The sidecar of an output file: ``OUT.meta.json`` beside it."""
    out = Path(out)
    return out.with_name(out.name + ".meta.json")


def model_fingerprint(classifier: Any) -> str:
    """SHA-256 identifying what a classifier predicts with: the manifest of a loaded bundle (without
    its metrics and provenance; it holds the weights' SHA-256, the classes, the model and the
    preprocessing settings) or, for a classifier not loaded from disk, its weights, classes and
    modality; plus the vocabulary and the tokenizer's word files."""
    digest = hashlib.sha256()
    manifest = getattr(classifier, "manifest_", None)
    if isinstance(manifest, dict):
        core = {k: v for k, v in manifest.items() if k not in ("metrics", "provenance")}
        digest.update(json.dumps(core, sort_keys=True, ensure_ascii=False, default=str).encode("utf-8"))
    else:
        import torch

        state = classifier.model_.state_dict()
        for name in sorted(state):
            tensor = state[name].detach().cpu().contiguous()
            digest.update(f"{name} {tensor.dtype} {tuple(tensor.shape)}".encode("utf-8"))
            digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
        digest.update(json.dumps([classifier.modality_, list(classifier.classes_)]).encode("utf-8"))
    text = getattr(classifier, "text_", None)
    if text is not None:
        digest.update(json.dumps(text.vocabulary.itos, ensure_ascii=False).encode("utf-8"))
        settings = text.tokenizer.to_dict()
        for key in ("stopwords", "user_dict"):
            if settings.get(key) and Path(settings[key]).is_file():
                digest.update(sha256_file(settings[key]).encode("ascii"))
    return digest.hexdigest()


def _identity(classifier: Any, data: Path, model_name: str | None) -> dict[str, Any]:
    manifest = getattr(classifier, "manifest_", None)
    return {
        "format": META_FORMAT,
        "format_version": META_VERSION,
        "input": {"path": str(data.resolve()), "size": data.stat().st_size, "sha256": sha256_file(data)},
        "model": {
            "path": model_name,
            "fingerprint": model_fingerprint(classifier),
            "weights_sha256": manifest.get("weights_sha256") if isinstance(manifest, dict) else None,
            "modality": classifier.modality_,
            "classes": list(classifier.classes_),
        },
    }


def read_meta(out: str | Path) -> dict[str, Any] | None:
    """The sidecar of ``out`` (None when there is none); DataError if it is not a predict-file record."""
    meta = meta_path(out)
    if not meta.exists():
        return None
    if not meta.is_file():
        raise DataError(f"{meta}: is not a file; remove it or choose another --out")
    try:
        obj = json.loads(meta.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        obj = None
    if not (isinstance(obj, dict) and obj.get("format") == META_FORMAT and isinstance(obj.get("input"), dict)
            and isinstance(obj.get("model"), dict)):
        raise DataError(f"{meta}: not a predict-file record; nothing was changed: remove it or choose another --out")
    if obj.get("format_version") != META_VERSION:
        raise DataError(f"{meta}: predict-file record version {obj.get('format_version')!r}, this cinesense writes {META_VERSION}")
    return obj


def _unverified_output(out: Path) -> DataError:
    """The error for an existing output that has no sidecar: it is left as it is."""
    return DataError(
        f"{out} exists and is not known to be predict-file output (no {meta_path(out).name} beside it); "
        f"nothing was changed: remove it or choose another --out"
    )


def _write_meta(out: Path, identity: dict[str, Any]) -> None:
    with atomic_open(meta_path(out), "w", encoding="utf-8") as handle:
        handle.write(json.dumps(identity, ensure_ascii=False, indent=2) + "\n")


def _check_same_run(out: Path, recorded: dict[str, Any], identity: dict[str, Any], data: Path) -> None:
    """DataError unless the recorded model and input are those of this run."""
    meta = meta_path(out)
    old, new = recorded["model"], identity["model"]
    if old.get("fingerprint") != new["fingerprint"]:
        raise DataError(
            f"{out} was written by another model ({old.get('path') or 'unnamed'}, fingerprint "
            f"{str(old.get('fingerprint'))[:12]}, recorded in {meta}); this model ({new['path'] or 'unnamed'}) has "
            f"fingerprint {new['fingerprint'][:12]}: continuing would mix two models in one file. Run with the "
            f"same --model, or choose another --out"
        )
    old, new = recorded["input"], identity["input"]
    if (old.get("sha256"), old.get("size")) != (new["sha256"], new["size"]):
        raise DataError(
            f"{out} was written for another input ({old.get('path')}, {old.get('size')} bytes, sha256 "
            f"{str(old.get('sha256'))[:12]}, recorded in {meta}); {data} has {new['size']} bytes, sha256 "
            f"{new['sha256'][:12]}: continue with the same, unchanged input, or choose another --out"
        )


def _output_line(line: bytes) -> dict[str, Any] | None:
    """The object of a complete output line, or None if the line is not one."""
    try:
        obj = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(obj, dict) or type(obj.get("line")) is not int or obj["line"] < 1 or "id" not in obj:
        return None
    if not ("error" in obj or ("label" in obj and "probabilities" in obj)):
        return None
    return obj


def resume_point(out: Path) -> tuple[int, str | None]:
    """The input line answered by the output's last complete line and that line's id ((0, None) if
    there is none). A torn last line is cut off the file, but only once the file is known to be
    predict-file output: it has its ``OUT.meta.json``, its last complete line is an output line and
    the torn line starts like one; otherwise DataError, and the file is left as it is."""
    out = Path(out)
    if not out.exists() or out.stat().st_size == 0:
        return 0, None
    if read_meta(out) is None:
        raise _unverified_output(out)
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
        obj = _output_line(last) if last is not None else None
        if last is not None and obj is None:
            raise DataError(f"{out}: the last line is not a predict-file output line; nothing was changed: "
                            f"remove the file or choose another --out")
        if keep < size:
            handle.seek(keep)
            torn = handle.read(len(LINE_START))
            if not LINE_START.startswith(torn) and not torn.startswith(LINE_START):
                raise DataError(f"{out}: the unfinished last line is not the start of a predict-file output line; "
                                f"nothing was changed: remove the file or choose another --out")
            handle.truncate(keep)
    if obj is None:
        return 0, None
    return obj["line"], obj.get("id")


def predict_lines(classifier: Any, batch: list[_Line], skip_invalid: bool, source: Path) -> tuple[list[dict], int]:
    """Output objects (the output file's rows) for a batch of lines, and how many of them are errors."""
    from cinesense.classifier import adapter_for  # torch: only when predicting

    adapter = adapter_for(classifier.modality_)
    good, outputs = [], {}
    for line in batch:
        error = line.error
        if error is None:
            try:
                adapter.check(line.record.text, line.record.image, strict=False)
                good.append(line)
            except ValueError as problem:
                error = str(problem)
        if error is not None:
            outputs[line.number] = _error(line, error, skip_invalid, source)
    if good:
        try:
            probabilities = _proba(classifier, adapter, good)
        except ValueError:  # an unreadable image: find it by predicting one at a time
            probabilities = []
            for line in good:
                try:
                    probabilities.append(_proba(classifier, adapter, [line])[0])
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


def _proba(classifier: Any, adapter: Any, lines: list[_Line]):
    texts, images = zip(*(adapter.record_inputs(line.record.text, line.record.images) for line in lines))
    return classifier.predict_proba(texts=list(texts), images=list(images))


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
    model_name: str | None = None,
) -> PredictFileResult:
    """Predict every comment of ``data`` into ``out``, continuing a previous run's ``out``.

    Args:
        classifier: a loaded ``Classifier`` (any modality).
        data: input in the shared JSONL format (labels optional, ignored); a regular file.
        out: output JSONL; if it exists, it must come from an earlier run of the same model on the
            same input (its ``OUT.meta.json`` says so; see the module docstring).
        batch_size: comments predicted and written together; memory is bounded by it.
        skip_invalid: write an error line for a line that cannot be read or predicted instead of stopping.
        progress: show a progress bar (stderr).
        model_name: how to name the model in ``OUT.meta.json`` and in errors (e.g. its directory).

    Raises:
        DataError: an invalid line (without ``skip_invalid``), naming the file and line; an ``out``
            that is the input, a folder, or not verified to be this model's output on this input.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    data, out = check_input_file(data), check_output_file(out)
    if not data.is_file():
        raise DataError(f"{data}: not a regular file (predict-file reads its input again to continue after a stop)")
    for path in (out, meta_path(out)):
        if path.exists() and os.path.samefile(path, data):
            raise DataError(f"{path} is the input file {data}; --out must name another file")
    recorded = read_meta(out)  # before anything is written: refuses a sidecar that is not ours
    identity = _identity(classifier, data, model_name)
    fresh = not out.exists() or out.stat().st_size == 0
    if not fresh:
        if recorded is None:
            raise _unverified_output(out)
        _check_same_run(out, recorded, identity, data)
    done_line, done_id = resume_point(out)
    lines = _read_lines(data)
    total = data.stat().st_size
    out.parent.mkdir(parents=True, exist_ok=True)
    if fresh:
        _write_meta(out, identity)
    start = time.perf_counter()
    written = errors = 0
    with open(out, "ab", buffering=0) as handle, tqdm(
        total=total, unit="B", unit_scale=True, desc="predict-file", disable=not progress, mininterval=1.0
    ) as bar:

        def flush(batch: list[_Line]) -> None:
            nonlocal written, errors
            objects, failed = predict_lines(classifier, batch, skip_invalid, data)
            before = handle.tell()
            try:
                pending = memoryview("".join(json.dumps(o, ensure_ascii=False) + "\n" for o in objects).encode("utf-8"))
                while pending:  # unbuffered: nothing is left to write on close after a failed write
                    pending = pending[handle.write(pending):]
                os.fsync(handle.fileno())  # the batch is on disk before the next one starts
            except OSError as error:  # a full disk, a quota: the earlier batches stay; a rerun continues from them
                with contextlib.suppress(OSError):  # none of this batch: a rerun then scores it whole, in the same batches
                    handle.truncate(before)
                raise DataError(f"{out}: could not write it ({error.strerror or error}) after {written} comments; the lines "
                                f"written are kept: make room and run the same command again to continue") from error
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
