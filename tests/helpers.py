"""Plain helpers the tests share (tiny data, stickers, config sections); fixtures live in conftest.py."""

from __future__ import annotations

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


def tiny_sticker(path, colour, size=64):
    """A plain square PNG: red ones are positive, blue ones negative for the tiny image model."""
    from PIL import Image

    Image.new("RGB", (size, size), colour).save(path)
    return path


def restoring_threads(train):
    """Run ``train()`` and put torch's thread count back (``train.threads=1`` is process-wide)."""
    import torch

    threads = torch.get_num_threads()
    try:
        return train()
    finally:
        torch.set_num_threads(threads)
