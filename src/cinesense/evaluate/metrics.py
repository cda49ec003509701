"""Standard classification metrics (scikit-learn), and the paper's eq. 10-13 as printed, for contrast.

The paper's formulas are wrong (see docs/metrics.md): its "recall" is precision, its F uses accuracy
in place of precision, and its "AUC" is a one-threshold quantity that rewards false positives. We
report the standard definitions; ``paper_formula_metrics`` exists only so a report can show the gap.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    confusion_matrix,
    precision_recall_fscore_support,
    roc_auc_score,
)

POSITIVE = "positive"


def positive_class(classes: Sequence[str]) -> str:
    """The class whose precision/recall/F1 is reported: "positive" if present, else the last class."""
    return POSITIVE if POSITIVE in classes else classes[-1]


def classification_metrics(y_true: Sequence[str], proba: np.ndarray, classes: Sequence[str]) -> dict[str, Any]:
    """Metrics of predicted class probabilities ``proba`` (n, C), columns following ``classes``.

    Returns a JSON-ready dict: n, accuracy, balanced_accuracy, precision/recall/f1 of the positive
    class, macro_* and weighted_* averages, roc_auc (binary: on P(positive); 3+ classes: one-vs-rest
    macro average; None when y_true does not hold every class), confusion_matrix (rows = true,
    columns = predicted, in ``classes`` order) and per-class scores.
    """
    classes = list(classes)
    proba = np.asarray(proba, dtype=np.float64)
    if proba.ndim != 2 or proba.shape != (len(y_true), len(classes)):
        raise ValueError(f"proba shape {proba.shape} does not match {len(y_true)} examples x {len(classes)} classes")
    unknown = sorted(set(y_true) - set(classes))
    if unknown:
        raise ValueError(f"labels {unknown} are not among the model's classes {classes}")
    if not len(y_true):
        raise ValueError("no examples to evaluate")
    y_pred = [classes[i] for i in proba.argmax(axis=1)]
    pos = positive_class(classes)
    p, r, f, support = precision_recall_fscore_support(y_true, y_pred, labels=classes, zero_division=0)
    out: dict[str, Any] = {
        "n": len(y_true),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "balanced_accuracy": _balanced_accuracy(y_true, y_pred),
        "positive_class": pos,
    }
    k = classes.index(pos)
    out.update(precision=float(p[k]), recall=float(r[k]), f1=float(f[k]))
    for average in ("macro", "weighted"):
        ap, ar, af, _ = precision_recall_fscore_support(
            y_true, y_pred, labels=classes, average=average, zero_division=0
        )
        out.update({f"{average}_precision": float(ap), f"{average}_recall": float(ar), f"{average}_f1": float(af)})
    out["roc_auc"] = roc_auc(y_true, proba, classes)
    out["confusion_matrix"] = confusion_matrix(y_true, y_pred, labels=classes).tolist()
    out["classes"] = classes
    out["per_class"] = {
        c: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(support[i])}
        for i, c in enumerate(classes)
    }
    return out


def _balanced_accuracy(y_true: Sequence[str], y_pred: Sequence[str]) -> float:
    """Mean recall over the classes present in ``y_true`` (sklearn warns, needlessly, on one class)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return float(balanced_accuracy_score(y_true, y_pred))


def roc_auc(y_true: Sequence[str], proba: np.ndarray, classes: Sequence[str]) -> float | None:
    """ROC-AUC, or None where it is undefined (a class of the model is missing from ``y_true``)."""
    classes = list(classes)
    if set(y_true) != set(classes):
        return None
    if len(classes) == 2:
        k = classes.index(positive_class(classes))
        return float(roc_auc_score([y == classes[k] for y in y_true], proba[:, k]))
    return float(roc_auc_score(y_true, proba, labels=classes, multi_class="ovr", average="macro"))


def paper_formula_metrics(tp: int, tn: int, fp: int, fn: int) -> dict[str, float | None]:
    """The paper's eq. 10-13 exactly as printed (binary). Not a metric to use: shown for contrast."""

    def ratio(a: float, b: float) -> float | None:
        return a / b if b else None

    accuracy = ratio(tp + tn, tp + tn + fp + tn)  # eq. 10, with its typo (TN twice, FN missing)
    recall = ratio(tp, tp + fp)  # eq. 11: this is precision
    f = ratio(2 * accuracy * recall, accuracy + recall) if accuracy and recall else None  # eq. 12
    fpr = ratio(fp, fp + tn)
    auc = 0.5 * (recall + fpr) if recall is not None and fpr is not None else None  # eq. 13
    return {"accuracy": accuracy, "recall": recall, "f": f, "auc": auc}


def binary_counts(y_true: Sequence[str], y_pred: Sequence[str], positive: str = POSITIVE) -> dict[str, int]:
    """TP, TN, FP, FN with ``positive`` as the positive class."""
    t = np.asarray([y == positive for y in y_true])
    p = np.asarray([y == positive for y in y_pred])
    return {"tp": int((t & p).sum()), "tn": int((~t & ~p).sum()), "fp": int((~t & p).sum()), "fn": int((t & ~p).sum())}
