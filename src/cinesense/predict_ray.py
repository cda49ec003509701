"""Batch scoring on Ray Data: the records and probabilities of ``predict-file``, from an actor pool.

    cinesense predict-file --engine ray --model DIR --data comments.jsonl --out predictions.jsonl
        [--ray-address auto] [--actors N] [--actor-cpus 1] [--actor-gpus 0]

    from cinesense.predict_ray import predict_file_ray
    predict_file_ray("runs/default/fused_gated", "comments.jsonl", "predictions.parquet")

(Needs the optional extra: ``pip install 'cinesense[ray]'``, which pins ``ray[data]``.)

* **Read** (Ray Data read tasks, :class:`NumberedLines`): JSONL is cut into byte ranges at line ends
  (the driver counts the lines before each range once, so every line keeps its number in the file);
  Parquet is read a row group at a time, row ``i`` (from 1) being "line" ``i``. Each row is parsed by
  the one parser of the shared format (:func:`cinesense.predict_file.read_line`; a Parquet row as
  the JSON object of its non-null columns), image paths relative to the input file.
* **Score** (``map_batches`` over an actor pool): each actor loads the bundle once
  (``Classifier.load``), gives an image or fused model an in-memory sticker cache
  (:mod:`cinesense.image.stem_cache`, optionally backed by a folder shared by the actors), and
  predicts ``batch_size`` comments at a time with :func:`cinesense.predict_file.predict_lines`:
  the same rows as the single-process ``predict-file``. ``num_gpus`` > 0 gives each actor that
  share of a GPU and runs the model there (not measured on a GPU yet).
* **Write** (the driver): rows arrive in input order (``preserve_order``) and are written to one
  JSONL file (the single-process format, line for line) or one Parquet file (columns ``line``,
  ``id`` (string), ``label``, ``probabilities`` (a struct, one field per class) and ``error``),
  into ``OUT.partial`` renamed to ``OUT`` at the end. An existing ``OUT`` is refused; there is no
  resume (the single-process engine has one).

Memory is bounded by Ray Data's streaming execution (a few blocks in flight per operator), not by
the file, and by the read tasks' concurrency (``read_concurrency``, default 2): a read task needs no
CPU, so without a cap Ray starts a worker process for every read task it can schedule (54 workers
for a 1M-comment file on 2 CPUs, each holding its block). Laptop: Ray is started in the process (``ray.init()``, ``num_cpus`` to cap it); cluster:
``address="auto"`` (or ``ray://...``), unchanged otherwise: the input (and image paths) must then be
readable at the same path on every node, and the output is written where the driver runs.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from ray.data import Datasource

from cinesense.data.schema import DataError, check_input_file, check_output_file
from cinesense.predict_file import PredictFileResult, predict_lines, read_line

__all__ = ["NumberedLines", "predict_file_ray"]

PARQUET_SUFFIXES = (".parquet", ".pq")
DEFAULT_CHUNK_BYTES = 4 << 20
DEFAULT_READ_CONCURRENCY = 2


def _is_parquet(path: Path) -> bool:
    return path.suffix.lower() in PARQUET_SUFFIXES


def _jsonl_chunks(path: Path, chunk_bytes: int) -> list[tuple[int, int, int]]:
    """``(start, end, first line number)`` of byte ranges of about ``chunk_bytes``, cut after a newline."""
    size, chunks, start, first = path.stat().st_size, [], 0, 1
    with open(path, "rb") as handle:
        while start < size:
            handle.seek(min(size, start + chunk_bytes))
            handle.readline()  # to the end of the line the range reaches
            end = min(size, handle.tell()) if start + chunk_bytes < size else size
            chunks.append((start, end, first))
            handle.seek(start)
            left = end - start
            while left:
                piece = handle.read(min(left, 1 << 20))
                first += piece.count(b"\n")
                left -= len(piece)
            start = end
    return chunks


def _jsonl_rows(path: str, start: int, end: int, first: int):
    import pyarrow as pa

    with open(path, "rb") as handle:
        handle.seek(start)
        data = handle.read(end - start)
    pieces = data.split(b"\n")
    if pieces and pieces[-1] == b"":
        pieces.pop()
    numbers = [first + i for i, raw in enumerate(pieces) if raw.strip()]
    raws = [pieces[n - first] + b"\n" for n in numbers]
    yield pa.table({"line": pa.array(numbers, pa.int64()), "raw": pa.array(raws, pa.binary())})


def _parquet_rows(path: str, groups: list[int], first: int):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = pq.ParquetFile(path).read_row_groups(groups).to_pylist()
    raws = [json.dumps({k: v for k, v in row.items() if v is not None}, ensure_ascii=False, default=str).encode("utf-8")
            for row in rows]
    yield pa.table({"line": pa.array(range(first, first + len(rows)), pa.int64()), "raw": pa.array(raws, pa.binary())})


class NumberedLines(Datasource):
    """Read tasks over a JSONL or Parquet file giving rows ``{"line": number, "raw": bytes}``."""

    def __init__(self, path: str | Path, chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> None:
        self.path = str(Path(path).resolve())
        self.chunk_bytes = chunk_bytes

    def estimate_inmemory_data_size(self) -> int | None:
        return os.path.getsize(self.path)

    def get_read_tasks(self, parallelism: int, per_task_row_limit: int | None = None, data_context: Any = None) -> list:
        from ray.data import ReadTask
        from ray.data.block import BlockMetadata

        path = self.path
        tasks = []
        if _is_parquet(Path(path)):
            import pyarrow.parquet as pq

            metadata = pq.ParquetFile(path).metadata
            first = 1
            for group in range(metadata.num_row_groups):
                rows, size = metadata.row_group(group).num_rows, metadata.row_group(group).total_byte_size
                meta = BlockMetadata(num_rows=rows, size_bytes=size, exec_stats=None, input_files=(path,))
                tasks.append(ReadTask(lambda g=group, f=first: _parquet_rows(path, [g], f), meta))
                first += rows
        else:
            for start, end, first in _jsonl_chunks(Path(path), self.chunk_bytes):
                meta = BlockMetadata(num_rows=None, size_bytes=end - start, exec_stats=None, input_files=(path,))
                tasks.append(ReadTask(lambda s=start, e=end, f=first: _jsonl_rows(path, s, e, f), meta))
        return tasks


class Scorer:
    """The actor of the pool: loads the bundle once, predicts batches of numbered raw lines into the
    output rows (``{"line", "row" (the output line's JSON), "error" (bool)}``)."""

    def __init__(self, model_dir: str, source: str, *, threads: int = 1, use_gpu: bool = False,
                 sticker_cache_bytes: int = 0, sticker_cache_dir: str | None = None, stem_layout: str = "nchw") -> None:
        import torch

        from cinesense.classifier import Classifier
        from cinesense.image.stem_cache import attach_sticker_cache
        from cinesense.image.stem_layout import set_stem_layout

        if threads:
            torch.set_num_threads(threads)
        self.classifier = Classifier.load(model_dir)
        if use_gpu and torch.cuda.is_available():
            _run_on(self.classifier, torch.device("cuda"))
        set_stem_layout(self.classifier, stem_layout)
        if sticker_cache_bytes or sticker_cache_dir:
            attach_sticker_cache(self.classifier, sticker_cache_bytes, sticker_cache_dir)
        self.source = Path(source)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        lines = [read_line(bytes(raw), int(number), self.source.parent) for number, raw in zip(batch["line"], batch["raw"])]
        lines = [line for line in lines if line is not None]
        objects, _ = predict_lines(self.classifier, lines, True, self.source) if lines else ([], 0)
        return {
            "line": np.array([o["line"] for o in objects], dtype=np.int64),
            "row": np.array([json.dumps(o, ensure_ascii=False) for o in objects], dtype=object),
            "error": np.array(["error" in o for o in objects], dtype=bool),
        }


def _run_on(classifier: Any, device: Any) -> None:
    """Move the model to ``device``: inputs (built on the CPU) follow it in, logits come back out."""
    import torch

    def to(value: Any, where: Any) -> Any:
        return value.to(where) if isinstance(value, torch.Tensor) else value

    def inputs(_: Any, args: tuple, kwargs: dict) -> tuple:
        return tuple(to(a, device) for a in args), {k: to(v, device) for k, v in kwargs.items()}

    model = classifier.model_.to(device)
    model.register_forward_pre_hook(inputs, with_kwargs=True)
    model.register_forward_hook(lambda _m, _a, output: to(output, "cpu"))
    stem = getattr(model, "stem", None) or getattr(getattr(model, "image", None), "stem", None)
    if stem is not None:  # the image branch runs the stem itself, on CPU-built images
        stem.register_forward_pre_hook(inputs, with_kwargs=True)


def predict_file_ray(
    model_dir: str | Path,
    data: str | Path,
    out: str | Path,
    *,
    batch_size: int = 256,
    skip_invalid: bool = False,
    progress: bool = True,
    address: str | None = None,
    num_actors: int | None = None,
    num_cpus: float = 1,
    num_gpus: float = 0,
    sticker_cache_bytes: int = 256 << 20,
    sticker_cache_dir: str | Path | None = None,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    read_concurrency: int = DEFAULT_READ_CONCURRENCY,
    stem_layout: str = "auto",
    ray_init: dict[str, Any] | None = None,
) -> PredictFileResult:
    """Predict every comment of ``data`` (JSONL or ``.parquet``) into ``out`` (JSONL, or Parquet
    for ``.parquet``) with an actor pool on Ray: the rows of :func:`cinesense.predict_file.predict_file`.

    Args:
        model_dir: the bundle each actor loads (readable at that path on every node).
        batch_size: comments per ``map_batches`` call (as ``predict-file --batch-size``).
        skip_invalid: an error row for a line that cannot be read or predicted, instead of stopping
            (with ``DataError("FILE:LINE: reason")``, nothing written to ``out``).
        address: the Ray cluster to join (``"auto"``, ``"ray://host:10001"``); None starts a local
            Ray unless one is running in this process. A Ray started here is shut down at the end.
        num_actors: actors in the pool; None = the cluster's CPUs / ``num_cpus`` (GPUs / ``num_gpus``).
        num_cpus, num_gpus: resources of one actor (torch threads = ``num_cpus``); ``num_gpus`` > 0
            runs each actor's model on its GPU.
        sticker_cache_bytes, sticker_cache_dir: each actor's sticker cache (memory bound; a disk
            folder shared by the actors), for an image or fused model; 0 and None: no cache.
        chunk_bytes: bytes of JSONL per read task.
        read_concurrency: read tasks running at once (each a worker process holding its block).
        stem_layout: each actor's conv-base layout (image / fused model; :mod:`cinesense.image.stem_layout`).
        ray_init: more keyword arguments of ``ray.init`` (e.g. ``num_cpus``, ``include_dashboard``).
    """
    import ray

    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if read_concurrency < 1:
        raise ValueError(f"read_concurrency must be at least 1, got {read_concurrency}")
    data, out = check_input_file(data), check_output_file(out)
    if not data.is_file():
        raise DataError(f"{data}: not a regular file")
    partial = out.with_name(out.name + ".partial")
    for path in (out, partial):
        if path.exists() and os.path.samefile(path, data):
            raise DataError(f"{path} is the input file {data}; --out must name another file")
    if out.exists():
        raise DataError(f"{out} exists; the ray engine does not continue or overwrite an output: remove it or choose another --out")
    from cinesense import bundle

    classes = list(bundle.read_manifest(model_dir)["classes"])  # a wrong --model fails here, before Ray starts
    started = not ray.is_initialized()
    if started:
        ray.init(address=address, **{"include_dashboard": False, "logging_level": "warning", **(ray_init or {})})
    try:
        return _run(ray, model_dir, classes, data, out, partial, batch_size, skip_invalid, progress, num_actors, num_cpus, num_gpus,
                    sticker_cache_bytes, sticker_cache_dir, chunk_bytes, read_concurrency, stem_layout)
    finally:
        partial.unlink(missing_ok=True)
        if started:
            ray.shutdown()


def _run(ray: Any, model_dir: Any, classes: list[str], data: Path, out: Path, partial: Path, batch_size: int, skip_invalid: bool, progress: bool,
         num_actors: int | None, num_cpus: float, num_gpus: float, cache_bytes: int, cache_dir: Any, chunk_bytes: int,
         read_concurrency: int, stem_layout: str) -> PredictFileResult:
    from ray.data import DataContext

    context = DataContext.get_current()
    context.execution_options.preserve_order = True  # rows come back in input order
    context.enable_progress_bars = progress
    if num_actors is None:
        resources = ray.cluster_resources()
        num_actors = int(resources.get("GPU", 0) // num_gpus) if num_gpus else int(resources.get("CPU", 1) // max(num_cpus, 1e-9))
    num_actors = max(1, num_actors)
    start = time.perf_counter()
    # reads are light: they never wait for a CPU the actors hold, and at most read_concurrency run at once
    dataset = ray.data.read_datasource(NumberedLines(data, chunk_bytes), num_cpus=0, concurrency=read_concurrency)
    scored = dataset.map_batches(
        Scorer, batch_size=batch_size, batch_format="numpy", concurrency=num_actors, num_cpus=num_cpus, num_gpus=num_gpus,
        fn_constructor_args=(str(Path(model_dir).resolve()), str(data)),
        fn_constructor_kwargs={"threads": max(1, int(num_cpus)), "use_gpu": num_gpus > 0, "sticker_cache_bytes": cache_bytes,
                               "sticker_cache_dir": str(cache_dir) if cache_dir else None, "stem_layout": stem_layout},
    )
    written = errors = 0
    partial.parent.mkdir(parents=True, exist_ok=True)
    with _Writer(partial, _is_parquet(out), classes) as writer:
        for block in scored.iter_batches(batch_size=None, batch_format="numpy", prefetch_batches=2):
            rows = list(block["row"])
            if not skip_invalid and block["error"].any():
                bad = json.loads(rows[int(np.argmax(block["error"]))])
                raise DataError(f"{data}:{bad['line']}: {bad['error']}")
            writer.write(rows)
            written, errors = written + len(rows), errors + int(block["error"].sum())
    os.replace(partial, out)
    return PredictFileResult(written - errors, 0, errors, time.perf_counter() - start)


class _Writer:
    """One output file written as the rows arrive: JSONL lines, or Parquet row groups."""

    def __init__(self, path: Path, parquet: bool, classes: list[str]) -> None:
        self.path, self.parquet, self._writer, self._handle = path, parquet, None, None
        self.schema = None
        if parquet:
            import pyarrow as pa

            self.schema = pa.schema([("line", pa.int64()), ("id", pa.string()), ("label", pa.string()),
                                     ("probabilities", pa.struct([(c, pa.float64()) for c in classes])), ("error", pa.string())])

    def __enter__(self) -> "_Writer":
        if not self.parquet:
            self._handle = open(self.path, "wb")
        return self

    def write(self, rows: list[str]) -> None:
        if not rows:
            return
        if self._handle is not None:
            self._handle.write("".join(row + "\n" for row in rows).encode("utf-8"))
            return
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pylist([_parquet_row(json.loads(row)) for row in rows], schema=self.schema)
        if self._writer is None:
            self._writer = pq.ParquetWriter(str(self.path), self.schema)
        self._writer.write_table(table)

    def __exit__(self, *exc: Any) -> None:
        if self._handle is not None:
            self._handle.close()
        if self._writer is not None:
            self._writer.close()
        elif self.parquet and exc[0] is None:  # no row at all: still a valid (empty) file
            import pyarrow.parquet as pq

            pq.write_table(self.schema.empty_table(), str(self.path))


def _parquet_row(o: dict) -> dict:
    return {"line": o["line"], "id": None if o.get("id") is None else str(o["id"]), "label": o.get("label"),
            "probabilities": o.get("probabilities"), "error": o.get("error")}


def iter_output(path: str | Path) -> Iterator[dict]:
    """The rows of a JSONL or Parquet output, as the single-process JSONL has them (for checks)."""
    path = Path(path)
    if not _is_parquet(path):
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                yield json.loads(line)
        return
    import pyarrow.parquet as pq

    for row in pq.read_table(str(path)).to_pylist():
        yield {k: v for k, v in row.items() if v is not None}
