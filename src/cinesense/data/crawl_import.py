"""``cinesense data import``: a crawl folder as a training-ready file in the shared JSONL format.

Steps: read ``comments.jsonl`` (and ``danmu.jsonl`` on request, ids prefixed ``danmu-``); drop
advertising / irrelevant images with the filter of ``cinesense clean`` (the image is removed, the
comment's text is kept; a comment left with neither is dropped; the reasons go to
``OUT.dropped.jsonl``); list each comment's emoticon codes (``[流泪]``) in ``emoticons`` and,
given a sticker map, attach the sticker images they stand for; take human labels from a filled
CSV as ``label``; add a trained model's ``predicted_label`` and ``predicted_probability`` with
``label_source: "predicted"`` (never as ``label``); write a CSV for people to label.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cinesense.atomic import atomic_open
from cinesense.crawl.crawler import COMMENTS_FILE, DANMU_FILE
from cinesense.data.jsonl import load_jsonl, write_jsonl
from cinesense.data.schema import DataError, Record
from cinesense.data.ad_filter import clean_images, write_clean_report

EMOTICON = re.compile(r"\[[\u4e00-\u9fff]{1,4}\]")
_IMAGE_SUFFIXES = {".png", ".gif", ".jpg", ".jpeg", ".webp", ".bmp"}


@dataclass(frozen=True)
class ImportOptions:
    """How to turn a crawl into a data set (see the module docstring)."""

    danmu: bool = False
    clean: bool = True
    max_aspect_ratio: float = 3.0
    max_comments_per_image: int | None = 10
    blocklist_sha256: frozenset[str] = frozenset()
    keep_raw: bool = False


def emoticons(text: str | None) -> list[str]:
    """The emoticon codes (``[流泪]``: one to four CJK characters in brackets) in ``text``, in order."""
    return EMOTICON.findall(text or "")


def load_sticker_map(path: str | Path) -> dict[str, Path]:
    """Emoticon code -> sticker image, from a folder (``流泪.png`` is ``[流泪]``) or a JSON object
    (``{"[流泪]": "faces/liulei.png"}``, paths relative to the JSON file).

    Raises:
        DataError: naming the file, if it is neither or an image is missing.
    """
    path = Path(path)
    if path.is_dir():
        return {f"[{p.stem}]": p.resolve() for p in sorted(path.iterdir()) if p.suffix.lower() in _IMAGE_SUFFIXES}
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise DataError(f"{path}: not a sticker folder or JSON object ({error})") from None
    if not isinstance(raw, dict):
        raise DataError(f"{path}: expected a JSON object of code -> image path")
    mapping = {}
    for code, image in raw.items():
        target = (path.parent / str(image)).resolve()
        if not target.is_file():
            raise DataError(f"{path}: field {code!r}: image {target} not found")
        mapping[code if code.startswith("[") else f"[{code}]"] = target
    return mapping


def read_labels(path: str | Path) -> dict[str, str]:
    """The non-empty ``label`` of each ``id`` in a filled-in labelling CSV.

    Raises:
        DataError: naming the file and line, for a missing column or a repeated id.
    """
    path = Path(path)
    labels: dict[str, str] = {}
    with open(path, encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        if not {"id", "label"} <= set(reader.fieldnames or []):
            raise DataError(f"{path}:1: needs the columns 'id' and 'label' (header: {', '.join(reader.fieldnames or [])})")
        for row in reader:
            label = (row.get("label") or "").strip()
            if label:
                if row["id"] in labels:
                    raise DataError(f"{path}:{reader.line_num}: id {row['id']!r} labelled twice")
                labels[row["id"]] = label
    return labels


def _read_crawl(directory: Path, options: ImportOptions) -> list[Record]:
    records = load_jsonl(directory / COMMENTS_FILE, require_label=False).records
    if options.danmu and (directory / DANMU_FILE).exists():
        danmu = load_jsonl(directory / DANMU_FILE, require_label=False).records
        records += [dataclasses.replace(r, id=f"danmu-{r.id}") for r in danmu]
    if not options.keep_raw:
        records = [dataclasses.replace(r, meta={k: v for k, v in r.meta.items() if k != "raw"}) for r in records]
    return records


def _clean(records: list[Record], options: ImportOptions, report: Path) -> tuple[list[Record], dict[str, int]]:
    pairs = [(r.id, path) for r in records for path in r.images]
    result = clean_images(pairs, max_aspect_ratio=options.max_aspect_ratio,
                          max_comments_per_image=options.max_comments_per_image, blocklist_sha256=options.blocklist_sha256)
    write_clean_report(result, report)
    dropped = {(comment, Path(path)) for (comment, path), _ in result.dropped}
    cleaned = []
    for r in records:
        images = tuple(p for p in r.images if (r.id, p) not in dropped)
        if r.text is not None or images:
            cleaned.append(dataclasses.replace(r, images=images))
    return cleaned, result.reason_counts()


def _with_stickers(record: Record, stickers: dict[str, Path]) -> Record:
    codes = emoticons(record.text)
    extra = tuple(stickers[c] for c in dict.fromkeys(codes) if c in stickers)
    images = tuple(dict.fromkeys(record.images + extra))
    return dataclasses.replace(record, images=images, meta={**record.meta, "emoticons": codes})


def _predict(records: list[Record], model: str | Path) -> list[Record]:
    from cinesense.classifier import Classifier, adapter_for  # torch: only when asked

    classifier = Classifier.load(model)
    adapter = adapter_for(classifier.modality_)
    inputs = [adapter.record_inputs(r.text, r.images) for r in records]
    positions = [i for i, (text, image) in enumerate(inputs) if text or image]
    if not positions:
        return records
    proba = classifier.predict_proba(texts=[inputs[i][0] for i in positions], images=[inputs[i][1] for i in positions])
    out = list(records)
    for i, row in zip(positions, proba):
        best = int(row.argmax())
        meta = {**records[i].meta, "predicted_label": classifier.classes_[best], "predicted_probability": round(float(row[best]), 4)}
        if records[i].label is None:
            meta["label_source"] = "predicted"
        out[i] = dataclasses.replace(records[i], meta=meta)
    return out


def write_label_sheet(records: Sequence[Record], path: str | Path) -> Path:
    """A CSV to label by hand: ``id, text, images, predicted_label, predicted_probability, label``
    (``label`` empty unless already known); read it back with ``--labels``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(path, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "text", "images", "predicted_label", "predicted_probability", "label"])
        for r in records:
            writer.writerow([r.id, r.text or "", " ".join(str(p) for p in r.images), r.meta.get("predicted_label", ""),
                             r.meta.get("predicted_probability", ""), r.label or ""])
    return path


def import_crawl(
    directory: str | Path,
    out: str | Path,
    options: ImportOptions = ImportOptions(),
    *,
    stickers: dict[str, Path] | None = None,
    labels: dict[str, str] | None = None,
    model: str | Path | None = None,
    label_sheet: str | Path | None = None,
) -> dict[str, object]:
    """Turn the crawl in ``directory`` into ``out`` (shared JSONL format); returns a summary.

    Raises:
        DataError: naming the file and line, for a bad crawl file, sticker map or label sheet.
    """
    directory, out = Path(directory), Path(out)
    records = _read_crawl(directory, options)
    summary: dict[str, object] = {"read": len(records)}
    if options.clean:
        before = len(records)
        records, reasons = _clean(records, options, out.with_suffix(".dropped.jsonl"))
        summary.update(images_dropped=reasons, records_dropped=before - len(records))
    records = [_with_stickers(r, stickers or {}) for r in records]
    if labels:
        known = {r.id for r in records}
        records = [dataclasses.replace(r, label=labels[r.id], meta={**r.meta, "label_source": "human"})
                   if r.id in labels else r for r in records]
        summary.update(labelled=sum(1 for i in labels if i in known), labels_unmatched=sum(1 for i in labels if i not in known))
    if model is not None:
        records = _predict(records, model)
        summary["predicted"] = sum(1 for r in records if "predicted_label" in r.meta)
    write_jsonl(records, out)
    summary.update(written=len(records), out=str(out))
    if label_sheet is not None:
        summary["label_sheet"] = str(write_label_sheet(records, label_sheet))
    return summary
