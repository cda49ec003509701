"""Shared test settings: nothing a test does may touch the user's real cache."""

from __future__ import annotations

import pytest

from helpers import restoring_threads, tiny_sticker, tiny_texts


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory):
    """Point $CINESENSE_CACHE (weights, feature cache, emoji corpus) at a per-session folder."""
    patch = pytest.MonkeyPatch()
    patch.setenv("CINESENSE_CACHE", str(tmp_path_factory.mktemp("cinesense-cache")))
    yield
    patch.undo()


# --------------------------------------------------------------------------- tiny trained models
# Shared by the serving, predict-file, explain and browser tests: trained once per session, in seconds.

@pytest.fixture(scope="session")
def tiny_text_model(tmp_path_factory):
    """Directory of a tiny text model (Att-BiLSTM) that tells the sentiment words apart."""
    from cinesense import Classifier
    from cinesense.config import load_config
    from cinesense.data.schema import Record

    overrides = ["seed=0", "word2vec.vector_size=16", "word2vec.min_count=1", "word2vec.epochs=5", "text_model.hidden_size=16",
                 "text_model.attention_dim=16", "train.epochs=10", "train.batch_size=8", "train.learning_rate=0.01", "train.threads=1"]
    records = [Record(id=f"t{i}", text=text, label=label) for i, (text, label) in enumerate(tiny_texts(40))]
    classifier = restoring_threads(lambda: Classifier(load_config(None, overrides)).fit(records, progress=False))
    return classifier.save(tmp_path_factory.mktemp("tiny-text") / "model", metrics={"dev": {"accuracy": 1.0}})


@pytest.fixture(scope="session")
def tiny_image_model(tmp_path_factory):
    """Directory of a tiny image model (random-weight Att-VGG16, 64 px input: a 2x2 attention grid)
    that tells red stickers from blue ones."""
    from cinesense import Classifier
    from cinesense.config import load_config
    from cinesense.data.schema import Record

    root = tmp_path_factory.mktemp("tiny-image")
    records = []
    for i in range(16):
        positive = i % 2 == 0
        colour = (220, 40 + 5 * i, 40) if positive else (40, 40 + 5 * i, 220)
        records.append(Record(id=f"i{i}", text=None, label="positive" if positive else "negative",
                              images=(tiny_sticker(root / f"{i}.png", colour),)))
    overrides = ['modality="image"', "image_model.input_size=64", "image_model.attention_dim=8", "image_model.dropout=0.0",
                 'image_model.weights="random"', f'image_model.feature_cache="{root / "cache"}"', "image_model.feature_scale=1.0",
                 "train.epochs=15", "train.learning_rate=0.01", "train.batch_size=8", "train.threads=1"]
    classifier = restoring_threads(lambda: Classifier(load_config(None, overrides)).fit(records, progress=False))
    return classifier.save(root / "model")
