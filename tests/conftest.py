"""Shared test settings: nothing a test does may touch the user's real cache."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory):
    """Point $CINESENSE_CACHE (weights, feature cache, emoji corpus) at a per-session folder."""
    patch = pytest.MonkeyPatch()
    patch.setenv("CINESENSE_CACHE", str(tmp_path_factory.mktemp("cinesense-cache")))
    yield
    patch.undo()


# --------------------------------------------------------------------------- tiny trained models
# Shared by the serving, predict-file, explain and browser tests: trained once per session, in seconds.

TINY_POSITIVE = ["好看", "精彩", "喜欢", "感人", "经典"]
TINY_NEGATIVE = ["难看", "无聊", "垃圾", "失望", "烂片"]
TINY_FILLER = ["这部", "电影", "真的", "非常", "剧情", "演员", "觉得"]


def tiny_image_model_toml(cache) -> str:
    """The ``[image_model]`` section of a tiny random-weight Att-VGG16 (32 px input) for test configs."""
    return f"""[image_model]
input_size = 32
attention_dim = 8
dropout = 0.0
weights = "random"
feature_cache = "{cache}"
feature_scale = 1.0
"""


def tiny_texts(n: int, seed: int = 0, sep: str = "") -> list[tuple[str, str]]:
    """``n`` (text, label) pairs whose label is given away by one sentiment word (words joined by ``sep``)."""
    import random

    rng = random.Random(seed)
    pairs = []
    for i in range(n):
        label = "positive" if i % 2 == 0 else "negative"
        words = [*rng.sample(TINY_FILLER, 3), rng.choice(TINY_POSITIVE if label == "positive" else TINY_NEGATIVE)]
        rng.shuffle(words)
        pairs.append((sep.join(words), label))
    return pairs


def _restoring_threads(train):
    import torch

    threads = torch.get_num_threads()
    try:
        return train()
    finally:
        torch.set_num_threads(threads)  # train.threads=1 is process-wide


@pytest.fixture(scope="session")
def tiny_text_model(tmp_path_factory):
    """Directory of a tiny text model (Att-BiLSTM) that tells the sentiment words apart."""
    from cinesense import Classifier
    from cinesense.config import load_config
    from cinesense.data.schema import Record

    overrides = ["seed=0", "word2vec.vector_size=16", "word2vec.min_count=1", "word2vec.epochs=5", "text_model.hidden_size=16",
                 "text_model.attention_dim=16", "train.epochs=10", "train.batch_size=8", "train.learning_rate=0.01", "train.threads=1"]
    records = [Record(id=f"t{i}", text=text, label=label) for i, (text, label) in enumerate(tiny_texts(40))]
    classifier = _restoring_threads(lambda: Classifier(load_config(None, overrides)).fit(records, progress=False))
    return classifier.save(tmp_path_factory.mktemp("tiny-text") / "model", metrics={"dev": {"accuracy": 1.0}})


def tiny_sticker(path, colour, size=64):
    """A plain square PNG: red ones are positive, blue ones negative for the tiny image model."""
    from PIL import Image

    Image.new("RGB", (size, size), colour).save(path)
    return path


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
    classifier = _restoring_threads(lambda: Classifier(load_config(None, overrides)).fit(records, progress=False))
    return classifier.save(root / "model")
