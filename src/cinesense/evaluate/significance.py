"""Uncertainty of test-set figures: percentile bootstrap intervals and McNemar's exact paired test."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import binomtest



def _f1_per_class(confusion: np.ndarray) -> np.ndarray:
    tp = np.diag(confusion).astype(float)
    denominator = confusion.sum(axis=0) + confusion.sum(axis=1)  # 2tp + fp + fn
    return np.divide(2 * tp, denominator, out=np.zeros_like(tp), where=denominator > 0)


def _score(score: str, truth: np.ndarray, predicted: np.ndarray, n_classes: int) -> float:
    """accuracy / macro_f1 / weighted_f1 of integer-coded labels (numpy, fast enough to resample)."""
    if score == "accuracy":
        return float(np.mean(truth == predicted))
    confusion = np.bincount(truth * n_classes + predicted, minlength=n_classes * n_classes).reshape(n_classes, n_classes)
    f1 = _f1_per_class(confusion)
    if score == "macro_f1":
        return float(f1.mean())
    if score == "weighted_f1":
        support = confusion.sum(axis=1)
        return float((f1 * support).sum() / support.sum())
    raise ValueError(f"unknown score {score!r} (accuracy, macro_f1, weighted_f1)")


def bootstrap_interval(
    y_true: Sequence[str], y_pred: Sequence[str], score: str = "accuracy", *, n_resamples: int = 1000,
    confidence: float = 0.95, seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``score`` over test examples resampled with replacement.

    Macro-F1 averages over every class seen in ``y_true`` or ``y_pred`` (as scikit-learn does on
    the full set)."""
    if len(y_true) == 0:
        return float("nan"), float("nan")
    classes = sorted(set(y_true) | set(y_pred))
    code = {c: i for i, c in enumerate(classes)}
    truth = np.array([code[y] for y in y_true])
    predicted = np.array([code[y] for y in y_pred])
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(n_resamples):
        idx = rng.integers(0, len(truth), len(truth))
        values.append(_score(score, truth[idx], predicted[idx], len(classes)))
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


@dataclass(frozen=True)
class PairedTest:
    """McNemar's exact test on the examples where two systems disagree in correctness."""

    only_a_right: int
    only_b_right: int
    p_value: float


def mcnemar(y_true: Sequence[str], pred_a: Sequence[str], pred_b: Sequence[str]) -> PairedTest:
    """Two-sided exact McNemar test (binomial on the discordant pairs) of systems a and b."""
    y, a, b = np.asarray(y_true), np.asarray(pred_a), np.asarray(pred_b)
    a_right, b_right = a == y, b == y
    only_a, only_b = int(np.sum(a_right & ~b_right)), int(np.sum(b_right & ~a_right))
    p_value = 1.0 if only_a + only_b == 0 else float(binomtest(only_a, only_a + only_b, 0.5).pvalue)
    return PairedTest(only_a, only_b, p_value)
