"""Uncertainty of test-set figures: percentile bootstrap intervals and McNemar's exact paired test."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import binomtest
from sklearn.metrics import accuracy_score, f1_score

Score = Callable[[np.ndarray, np.ndarray], float]

SCORES: dict[str, Score] = {
    "accuracy": lambda y, p: float(accuracy_score(y, p)),
    "macro_f1": lambda y, p: float(f1_score(y, p, average="macro", zero_division=0)),
    "weighted_f1": lambda y, p: float(f1_score(y, p, average="weighted", zero_division=0)),
}


def bootstrap_interval(
    y_true: Sequence[str], y_pred: Sequence[str], score: str = "accuracy", *, n_resamples: int = 1000,
    confidence: float = 0.95, seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``score`` over test examples resampled with replacement."""
    y, p = np.asarray(y_true), np.asarray(y_pred)
    if len(y) == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    fn = SCORES[score]
    values = [fn(y[idx], p[idx]) for idx in (rng.integers(0, len(y), len(y)) for _ in range(n_resamples))]
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
