"""TF-IDF of word n-grams as a model input that a bundle can carry without pickling: scikit-learn's
``TfidfVectorizer`` (sublinear tf, L2 norm) is fitted at training time, and its n-grams and idf
weights are kept as JSON; :meth:`TfidfWords.features` then computes the same row (the n-grams a
text has, with their weights) with numpy. The "linear" encoder model reads it through a logistic
regression (:mod:`cinesense.text.encoder_branch`)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from cinesense.bundle import MANIFEST, BundleError, bundle_file, check_sha256
from cinesense.hashing import sha256_file

FILE = "tfidf.json"


def ngram_spans(tokens: Sequence[str], ngram_range: tuple[int, int]) -> list[tuple[list[int], str]]:
    """Each n-gram (``ngram_range`` inclusive) of the non-blank tokens: the positions in ``tokens``
    it covers, and its words joined by a space."""
    kept = [i for i, t in enumerate(tokens) if t.strip()]
    lo, hi = ngram_range
    spans = [kept[i : i + n] for n in range(lo, hi + 1) for i in range(len(kept) - n + 1)]
    return [(positions, " ".join(tokens[k] for k in positions)) for positions in spans]


def word_ngrams(tokens: Sequence[str], ngram_range: tuple[int, int]) -> list[str]:
    """The n-grams (``ngram_range`` inclusive) of the non-blank tokens, words joined by a space."""
    return [gram for _, gram in ngram_spans(tokens, ngram_range)]


class TfidfWords:
    """The fitted n-gram table: ``ngrams[j]`` is feature ``j + 1`` (0 is padding) with weight ``idf[j]``."""

    def __init__(self, ngrams: Sequence[str], idf: Sequence[float], ngram_range: tuple[int, int] = (1, 2)) -> None:
        if len(ngrams) != len(idf):
            raise ValueError(f"{len(ngrams)} n-grams but {len(idf)} idf weights")
        self.ngrams = list(ngrams)
        self.idf = np.asarray(idf, dtype=np.float64)
        self.ngram_range = (int(ngram_range[0]), int(ngram_range[1]))
        self.index = {g: j for j, g in enumerate(self.ngrams)}

    def __len__(self) -> int:
        return len(self.ngrams)

    @classmethod
    def fit(cls, token_lists: Sequence[Sequence[str]], *, ngram_range: tuple[int, int] = (1, 2), min_df: int = 2) -> tuple["TfidfWords", object]:
        """Fit on tokenised training texts; returns the table and the training rows (a scipy sparse matrix)."""
        from sklearn.feature_extraction.text import TfidfVectorizer

        vectorizer = TfidfVectorizer(analyzer=lambda tokens: word_ngrams(tokens, ngram_range), sublinear_tf=True, min_df=min_df)
        try:
            rows = vectorizer.fit_transform(list(token_lists))
        except ValueError as error:  # scikit-learn's "empty vocabulary"
            raise ValueError(f"train: no word n-gram is in {min_df} or more training texts, so there is no TF-IDF table to fit ({error})") from None
        ngrams = sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.__getitem__)
        return cls(ngrams, vectorizer.idf_.tolist(), ngram_range), rows

    def features(self, tokens: Sequence[str]) -> tuple[list[int], list[float]]:
        """Feature ids (1-based, sorted) and weights of one text: ``(1 + log count) * idf``, L2-normalised
        (what scikit-learn's ``transform`` gives); n-grams the table does not have are left out."""
        counts = Counter(j for j in (self.index.get(g) for g in word_ngrams(tokens, self.ngram_range)) if j is not None)
        if not counts:
            return [], []
        ids = np.array(sorted(counts))
        weights = (1.0 + np.log([counts[j] for j in ids])) * self.idf[ids]
        weights /= np.sqrt(np.square(weights).sum())
        return (ids + 1).tolist(), weights.tolist()

    # ---------------------------------------------------------------- bundle
    def save(self, directory: Path) -> dict:
        """Write ``tfidf.json``; return its manifest section (file, size, SHA-256)."""
        path = directory / FILE
        path.write_text(json.dumps({"ngram_range": list(self.ngram_range), "ngrams": self.ngrams, "idf": self.idf.tolist()}, ensure_ascii=False),
                        encoding="utf-8")
        return {"file": FILE, "size": len(self), "sha256": sha256_file(path)}

    @classmethod
    def load(cls, directory: Path, section: object) -> "TfidfWords":
        """Inverse of :meth:`save`; a missing, altered or malformed file is a ``BundleError`` naming it."""
        source = directory / MANIFEST
        if not isinstance(section, dict) or not isinstance(section.get("file"), str):
            raise BundleError(f"{source}: field 'tfidf' must be an object naming the n-gram file")
        path = bundle_file(directory, section["file"], "tfidf.file")
        check_sha256(path, section.get("sha256"), "tfidf.sha256")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            table = cls(data["ngrams"], data["idf"], tuple(data["ngram_range"]))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
            raise BundleError(f"{path}: not a TF-IDF n-gram table ({error})") from None
        if len(table) != section.get("size"):
            raise BundleError(f"{path}: has {len(table)} n-grams, the manifest says {section.get('size')!r}")
        return table
