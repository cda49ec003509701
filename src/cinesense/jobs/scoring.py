"""How a job scores its systems on comments: the image branch and the text branch on comments that
may lack a sticker or a text, accuracy per pair kind (irony, mockery...), and how the text branch
alone read each comment's text."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from cinesense.classifier import Classifier
from cinesense.data.schema import Record, one_record_per_image
from cinesense.evaluate.report import SystemResult

# the fused job's systems, as its tables name them
TEXT_ROW, IMAGE_ROW = "BiLSTM (text only)", "VGG16 (image only)"
FUSION_ROWS = {
    "late": "BiLSTM-VGG16 (late fusion, paper)",
    "feature": "BiLSTM-VGG16 (feature fusion)",
    "gated": "BiLSTM-VGG16 (gated fusion)",
}
ENCODER_ROWS = {"probe": "E5 probe", "bilstm": "Att-BiLSTM + E5", "linear": "E5 + TF-IDF (linear)", "distilled": "Att-BiLSTM distilled from E5"}  # text_encoder.compare variants


def training_prior(train: Sequence[Record], classes: Sequence[str]) -> np.ndarray:
    """The share of each class among the training labels (columns follow ``classes``)."""
    counts = np.array([sum(r.label == c for r in train) for c in classes], dtype=float)
    return counts / counts.sum()


def majority_proba(prior: np.ndarray, n: int) -> np.ndarray:
    """The majority-class baseline's probabilities for ``n`` examples: all on the most frequent class."""
    return np.tile(np.eye(len(prior))[prior.argmax()], (n, 1))


def encoder_fusion_row(variant: str, method: str) -> str:
    """The fused job's row of a fusion over an E5 text branch (``text_encoder.compare``)."""
    return f"{ENCODER_ROWS[variant]}-VGG16 ({method} fusion)"


def image_only_proba(image: Classifier, records: Sequence[Record], prior: np.ndarray) -> np.ndarray:
    """The image branch on comments: mean probability over a comment's images; the training prior
    for a comment without a (readable) image."""
    owners = [i for i, r in enumerate(records) for _ in r.images]
    proba = np.tile(prior, (len(records), 1))
    if not owners:
        return proba
    image_proba, kept = image.predict_records(one_record_per_image(records))
    sums, counts = np.zeros_like(proba), np.zeros(len(records))
    for row, position in zip(image_proba, kept):
        owner = owners[position]
        sums[owner] += row
        counts[owner] += 1
    has = counts > 0
    proba[has] = sums[has] / counts[has, None]
    return proba


def text_only_proba(text: Classifier, records: Sequence[Record], prior: np.ndarray) -> np.ndarray:
    """The text branch on comments, through the labelled-data path (a text without words is read as
    in training, not refused as in ``predict_proba``); the training prior for a comment without text."""
    proba = np.tile(prior, (len(records), 1))
    with_text = [i for i, r in enumerate(records) if r.text]
    if with_text:
        proba[with_text] = text.predict_records([records[i] for i in with_text])[0]
    return proba


def subset_accuracy(records: Sequence[Record], predictions: Sequence[str]) -> dict[str, tuple[int, float]]:
    """Accuracy per ``meta["pair"]`` kind (irony, mockery...), with the subset's size."""
    kinds: dict[str, list[bool]] = {}
    for record, predicted in zip(records, predictions):
        kinds.setdefault(str(record.meta.get("pair", "all")), []).append(predicted == record.label)
    return {kind: (len(hits), float(np.mean(hits))) for kind, hits in sorted(kinds.items())}


def text_reading(results: Sequence[SystemResult], test: Sequence[Record]) -> dict[str, Any]:
    """How the text branch alone read each comment's *text* (``meta["text_label"]``), per pair
    kind, and the accuracy of every system on the irony / mockery pairs split by that reading. A
    clash pair can only be right if the fusion hears the sticker *against* the text: when the text
    branch already misreads the text (a negative review it reads as positive), a positive sticker
    only confirms the misreading."""
    by_name = {r.name: r for r in results}
    text = by_name.get(TEXT_ROW)
    if text is None:
        return {}
    kinds: dict[str, list[int]] = {}
    for i, r in enumerate(test):
        if r.meta.get("text_label") is not None:
            kinds.setdefault(str(r.meta.get("pair", "all")), []).append(i)
    reading: dict[str, Any] = {}
    for kind, rows in sorted(kinds.items()):
        right = [i for i in rows if text.predictions[i] == test[i].meta["text_label"]]
        entry: dict[str, Any] = {"n": len(rows), "text_read_right": len(right)}
        if kind in ("irony", "mockery"):
            read = set(right)
            wrong = [i for i in rows if i not in read]
            entry["accuracy"] = {
                r.name: {"text read right": _share(r.predictions, test, right), "text misread": _share(r.predictions, test, wrong)}
                for r in results if r.ours
            }
            entry["n_misread"] = len(wrong)
        reading[kind] = entry
    return reading


def _share(predictions: Sequence[str], test: Sequence[Record], rows: Sequence[int]) -> float | None:
    return float(np.mean([predictions[i] == test[i].label for i in rows])) if rows else None
