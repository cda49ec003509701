"""Scoring a trained model on labelled records: its standard metrics, and what it could not score."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from cinesense.data.schema import DataError, Record
from cinesense.evaluate.metrics import classification_metrics

if TYPE_CHECKING:  # the classifier sits above evaluate/: only its type is named here
    from cinesense.classifier import Classifier


def evaluate(
    classifier: Classifier, records: Sequence[Record], *, source: str | Path = "", invalid: str = "score"
) -> tuple[dict[str, Any], np.ndarray]:
    """Standard metrics of ``classifier`` on labelled records, and its probabilities (one row per
    record scored, in order).

    A record the model cannot score as given is one whose label is not among the model's classes,
    one without text for a text model or without an image for an image model, or one with an image
    that cannot be read. ``invalid`` says what happens to it:

    * ``"error"``: DataError naming ``source``:line (``Record.line``; the id when the record was not
      read from a file) and, for an unreadable image, the image and why.
    * ``"skip"``: the record is left out of the metrics; ``skipped`` counts them by reason.
    * ``"score"`` (the default, used for a training run's dev and test splits): an unreadable image
      is dropped and its record scored on what remains (a fused model's text and other images; an
      image model's record is left out); any other such record is an error as with ``"error"``.

    Whatever the mode, the metrics say what happened: ``n_unreadable`` (records with an unreadable
    image), ``n_unreadable_images`` (unreadable images, once per record), ``unreadable`` (each one:
    line, id, image, reason), ``unreadable_policy`` (what was done with them) and ``skipped``.
    """
    if invalid not in ("score", "error", "skip"):
        raise ValueError(f"invalid must be 'score', 'error' or 'skip', got {invalid!r}")
    classes, modality = list(classifier.classes_), classifier.modality_
    reads_text, reads_image = classifier.adapter.reads_text, classifier.adapter.reads_image
    skipped: dict[str, int] = {}

    def problem(record: Record) -> tuple[str, str] | None:
        if record.label is None:
            return "missing label", "missing field 'label'"
        if record.label not in classes:
            return "unknown label", f"unknown label {record.label!r} (expected one of {', '.join(classes)})"
        if reads_text and not reads_image and not record.text:
            return "no text (text model)", f"no text: this is a {modality} model, it reads text only"
        if reads_image and not reads_text and not record.images:
            return "no image (image model)", "no image: this is an image model"
        if not record.text and not record.images:
            return "no text and no image", "no text and no image"
        return None

    candidates = []
    for record in records:
        found = problem(record)
        if found is None:
            candidates.append(record)
        elif invalid == "skip":
            skipped[found[0]] = skipped.get(found[0], 0) + 1
        else:
            raise DataError(f"{record.where(source)}: {found[1]}")
    proba, kept, failures = classifier.predict_records(candidates, unreadable=True)
    unreadable = [
        {"line": candidates[i].line, "id": candidates[i].id, "image": str(path), "reason": reason} for i, path, reason in failures
    ]
    bad = sorted({i for i, _, _ in failures})
    if failures and invalid == "error":
        i, path, reason = failures[0]
        raise DataError(
            f"{candidates[i].where(source)}: image {path} cannot be read ({reason}); {len(failures)} unreadable image(s) "
            f"in {len(bad)} record(s) (with --skip-invalid, such records are left out and counted)"
        )
    if invalid == "skip" and bad:
        left_out = set(bad)
        rows = [row for row, i in enumerate(kept) if i not in left_out]
        proba, kept = proba[rows], [kept[row] for row in rows]
        skipped["unreadable image"] = len(bad)
    metrics = classification_metrics([candidates[i].label for i in kept], proba, classes)
    metrics.update(
        n_unreadable=len(bad),
        n_unreadable_images=len(failures),
        unreadable=unreadable,
        unreadable_policy={
            "skip": "records with an unreadable image are left out",
            "score": "unreadable images are dropped and their records scored on the rest (left out if nothing remains)",
            "error": "none",
        }[invalid],
        skipped=skipped,
    )
    return metrics, proba
