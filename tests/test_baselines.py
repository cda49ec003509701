"""Tests of the peer baselines (tiny in-test fixtures; offline and deterministic)."""

from __future__ import annotations

import pickle

import jieba
import numpy as np
import pytest

from cinesense.evaluate.baselines import (
    LexiconScorer,
    MajorityClass,
    NgramAnalyzer,
    SnowNLPBaseline,
    TfidfLogisticRegression,
    desegment,
    make_baselines,
)
from cinesense.text.lexicon import _load_word_list, load_lexicon

# Pre-segmented like the Douban files: tokens separated by spaces.
POSITIVE = ["这部 电影 非常 精彩", "很 好看 推荐", "感动 经典 好看", "精彩 好看 值得 一看"]
NEGATIVE = ["真是 垃圾", "太 难看 了", "无聊 失望 烂片", "垃圾 难看 无聊"]
TEXTS = POSITIVE + NEGATIVE
LABELS = ["positive"] * len(POSITIVE) + ["negative"] * len(NEGATIVE)
THREE_LABELS = ["positive", "negative", "neutral", "positive", "negative", "neutral", "positive", "negative"]


def _all_baselines() -> list:
    return [
        MajorityClass(),
        SnowNLPBaseline(),
        LexiconScorer(str.split),
        TfidfLogisticRegression(str.split, min_df=1),
    ]


def _p_pos(model, texts: list[str]) -> np.ndarray:
    return model.predict_proba(texts)[:, model.classes_.index("positive")]


@pytest.mark.parametrize("model", _all_baselines(), ids=lambda m: m.name)
def test_contract(model) -> None:
    assert not any(k.endswith("_") for k in vars(model)), "__init__ must only store its arguments"
    assert model.fit(TEXTS, LABELS) is model
    assert model.classes_ == ["negative", "positive"]
    queries = ["精彩 好看", "垃圾 难看", "", "   ", "good"]
    proba = model.predict_proba(queries)
    assert proba.shape == (len(queries), 2)
    assert np.all(proba >= 0) and np.allclose(proba.sum(axis=1), 1.0)
    predictions = model.predict(queries)
    assert len(predictions) == len(queries) and set(predictions) <= set(model.classes_)
    assert model.predict_proba([]).shape == (0, 2)


@pytest.mark.parametrize("model", _all_baselines()[1:], ids=lambda m: m.name)
def test_columns_follow_classes(model) -> None:
    model.fit(TEXTS, LABELS)
    p_pos = _p_pos(model, ["精彩 好看", "垃圾 难看"])
    assert p_pos[0] > 0.5 > p_pos[1]
    assert model.predict(["精彩 好看", "垃圾 难看"]) == ["positive", "negative"]


def test_majority_predicts_training_majority() -> None:
    model = MajorityClass().fit(["a", "b", "c", "d"], ["positive", "negative", "positive", "positive"])
    assert model.predict(["x", "", "垃圾"]) == ["positive"] * 3
    np.testing.assert_allclose(model.predict_proba(["x"]), [[0.25, 0.75]])


def test_tfidf_lr_learns_separable_three_classes() -> None:
    texts = ["好 好 好", "好 棒", "棒 棒", "差 差", "差 烂", "烂 烂", "一般 还行", "还行 还行", "一般 一般"]
    labels = ["pos", "pos", "pos", "neg", "neg", "neg", "mid", "mid", "mid"]
    model = TfidfLogisticRegression(str.split, min_df=1, C=10.0).fit(texts, labels)
    assert model.classes_ == ["mid", "neg", "pos"]
    assert model.predict(texts) == labels
    assert model.predict(["棒 好", "烂 差", "还行"]) == ["pos", "neg", "mid"]
    proba = model.predict_proba(["棒 好"])
    assert proba.shape == (1, 3) and proba[0].argmax() == model.classes_.index("pos")


def test_tfidf_lr_is_deterministic() -> None:
    a = TfidfLogisticRegression(str.split, min_df=1).fit(TEXTS, LABELS).predict_proba(TEXTS)
    b = TfidfLogisticRegression(str.split, min_df=1).fit(TEXTS, LABELS).predict_proba(TEXTS)
    np.testing.assert_array_equal(a, b)


def test_ngram_analyzer() -> None:
    assert NgramAnalyzer(str.split, (1, 2))("a  b c") == ["a", "b", "c", "a b", "b c"]
    assert NgramAnalyzer(str.split, (1, 2))("") == []


def test_lexicon_polarity_negation_and_degree() -> None:
    model = LexiconScorer(str.split).fit(TEXTS, LABELS)
    good, bad, not_good, very_good, not_bad = _p_pos(
        model, ["好看 精彩", "垃圾 难看", "不 好看", "非常 精彩", "不 难看"]
    )
    assert good > 0.5 > bad
    assert not_good < 0.5 and not_bad > 0.5  # an odd number of deny words flips the sign
    assert very_good > _p_pos(model, ["精彩"])[0] > 0.5
    assert model.predict(["不 好看", "好看", "不 不 好看"]) == ["negative", "positive", "positive"]


def test_lexicon_with_jieba_on_raw_text() -> None:
    model = LexiconScorer(jieba.lcut).fit(TEXTS, LABELS)
    good, bad, not_good = _p_pos(model, ["这部电影很好看，非常精彩", "真是垃圾，太难看了", "这部电影不好看"])
    assert good > 0.5 > bad and not_good < 0.5


def test_lexicon_zero_score_predicts_training_majority() -> None:
    model = LexiconScorer(str.split).fit(["a", "b", "c"], ["negative", "positive", "positive"])
    assert model.predict(["", "电影 院", "好看 难看"]) == ["positive"] * 3
    np.testing.assert_allclose(model.predict_proba(["", "电影 院"]), 0.5)


def test_lexicon_word_lists() -> None:
    lexicon = load_lexicon()
    assert load_lexicon() is lexicon  # loaded once
    assert {"精彩", "好看", "感动"} <= lexicon.positive and {"垃圾", "难看", "失望"} <= lexicon.negative
    assert not lexicon.positive & lexicon.negative
    assert "不" in lexicon.deny and "非常" in lexicon.degree["extreme"] and "很" in lexicon.degree["very"]
    assert all(isinstance(w, str) and w == w.strip() and w for w in lexicon.positive | lexicon.negative)


class _Evil:
    def __reduce__(self):
        return (print, ("pwned",))


def test_word_list_unpickler_is_restricted(tmp_path) -> None:
    ok = tmp_path / "ok.pkl"
    ok.write_bytes(pickle.dumps({"好看 ", "精彩"}))
    assert _load_word_list(ok) == {"好看", "精彩"}
    evil = tmp_path / "evil.pkl"
    evil.write_bytes(pickle.dumps([_Evil()]))
    with pytest.raises(pickle.UnpicklingError):
        _load_word_list(evil)
    not_str = tmp_path / "ints.pkl"
    not_str.write_bytes(pickle.dumps(["好", 848]))
    with pytest.raises(ValueError):
        _load_word_list(not_str)


@pytest.mark.parametrize("model", [SnowNLPBaseline(), LexiconScorer(str.split)], ids=lambda m: m.name)
def test_binary_only_baselines_reject_other_label_sets(model) -> None:
    with pytest.raises(ValueError, match="negative"):
        model.fit(TEXTS, THREE_LABELS)
    with pytest.raises(ValueError):
        model.fit(TEXTS[:2], ["pos", "neg"])


def test_fit_rejects_length_mismatch_and_single_class() -> None:
    with pytest.raises(ValueError):
        MajorityClass().fit(TEXTS, LABELS[:-1])
    with pytest.raises(ValueError):
        TfidfLogisticRegression(str.split, min_df=1).fit(TEXTS, ["positive"] * len(TEXTS))


def test_snownlp_empty_text_and_desegmentation() -> None:
    model = SnowNLPBaseline().fit(TEXTS, LABELS)
    np.testing.assert_allclose(model.predict_proba(["", " \t "]), 0.5)
    # Segmented and unsegmented text get the same score.
    np.testing.assert_allclose(model.predict_proba(["这部 电影 真 好看"]), model.predict_proba(["这部电影真好看"]))
    assert desegment(" 这部 电影 很 good ！ ") == "这部电影很 good ！"
    assert desegment("a b") == "a b"


def test_make_baselines() -> None:
    binary = make_baselines(str.split, LABELS)
    assert [type(b) for b in binary] == [MajorityClass, SnowNLPBaseline, LexiconScorer, TfidfLogisticRegression]
    assert len({b.name for b in binary}) == 4 and all(b.name for b in binary)
    assert [type(b) for b in make_baselines(str.split, THREE_LABELS)] == [MajorityClass, TfidfLogisticRegression]
    for model in make_baselines(str.split, ["negative", "neutral", "positive"]):
        model.fit(TEXTS, THREE_LABELS)
        assert model.predict_proba(TEXTS).shape == (len(TEXTS), 3)
