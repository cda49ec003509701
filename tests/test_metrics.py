"""Tests of cinesense.evaluate.metrics against values computed by hand on tiny examples."""

from __future__ import annotations

import numpy as np
import pytest

from cinesense.evaluate.metrics import binary_counts, classification_metrics, paper_formula_metrics, positive_class, roc_auc

CLASSES = ["negative", "positive"]
# 4 positive, 3 negative examples; P(positive) below; threshold 0.5 (argmax)
Y_TRUE = ["positive"] * 4 + ["negative"] * 3
P_POS = [0.9, 0.8, 0.6, 0.3, 0.7, 0.55, 0.2]
# predictions: P P P N | P P N  ->  TP=3 FN=1 FP=2 TN=1
PROBA = np.column_stack([1 - np.array(P_POS), P_POS])


@pytest.fixture(scope="module")
def metrics():
    return classification_metrics(Y_TRUE, PROBA, CLASSES)


def test_counts():
    y_pred = [CLASSES[i] for i in PROBA.argmax(axis=1)]
    assert binary_counts(Y_TRUE, y_pred) == {"tp": 3, "tn": 1, "fp": 2, "fn": 1}


def test_accuracy(metrics):
    assert metrics["n"] == 7
    assert metrics["accuracy"] == pytest.approx(4 / 7)


def test_positive_class_precision_recall_f1(metrics):
    assert metrics["positive_class"] == "positive"
    assert metrics["precision"] == pytest.approx(3 / 5)
    assert metrics["recall"] == pytest.approx(3 / 4)
    assert metrics["f1"] == pytest.approx(2 / 3)


def test_per_class(metrics):
    assert metrics["per_class"]["negative"] == pytest.approx(
        {"precision": 1 / 2, "recall": 1 / 3, "f1": 2 / 5, "support": 3}
    )
    assert metrics["per_class"]["positive"]["support"] == 4


def test_macro_and_weighted_averages(metrics):
    assert metrics["macro_precision"] == pytest.approx((3 / 5 + 1 / 2) / 2)
    assert metrics["macro_recall"] == pytest.approx((3 / 4 + 1 / 3) / 2)
    assert metrics["macro_f1"] == pytest.approx((2 / 3 + 2 / 5) / 2)  # 8/15
    assert metrics["weighted_f1"] == pytest.approx((4 * 2 / 3 + 3 * 2 / 5) / 7)  # 58/105
    assert metrics["weighted_recall"] == pytest.approx(4 / 7)  # weighted recall == accuracy


def test_balanced_accuracy(metrics):
    assert metrics["balanced_accuracy"] == pytest.approx((3 / 4 + 1 / 3) / 2)


def test_confusion_matrix_rows_are_true_labels(metrics):
    # rows = true (negative, positive), columns = predicted (negative, positive)
    assert metrics["confusion_matrix"] == [[1, 2], [1, 3]]
    assert metrics["classes"] == CLASSES


def test_roc_auc_binary(metrics):
    # positive scores {.9,.8,.6,.3} vs negative {.7,.55,.2}: 9 of 12 pairs ordered correctly
    assert metrics["roc_auc"] == pytest.approx(9 / 12)


def test_roc_auc_uses_the_positive_column_whatever_the_order():
    classes = ["positive", "negative"]
    proba = PROBA[:, ::-1]
    assert roc_auc(Y_TRUE, proba, classes) == pytest.approx(9 / 12)
    assert classification_metrics(Y_TRUE, proba, classes)["confusion_matrix"] == [[3, 1], [2, 1]]


def test_roc_auc_three_class_one_vs_rest():
    classes = ["negative", "neutral", "positive"]
    y_true = ["negative", "neutral", "positive", "positive"]
    proba = np.array([[0.6, 0.3, 0.1], [0.35, 0.35, 0.3], [0.1, 0.2, 0.7], [0.3, 0.4, 0.3]])
    # one-vs-rest AUCs: negative 1, neutral 2/3, positive (2 + 1 + 0.5) / 4 = 7/8 (a tie counts 1/2)
    expected = (1 + 2 / 3 + 7 / 8) / 3
    assert roc_auc(y_true, proba, classes) == pytest.approx(expected)
    out = classification_metrics(y_true, proba, classes)
    assert out["roc_auc"] == pytest.approx(expected)
    assert out["positive_class"] == "positive"
    # argmax: negative, negative (tie broken to the first column), positive, neutral
    assert out["confusion_matrix"] == [[1, 0, 0], [1, 0, 0], [0, 1, 1]]


@pytest.mark.filterwarnings("ignore:y_pred contains classes not in y_true:UserWarning")
def test_roc_auc_none_when_a_class_is_missing():
    y_true = ["positive", "positive"]
    proba = np.array([[0.2, 0.8], [0.6, 0.4]])
    assert roc_auc(y_true, proba, CLASSES) is None
    out = classification_metrics(y_true, proba, CLASSES)
    assert out["roc_auc"] is None
    assert out["accuracy"] == 0.5
    three = np.array([[0.2, 0.3, 0.5], [0.6, 0.2, 0.2]])
    assert roc_auc(["negative", "positive"], three, ["negative", "neutral", "positive"]) is None


def test_positive_class_fallback():
    assert positive_class(["negative", "positive"]) == "positive"
    assert positive_class(["bad", "good"]) == "good"


def test_bad_inputs_rejected():
    with pytest.raises(ValueError, match="shape"):
        classification_metrics(Y_TRUE, PROBA[:3], CLASSES)
    with pytest.raises(ValueError, match="not among"):
        classification_metrics(["neutral"], np.array([[0.5, 0.5]]), CLASSES)
    with pytest.raises(ValueError, match="no examples"):
        classification_metrics([], np.zeros((0, 2)), CLASSES)


def test_paper_formulas_as_printed():
    tp, tn, fp, fn = 6, 3, 1, 2
    paper = paper_formula_metrics(tp=tp, tn=tn, fp=fp, fn=fn)
    assert paper["accuracy"] == pytest.approx(9 / 13)  # (TP+TN)/(TP+TN+FP+TN)
    assert paper["recall"] == pytest.approx(6 / 7)  # TP/(TP+FP), i.e. precision
    assert paper["f"] == pytest.approx(36 / 47)  # 2*A*R/(A+R) with the paper's A and R
    assert paper["auc"] == pytest.approx(0.5 * (6 / 7 + 1 / 4))  # (R + FPR)/2


def test_paper_formulas_differ_from_standard_ones():
    tp, tn, fp, fn = 6, 3, 1, 2
    y_true = ["positive"] * (tp + fn) + ["negative"] * (tn + fp)
    y_pred = ["positive"] * tp + ["negative"] * fn + ["negative"] * tn + ["positive"] * fp
    assert binary_counts(y_true, y_pred) == {"tp": tp, "tn": tn, "fp": fp, "fn": fn}
    proba = np.array([[0.0, 1.0] if y == "positive" else [1.0, 0.0] for y in y_pred])
    standard = classification_metrics(y_true, proba, CLASSES)
    paper = paper_formula_metrics(tp=tp, tn=tn, fp=fp, fn=fn)
    assert standard["accuracy"] == pytest.approx(9 / 12)
    assert standard["recall"] == pytest.approx(6 / 8)
    assert standard["f1"] == pytest.approx(4 / 5)
    assert standard["roc_auc"] == pytest.approx(0.5 * (6 / 8 + 3 / 4))  # one threshold: (TPR + TNR)/2
    for paper_key, standard_key in [("accuracy", "accuracy"), ("recall", "recall"), ("f", "f1"), ("auc", "roc_auc")]:
        assert paper[paper_key] != pytest.approx(standard[standard_key]), paper_key


def test_paper_formulas_undefined_ratios_are_none():
    assert paper_formula_metrics(tp=0, tn=0, fp=0, fn=3) == {"accuracy": None, "recall": None, "f": None, "auc": None}
