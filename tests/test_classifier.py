"""Tests of cinesense.classifier.Classifier on a tiny synthetic Chinese data set (fitted once)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from cinesense import Classifier
from cinesense.bundle import BundleError
from cinesense.config import load_config
from cinesense.data.schema import Record
from cinesense.text.vocab import Vocabulary
from helpers import tiny_texts

OVERRIDES = [
    "seed=0",
    "word2vec.vector_size=16",
    "word2vec.min_count=1",
    "word2vec.epochs=5",
    "text_model.hidden_size=16",
    "text_model.attention_dim=16",
    "text_model.dropout=0.1",
    "train.epochs=10",
    "train.batch_size=8",
    "train.learning_rate=0.01",
    "train.threads=1",
]


def _dataset(n: int = 40, seed: int = 0) -> list[Record]:
    return [Record(id=f"s{i}", text=text, label=label) for i, (text, label) in enumerate(tiny_texts(n, seed, sep=" "))]


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    threads = torch.get_num_threads()
    config = load_config(None, OVERRIDES)
    classifier = Classifier(config).fit(_dataset(), progress=False)
    directory = classifier.save(tmp_path_factory.mktemp("bundle") / "model")
    yield classifier, directory
    torch.set_num_threads(threads)  # train.threads=1 is process-wide


@pytest.fixture
def bundle_copy(fitted, tmp_path):
    _, directory = fitted
    return shutil.copytree(directory, tmp_path / "model")


TEXTS = ["这部 电影 真的 好看", "剧情 无聊", "我很喜欢这部电影", "演员 垃圾 失望", "好看！！！😡", "完全没见过的词"]


def test_fit_sets_state_and_training_loss_goes_down(fitted):
    classifier, _ = fitted
    assert classifier.classes_ == ["negative", "positive"]
    losses = [epoch.train_loss for epoch in classifier.history_.epochs]
    assert len(losses) == 10
    assert losses[-1] < 0.5 * losses[0]
    assert np.mean(classifier.history_.step_losses[-5:]) < np.mean(classifier.history_.step_losses[:5])
    vocabulary, vectors = classifier.text_.vocabulary, classifier.text_.vectors
    assert sum(t in vectors.key_to_index for t in vocabulary.itos) == len(vocabulary) - 2  # all but <pad>, <unk>


def test_predict_proba_rows_sum_to_one_and_columns_follow_classes(fitted):
    classifier, _ = fitted
    proba = classifier.predict_proba(TEXTS)
    assert proba.shape == (len(TEXTS), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-12)
    assert ((proba >= 0) & (proba <= 1)).all()
    positive = classifier.classes_.index("positive")
    assert proba[0, positive] > 0.5 and proba[1, positive] < 0.5
    for text, row in zip(TEXTS, proba):
        assert classifier.explain(text).probabilities == pytest.approx(dict(zip(classifier.classes_, row)), rel=1e-5, abs=1e-9)  # float32 batch vs one


def test_predict_proba_does_not_depend_on_batching(fitted):
    classifier, _ = fitted
    np.testing.assert_allclose(classifier.predict_proba(TEXTS, batch_size=1), classifier.predict_proba(TEXTS), atol=1e-6)
    np.testing.assert_allclose(classifier.predict_proba(TEXTS[::-1])[::-1], classifier.predict_proba(TEXTS), atol=1e-6)


def test_predict_returns_labels(fitted):
    classifier, _ = fitted
    predictions = classifier.predict(TEXTS)
    assert len(predictions) == len(TEXTS)
    assert set(predictions) <= set(classifier.classes_)
    assert predictions[:2] == ["positive", "negative"]
    train = _dataset()
    accuracy = np.mean([p == r.label for p, r in zip(classifier.predict([r.text for r in train]), train)])
    assert accuracy >= 0.9


def test_predict_empty_list(fitted):
    classifier, _ = fitted
    assert classifier.predict_proba([]).shape == (0, 2)
    assert classifier.predict([]) == []


def test_explain_one_weight_per_token(fitted):
    classifier, _ = fitted
    explanation = classifier.explain("这部 电影 真的 好看 没见过")
    assert explanation.tokens == ["这部", "电影", "真的", "好看", "没见过"]
    assert len(explanation.weights) == len(explanation.tokens)
    assert sum(explanation.weights) == pytest.approx(1.0, abs=1e-6)
    assert all(w > 0 for w in explanation.weights)
    assert explanation.label in classifier.classes_
    assert len(explanation.top_tokens(2)) == 2


@pytest.mark.parametrize("text", ["！！！", "😡😡", "\u0000\u0000", "http://example.com/a"])
def test_text_without_words_is_refused_not_given_a_constant_answer(fitted, text):
    classifier, _ = fitted
    for call in (lambda: classifier.explain(text), lambda: classifier.predict_proba(["好看", text])):
        with pytest.raises(ValueError, match="no word the model reads") as info:
            call()
        assert "emoji" in str(info.value) and "attach them as images" in str(info.value)
    with pytest.raises(ValueError, match=r"texts\[1\]"):
        classifier.predict(["好看", text])


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_empty_text_is_refused_naming_the_argument(fitted, text):
    classifier, _ = fitted
    with pytest.raises(ValueError, match=r"'texts\[2\]' is empty"):
        classifier.predict_proba(["好看", "无聊", text])
    with pytest.raises(ValueError, match="'text' is empty"):
        classifier.explain(text)


def test_training_still_reads_a_text_without_words(tmp_path):
    """Training data is read as before the input rule (the default corpus has 7 such reviews)."""
    config = load_config(None, [*OVERRIDES, "train.epochs=1"])
    records = [*_dataset(12), Record(id="w", text="。", label="negative"), Record(id="u", text=":)", label="positive")]
    classifier = Classifier(config).fit(records, progress=False)
    proba, kept = classifier.predict_records(records)
    assert kept == list(range(len(records))) and proba.shape == (len(records), 2)


def test_emoji_inside_a_text_with_words_are_left_out(fitted):
    classifier, _ = fitted
    assert classifier.explain("好看😡").tokens == classifier.explain("好看").tokens == ["好看"]


def test_save_load_round_trip(fitted):
    classifier, directory = fitted
    loaded = Classifier.load(directory)
    assert loaded.classes_ == classifier.classes_
    assert loaded.text_.vocabulary.itos == classifier.text_.vocabulary.itos
    assert loaded.text_.tokenizer == classifier.text_.tokenizer
    assert loaded.config == classifier.config
    np.testing.assert_array_equal(loaded.predict_proba(TEXTS), classifier.predict_proba(TEXTS))
    assert loaded.explain(TEXTS[0]).weights == classifier.explain(TEXTS[0]).weights


def test_truncated_weights_raise_bundle_error(bundle_copy):
    weights = bundle_copy / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-100])
    with pytest.raises(BundleError) as info:
        Classifier.load(bundle_copy)
    assert str(weights) in str(info.value)


def test_missing_weights_raise_bundle_error(bundle_copy):
    (bundle_copy / "model.safetensors").unlink()
    with pytest.raises(BundleError, match="model.safetensors"):
        Classifier.load(bundle_copy)


@pytest.mark.parametrize("field", ["classes", "model", "weights_sha256", "format"])
def test_manifest_missing_field_raises_bundle_error(bundle_copy, field):
    path = bundle_copy / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    del manifest[field]
    path.write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(BundleError, match=field) as info:
        Classifier.load(bundle_copy)
    assert str(path) in str(info.value)


def test_manifest_not_json_raises_bundle_error(bundle_copy):
    (bundle_copy / "manifest.json").write_text("{", encoding="utf-8")
    with pytest.raises(BundleError, match="manifest.json"):
        Classifier.load(bundle_copy)


def _edit_manifest(directory, edit) -> dict:
    path = directory / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    edit(manifest)
    path.write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    return manifest


def _as_old_bundle(manifest: dict) -> None:
    """A manifest as written before the file digests were recorded."""
    del manifest["vocabulary"]["sha256"]
    manifest.pop("tokenizer_sha256", None)


def test_vocabulary_of_wrong_length_raises_bundle_error(bundle_copy, fitted):
    classifier, _ = fitted
    _edit_manifest(bundle_copy, _as_old_bundle)
    Vocabulary([*classifier.text_.vocabulary.itos, "多余"]).save(bundle_copy / "vocab.json")
    with pytest.raises(BundleError, match="vocabulary has"):
        Classifier.load(bundle_copy)


def test_manifest_records_the_vocabulary_digest(fitted):
    from cinesense.hashing import sha256_file

    _, directory = fitted
    manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["vocabulary"]["file"] == "vocab.json"
    assert manifest["vocabulary"]["sha256"] == sha256_file(directory / "vocab.json")
    assert manifest["weights_sha256"] == sha256_file(directory / "model.safetensors")


def test_swapped_vocabulary_tokens_raise_bundle_error_naming_the_file(bundle_copy):
    path = bundle_copy / "vocab.json"
    itos = json.loads(path.read_text(encoding="utf-8"))
    itos[2], itos[3] = itos[3], itos[2]  # same size, same tokens: only the digest tells
    path.write_text(json.dumps(itos, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(BundleError, match="vocabulary.sha256") as info:
        Classifier.load(bundle_copy)
    assert str(path) in str(info.value) and "does not match" in str(info.value)


def test_bundle_without_digests_still_loads(bundle_copy, fitted):
    classifier, _ = fitted
    _edit_manifest(bundle_copy, _as_old_bundle)
    loaded = Classifier.load(bundle_copy)
    np.testing.assert_array_equal(loaded.predict_proba(TEXTS), classifier.predict_proba(TEXTS))


def test_vocabulary_is_read_from_the_file_the_manifest_names(bundle_copy, fitted):
    classifier, _ = fitted
    (bundle_copy / "vocab.json").rename(bundle_copy / "tokens.json")
    _edit_manifest(bundle_copy, lambda m: m["vocabulary"].update(file="tokens.json"))
    assert Classifier.load(bundle_copy).text_.vocabulary.itos == classifier.text_.vocabulary.itos
    _edit_manifest(bundle_copy, lambda m: m["vocabulary"].update(file="missing.json"))
    with pytest.raises(BundleError, match="missing.json"):
        Classifier.load(bundle_copy)


@pytest.mark.parametrize("name", ["../vocab.json", "sub/vocab.json", "/etc/passwd", "..", "", 3, "a\\b.json"])
def test_vocabulary_file_name_must_stay_inside_the_bundle(bundle_copy, name):
    _edit_manifest(bundle_copy, lambda m: m["vocabulary"].update(file=name))
    with pytest.raises(BundleError, match="vocabulary.file") as info:
        Classifier.load(bundle_copy)
    assert "manifest.json" in str(info.value)


def test_tokenizer_files_are_checked_and_stay_inside_the_bundle(tmp_path):
    stopwords = tmp_path / "stop.txt"
    stopwords.write_text("的\n", encoding="utf-8")
    config = load_config(None, [*OVERRIDES, f'text.stopwords="{stopwords}"', "train.epochs=1"])
    directory = Classifier(config).fit(_dataset(12), progress=False).save(tmp_path / "model")
    assert Classifier.load(directory).text_.tokenizer.stopwords == str(directory / "stopwords.txt")
    (directory / "stopwords.txt").write_text("的\n电影\n", encoding="utf-8")
    with pytest.raises(BundleError, match="tokenizer_sha256.stopwords") as info:
        Classifier.load(directory)
    assert str(directory / "stopwords.txt") in str(info.value)
    _edit_manifest(directory, lambda m: m["tokenizer"].update(stopwords="../stop.txt"))
    with pytest.raises(BundleError, match="tokenizer.stopwords"):
        Classifier.load(directory)


def test_invalid_vocabulary_raises_bundle_error(bundle_copy):
    (bundle_copy / "vocab.json").write_text("[", encoding="utf-8")
    with pytest.raises(BundleError, match="vocab.json"):
        Classifier.load(bundle_copy)


def test_missing_model_directory_raises_bundle_error(tmp_path):
    with pytest.raises(BundleError, match="not found") as info:
        Classifier.load(tmp_path / "no-such-model")
    assert "no-such-model" in str(info.value)


def test_directory_without_manifest_raises_bundle_error(tmp_path):
    with pytest.raises(BundleError, match="missing manifest"):
        Classifier.load(tmp_path)


def test_tokenizer_file_missing_at_load_raises_bundle_error(bundle_copy, tmp_path):
    path = bundle_copy / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest["tokenizer"]["stopwords"] = str(tmp_path / "gone" / "stopwords.txt")
    path.write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(BundleError):
        Classifier.load(bundle_copy)


def test_single_string_raises_type_error(fitted):
    classifier, _ = fitted
    with pytest.raises(TypeError, match="list of texts"):
        classifier.predict_proba("这部电影很好看")
    with pytest.raises(TypeError):
        classifier.predict("这部电影很好看")


def test_unfitted_classifier_raises():
    with pytest.raises(RuntimeError, match="not fitted"):
        Classifier().predict_proba(["好看"])


def test_labels_outside_config_raise_value_error():
    config = load_config(None, OVERRIDES)
    records = _dataset(6)
    bad = [*records, Record(id="x", text="一般 般", label="neutral")]
    with pytest.raises(ValueError, match="neutral"):
        Classifier(config).fit(bad, progress=False)
    with pytest.raises(ValueError, match="dev"):
        Classifier(config).fit(records, dev=[Record(id="y", text="好", label="meh")], progress=False)


def test_records_without_text_raise_value_error(tmp_path):
    config = load_config(None, OVERRIDES)
    records = [*_dataset(6), Record(id="img", text=None, label="positive", images=(tmp_path / "a.jpg",))]
    with pytest.raises(ValueError, match="no text"):
        Classifier(config).fit(records, progress=False)


def test_bundle_keeps_the_segmenter_and_older_bundles_load_with_jieba(bundle_copy, fitted):
    classifier, _ = fitted
    path = bundle_copy / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    assert manifest["tokenizer"]["segmenter"] == classifier.text_.tokenizer.segmenter == "rjieba"
    del manifest["tokenizer"]["segmenter"]  # as written before the option existed
    path.write_text(json.dumps(manifest), encoding="utf-8")
    assert Classifier.load(bundle_copy).text_.tokenizer.segmenter == "jieba"


def test_unknown_segmenter_in_manifest_raises_bundle_error(bundle_copy):
    path = bundle_copy / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest["tokenizer"]["segmenter"] = "thulac"
    path.write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(BundleError, match="segmenter"):
        Classifier.load(bundle_copy)
