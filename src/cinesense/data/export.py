"""A run's labelled data written beside its models, so that it loads wherever the run folder goes."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from pathlib import Path

from cinesense.data.jsonl import write_jsonl
from cinesense.data.schema import Record


def export_splits(parts: dict[str, Sequence[Record]], directory: Path, copy_from: Sequence[Path]) -> dict[str, Path]:
    """Write each split to ``directory/NAME.jsonl``; every image that lives under one of ``copy_from``
    (the cinesense cache, where the constructed corpus's stickers are rendered) is copied once into
    ``directory/images/`` under a content-addressed name, so that the files keep loading after the
    cache is cleared or the run folder moves: their image paths are relative to the JSONL file.
    Images elsewhere (a data set read where it lives) keep their path. Returns the written files."""
    roots = [Path(root).resolve() for root in copy_from]
    copies: dict[Path, Path] = {}

    def exported(path: Path) -> Path:
        source = Path(path).resolve()
        if source not in copies:
            copies[source] = source
            if any(source.is_relative_to(root) for root in roots) and source.is_file():
                data = source.read_bytes()
                target = directory / "images" / f"{hashlib.sha256(data).hexdigest()[:20]}{source.suffix.lower()}"
                if not target.is_file():
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(data)
                copies[source] = target.resolve()
        return copies[source]

    written = {}
    for name, records in parts.items():
        rows = [dataclasses.replace(r, images=tuple(exported(p) for p in r.images)) if r.images else r for r in records]
        written[name] = directory / f"{name}.jsonl"
        write_jsonl(rows, written[name])
    return written
