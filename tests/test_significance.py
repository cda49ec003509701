"""Bootstrap intervals and McNemar's test."""

import numpy as np
import pytest
from sklearn.metrics import f1_score

from cinesense.evaluate.significance import _score, bootstrap_interval, mcnemar


def test_numpy_scores_match_scikit_learn():
    rng = np.random.default_rng(0)
    truth, predicted = rng.integers(0, 3, 200), rng.integers(0, 3, 200)
    for average in ("macro", "weighted"):
        assert _score(f"{average}_f1", truth, predicted, 3) == pytest.approx(f1_score(truth, predicted, average=average))
    assert _score("accuracy", truth, predicted, 3) == pytest.approx(np.mean(truth == predicted))


def test_interval_brackets_the_score_and_narrows_with_more_data():
    rng = np.random.default_rng(1)
    y = ["a" if v else "b" for v in rng.random(2000) < 0.5]
    p = [t if r < 0.8 else ("b" if t == "a" else "a") for t, r in zip(y, rng.random(2000))]
    low, high = bootstrap_interval(y, p, "accuracy")
    accuracy = np.mean(np.array(y) == np.array(p))
    assert low < accuracy < high and high - low < 0.05
    small_low, small_high = bootstrap_interval(y[:100], p[:100], "accuracy")
    assert small_high - small_low > high - low
    assert bootstrap_interval(y, p, "macro_f1", seed=3) == bootstrap_interval(y, p, "macro_f1", seed=3)


def test_mcnemar_counts_discordant_pairs():
    y = ["a"] * 30
    a = ["a"] * 30
    b = ["a"] * 10 + ["b"] * 20
    test = mcnemar(y, a, b)
    assert (test.only_a_right, test.only_b_right) == (20, 0) and test.p_value < 1e-5
    assert mcnemar(y, a, a).p_value == 1.0
