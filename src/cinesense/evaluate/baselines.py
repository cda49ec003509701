"""Peer baselines the neural models are compared against.

Four systems share one scikit-learn-style contract: ``__init__`` only stores its arguments, ``fit``
sets ``classes_`` (the sorted label strings) and other state ending in ``_``, ``predict_proba``
returns an ``(n, len(classes_))`` array whose columns follow ``classes_`` and whose rows sum to 1,
and ``predict`` returns label strings.

SnowNLP and the lexicon scorer need no training and support only negative/positive labels;
use :func:`make_baselines` to get those applicable to a label set.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Self

import numpy as np

from cinesense.text.lexicon import load_lexicon, lexicon_score
from cinesense.text.tfidf import word_ngrams

Tokenize = Callable[[str], list[str]]

#: The only label set SnowNLP and the lexicon scorer support (column 1 is P(positive)).
BINARY_LABELS: tuple[str, str] = ("negative", "positive")


class _Baseline:
    """Shared label bookkeeping, and ``predict`` as the arg-max of ``predict_proba``."""

    name: str = ""
    classes_: list[str]

    def _set_classes(self, texts: Sequence[str], labels: Sequence[str]) -> list[str]:
        if len(texts) != len(labels):
            raise ValueError(f"got {len(texts)} texts but {len(labels)} labels")
        if len(labels) == 0:
            raise ValueError("cannot fit on an empty training set")
        self.classes_ = sorted({str(label) for label in labels})
        return [str(label) for label in labels]

    def _require_binary(self) -> None:
        if tuple(self.classes_) != BINARY_LABELS:
            raise ValueError(f"{self.name} supports only labels {list(BINARY_LABELS)}; got {self.classes_}")

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def predict(self, texts: Sequence[str]) -> list[str]:
        """Return the most probable label of each text (ties go to the first class in ``classes_``)."""
        proba = self.predict_proba(texts)
        return [self.classes_[i] for i in proba.argmax(axis=1)]


def _binary_proba(p_positive: Iterable[float]) -> np.ndarray:
    p = np.clip(np.fromiter(p_positive, dtype=np.float64), 0.0, 1.0)
    return np.column_stack([1.0 - p, p])


class MajorityClass(_Baseline):
    """Always predicts the training majority class.

    ``predict_proba`` returns the training class frequencies for every text, so its AUC is 0.5.
    Ties between equally frequent classes go to the first one in sorted order.
    """

    name = "Majority class"

    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> Self:
        """Learn the class frequencies of ``labels`` (``texts`` are only length-checked)."""
        labels = self._set_classes(texts, labels)
        counts = Counter(labels)
        self.class_prior_ = np.array([counts[c] for c in self.classes_], dtype=np.float64) / len(labels)
        return self

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Return the training class frequencies, one identical row per text."""
        return np.tile(self.class_prior_, (len(texts), 1))


_CJK = r"\u2e80-\u2fff\u3000-\u303f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef"
_SPACE_BETWEEN_CJK = re.compile(rf"(?<=[{_CJK}])\s+(?=[{_CJK}])")


def desegment(text: str) -> str:
    """Undo word segmentation: drop the whitespace between two CJK characters (or CJK punctuation).

    Whitespace next to non-CJK text is kept: ``"这部 电影 很 good ！"`` -> ``"这部电影很 good ！"``.
    """
    return _SPACE_BETWEEN_CJK.sub("", text).strip()


class SnowNLPBaseline(_Baseline):
    """SnowNLP's pretrained sentiment model (``SnowNLP(text).sentiments`` = P(positive)).

    Nothing is learned: ``fit`` only checks that the labels are exactly negative/positive.
    Pre-segmented texts are de-segmented first; empty texts get P(positive) = 0.5.
    """

    name = "SnowNLP"

    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> Self:
        """Check the label set; raises ValueError unless it is exactly {"negative", "positive"}."""
        self._set_classes(texts, labels)
        self._require_binary()
        return self

    @staticmethod
    def _p_positive(text: str) -> float:
        from snownlp import SnowNLP  # slow import (loads its models): only when used

        text = desegment(text)
        return float(SnowNLP(text).sentiments) if text else 0.5  # SnowNLP divides by zero on ""

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Return ``[1 - p, p]`` per text, p = SnowNLP's P(positive)."""
        return _binary_proba(self._p_positive(t) for t in texts)


class LexiconScorer(_Baseline):
    """Dictionary scorer on the HowNet + DUTIR word lists (see :func:`lexicon_score`).

    P(positive) = sigmoid(score). A score of exactly 0 carries no evidence: ``predict`` then returns
    the training majority class (``predict_proba`` stays at 0.5).

    Args:
        tokenize: splits a text into words (``jieba.lcut``; ``str.split`` for pre-segmented text).
    """

    name = "Lexicon (HowNet+DUTIR)"

    def __init__(self, tokenize: Tokenize) -> None:
        self.tokenize = tokenize

    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> Self:
        """Learn the majority class (used on zero scores); raises ValueError unless binary neg/pos."""
        labels = self._set_classes(texts, labels)
        self._require_binary()
        counts = Counter(labels)
        self.majority_ = max(self.classes_, key=lambda c: counts[c])
        load_lexicon()
        return self

    def scores(self, texts: Sequence[str]) -> np.ndarray:
        """Raw lexicon scores (positive = positive sentiment)."""
        lexicon = load_lexicon()
        tokens = ([t for t in self.tokenize(x) if t.strip()] for x in texts)
        return np.array([lexicon_score(t, lexicon) for t in tokens], dtype=np.float64)

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Return ``[1 - p, p]`` per text, p = sigmoid(score)."""
        s = self.scores(texts)
        return _binary_proba(np.exp(-np.logaddexp(0.0, -s)))  # stable sigmoid

    def predict(self, texts: Sequence[str]) -> list[str]:
        """Sign of the score; the training majority class where the score is 0."""
        positive, negative = BINARY_LABELS[1], BINARY_LABELS[0]
        return [positive if s > 0 else negative if s < 0 else self.majority_ for s in self.scores(texts)]


class NgramAnalyzer:
    """Picklable scikit-learn ``analyzer``: tokens of ``tokenize``, then their n-grams joined by spaces."""

    def __init__(self, tokenize: Tokenize, ngram_range: tuple[int, int]) -> None:
        self.tokenize = tokenize
        self.ngram_range = ngram_range

    def __call__(self, text: str) -> list[str]:
        return word_ngrams(self.tokenize(text), self.ngram_range)


class TfidfLogisticRegression(_Baseline):
    """TF-IDF (sublinear tf) word n-grams + L2 logistic regression; any number of classes.

    Args:
        tokenize: splits a text into words.
        ngram_range: smallest and largest n-gram length.
        C: inverse L2 regularisation strength (4 was the best of 0.5..16 in 5-fold CV on Douban train).
        min_df: ignore n-grams in fewer training documents than this.
        seed: ``random_state`` of the logistic regression.
    """

    name = "TF-IDF + LR"

    def __init__(
        self,
        tokenize: Tokenize,
        *,
        ngram_range: tuple[int, int] = (1, 2),
        C: float = 4.0,
        min_df: int = 2,
        seed: int = 0,
    ) -> None:
        self.tokenize = tokenize
        self.ngram_range = ngram_range
        self.C = C
        self.min_df = min_df
        self.seed = seed

    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> Self:
        """Fit the vectoriser and the classifier."""
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        labels = self._set_classes(texts, labels)
        if len(self.classes_) < 2:
            raise ValueError(f"{self.name} needs at least two classes; got {self.classes_}")
        analyzer = NgramAnalyzer(self.tokenize, self.ngram_range)
        self.vectorizer_ = TfidfVectorizer(analyzer=analyzer, sublinear_tf=True, min_df=self.min_df)
        features = self.vectorizer_.fit_transform(list(texts))
        self.model_ = LogisticRegression(C=self.C, max_iter=1000, random_state=self.seed)
        self.model_.fit(features, labels)
        return self

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Return the class probabilities, columns in ``classes_`` order."""
        if len(texts) == 0:  # scikit-learn refuses empty inputs
            return np.empty((0, len(self.classes_)))
        proba = self.model_.predict_proba(self.vectorizer_.transform(list(texts)))
        order = [list(self.model_.classes_).index(c) for c in self.classes_]
        return proba[:, order]


def align_columns(proba: np.ndarray, have: Sequence[str], want: Sequence[str]) -> np.ndarray:
    """Reorder probability columns from classes ``have`` to ``want`` (a class never seen gets 0)."""
    out = np.zeros((proba.shape[0], len(want)))
    for j, c in enumerate(have):
        out[:, list(want).index(c)] = proba[:, j]
    return out


def make_baselines(tokenize: Tokenize, labels: Iterable[str]) -> list[_Baseline]:
    """Return (unfitted) every baseline applicable to a task.

    Args:
        tokenize: word tokenizer for the lexicon scorer and TF-IDF + LR.
        labels: the task's labels (the label set, or all training labels).

    Returns:
        Majority class, then SnowNLP and the lexicon scorer if the labels are exactly
        negative/positive, then TF-IDF + LR.
    """
    binary = tuple(sorted(set(labels))) == BINARY_LABELS
    extra: list[_Baseline] = [SnowNLPBaseline(), LexiconScorer(tokenize)] if binary else []
    return [MajorityClass(), *extra, TfidfLogisticRegression(tokenize)]
