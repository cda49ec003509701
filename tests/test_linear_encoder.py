"""The "linear" encoder model's parts that need no sentence encoder: the TF-IDF n-gram table
(identical to scikit-learn's rows, saved without pickle), a fitted logistic regression as a linear
layer, the two-head mixture, the bundle checks and the config rule (no fused model over it)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from cinesense.bundle import BundleError
from cinesense.config import ConfigError, load_config
from cinesense.text.encoder_branch import class_rows
from cinesense.text.encoder_model import SentenceModel, SentenceModelConfig, collate_sentences
from cinesense.text.tfidf import TfidfWords, word_ngrams

DOCS = [["好看", "电影", "好看"], ["无聊", "电影"], ["好看", "剧情"], ["无聊", "剧情", "无聊", "浪费"], ["电影", "好看"]]


def _sklearn_rows(docs, table_docs=DOCS):
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(analyzer=lambda tokens: word_ngrams(tokens, (1, 2)), sublinear_tf=True, min_df=2)
    vectorizer.fit(table_docs)
    return vectorizer, vectorizer.transform(docs).toarray()


def _dense(table: TfidfWords, tokens) -> np.ndarray:
    row = np.zeros(len(table))
    ids, weights = table.features(tokens)
    row[np.asarray(ids, dtype=int) - 1] = weights
    return row


def test_word_ngrams_skip_blank_tokens():
    assert word_ngrams(["a", " ", "b", "c"], (1, 2)) == ["a", "b", "c", "a b", "b c"]
    assert word_ngrams([], (1, 2)) == []


def test_features_are_scikit_learns_rows():
    table, rows = TfidfWords.fit(DOCS)
    vectorizer, expected = _sklearn_rows(DOCS)
    assert table.ngrams == sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.__getitem__)
    np.testing.assert_allclose(rows.toarray(), expected)
    for doc, want in zip(DOCS, expected):
        np.testing.assert_allclose(_dense(table, doc), want, atol=1e-12)
    assert table.features(["没见过", "的词"]) == ([], [])
    with pytest.raises(ValueError, match="no word n-gram is in 2 or more training texts"):
        TfidfWords.fit([["一"], ["二"]])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(["好看", "电影", "无聊", "剧情", "浪费", "新词", " "]), max_size=12))
def test_features_match_scikit_learn_on_generated_texts(tokens):
    table, _ = TfidfWords.fit(DOCS)
    _, (expected,) = _sklearn_rows([tokens])
    np.testing.assert_allclose(_dense(table, tokens), expected, atol=1e-12)


def test_table_round_trips_and_refuses_bad_files(tmp_path):
    table, _ = TfidfWords.fit(DOCS)
    section = table.save(tmp_path)
    again = TfidfWords.load(tmp_path, section)
    assert again.ngrams == table.ngrams and np.array_equal(again.idf, table.idf)
    assert again.features(DOCS[0]) == table.features(DOCS[0])
    (tmp_path / "tfidf.json").write_text(json.dumps({"ngrams": ["a"], "idf": [1.0, 2.0], "ngram_range": [1, 2]}))
    with pytest.raises(BundleError, match="SHA-256"):
        TfidfWords.load(tmp_path, section)
    with pytest.raises(BundleError, match="not a TF-IDF n-gram table"):
        TfidfWords.load(tmp_path, {**section, "sha256": None})
    with pytest.raises(BundleError, match="plain file name"):
        TfidfWords.load(tmp_path, {**section, "file": "../tfidf.json"})
    with pytest.raises(BundleError, match="field 'tfidf'"):
        TfidfWords.load(tmp_path, None)


@pytest.mark.parametrize("classes", [2, 3])
def test_a_fitted_logistic_regression_becomes_a_layer_with_its_probabilities(classes):
    from sklearn.linear_model import LogisticRegression

    generator = np.random.default_rng(0)
    x, y = generator.normal(size=(60, 5)), np.arange(60) % classes
    regression = LogisticRegression(C=1.0).fit(x, y)
    weight, bias = class_rows(regression, classes)
    proba = torch.softmax(torch.from_numpy(x).float() @ weight.T + bias, dim=-1).numpy()
    np.testing.assert_allclose(proba, regression.predict_proba(x), atol=1e-5)
    with pytest.raises(ValueError, match="fitted on classes"):
        class_rows(LogisticRegression().fit(x, y + 1), classes)


def test_the_mixture_is_the_mean_of_the_two_heads_probabilities():
    model = SentenceModel(SentenceModelConfig(sentence_dim=3, num_classes=2, words=4)).eval()
    with torch.no_grad():
        model.word_head.weight.normal_()
        model.word_head.weight[0].zero_()
    batch = collate_sentences([(np.ones(3, dtype=np.float32), None, ([1, 3], [0.6, 0.8])),
                               (np.zeros(3, dtype=np.float32), None, ([], []))])
    assert batch["word_ids"].tolist() == [[1, 3], [0, 0]]
    logits = model(**batch)
    sentence = torch.softmax(model.forward_head(model.forward_features(batch["sentence"])[0]), dim=-1)
    words = torch.softmax(model.word_logits(batch["word_ids"], batch["word_weights"]), dim=-1)
    torch.testing.assert_close(torch.exp(logits), (sentence + words) / 2)
    with pytest.raises(ValueError, match="word_ids"):
        model(batch["sentence"])


def test_config_rules():
    with pytest.raises(ValueError, match="linear sentence head"):
        SentenceModelConfig(sentence_dim=3, num_classes=2, words=4, hidden_dim=8)
    with pytest.raises(ConfigError, match="hidden_dim"):
        load_config(None, ['text_encoder.combine="linear"', "text_encoder.hidden_dim=8"])
    with pytest.raises(ConfigError, match="no feature vector for a fused model"):
        load_config("configs/default.toml", ['text_encoder.compare=["linear"]'])
    with pytest.raises(ConfigError, match="no feature vector for a fused model"):
        load_config("configs/default.toml", ['fusion.text_branch="encoder"', 'text_encoder.combine="linear"'])
    assert load_config("configs/douban.toml", ['modality="encoder"', 'text_encoder.combine="linear"']).text_encoder.combine == "linear"
