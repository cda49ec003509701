"""The Classifier with ``modality = "image"``: tiny random-weight Att-VGG16 on tiny images."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from cinesense.bundle import BundleError
from cinesense.classifier import Classifier
from cinesense.cli import main
from cinesense.config import load_config
from cinesense.data.jsonl import load_jsonl
from helpers import tiny_image_model_toml


def _image(path, colour, size=32):
    Image.new("RGB", (size, size), colour).save(path)
    return path


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("images")
    (root / "img").mkdir()
    rng = np.random.default_rng(0)
    lines = {"train": [], "dev": []}
    for split, n in (("train", 24), ("dev", 8)):
        for i in range(n):
            positive = i % 2 == 0
            base = np.array([230, 40, 40]) if positive else np.array([40, 40, 230])
            colour = tuple(int(c) for c in np.clip(base + rng.integers(-20, 20, 3), 0, 255))
            name = f"img/{split}{i}.png"
            _image(root / name, colour)
            lines[split].append(json.dumps({"id": f"{split}{i}", "image": name, "label": "positive" if positive else "negative"}))
    (root / "img" / "corrupt.png").write_bytes(b"not an image")
    lines["train"].append(json.dumps({"id": "bad", "image": "img/corrupt.png", "label": "negative"}))
    for split, rows in lines.items():
        (root / f"{split}.jsonl").write_text("\n".join(rows) + "\n", encoding="utf-8")
    config = root / "image.toml"
    config.write_text(
        f"""modality = "image"
[data]
train = "{root / 'train.jsonl'}"
dev = "{root / 'dev.jsonl'}"
split_fractions = [1.0, 0.0, 0.0]
{tiny_image_model_toml(root / 'cache')}[train]
epochs = 15
learning_rate = 0.01
batch_size = 8
threads = 1
""",
        encoding="utf-8",
    )
    return root, config


@pytest.fixture(scope="module")
def fitted(data):
    root, config = data
    torch.set_num_threads(1)
    cfg = load_config(config)
    train = load_jsonl(root / "train.jsonl").records
    dev = load_jsonl(root / "dev.jsonl").records
    return Classifier(cfg).fit(train, dev, progress=False), root


def test_corrupt_image_is_skipped_and_reported(fitted):
    classifier, _ = fitted
    assert len(classifier.skipped_) == 1
    where, reason = classifier.skipped_[0]
    assert "corrupt.png" in where and reason


def test_learns_colour_and_probabilities_are_well_formed(fitted):
    classifier, root = fitted
    images = [root / f"img/dev{i}.png" for i in range(8)]
    proba = classifier.predict_proba(images=images)
    assert proba.shape == (8, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert classifier.predict(images=images) == ["positive" if i % 2 == 0 else "negative" for i in range(8)]


def test_images_may_be_bytes_or_pil(fitted):
    classifier, root = fitted
    path = root / "img/dev0.png"
    a = classifier.predict_proba(images=[path])
    b = classifier.predict_proba(images=[path.read_bytes()])
    c = classifier.predict_proba(images=[Image.open(path)])
    np.testing.assert_allclose(a, b, atol=1e-6)
    np.testing.assert_allclose(a, c, atol=1e-6)


def test_explain_gives_attention_map_summing_to_one(fitted):
    classifier, root = fitted
    explanation = classifier.explain(image=root / "img/dev1.png")
    grid = np.asarray(explanation.image_attention)
    assert grid.shape == (1, 1)  # 32 px input -> 1x1 grid after five pools
    assert grid.sum() == pytest.approx(1.0)


def test_text_is_refused_by_an_image_model(fitted):
    classifier, _ = fitted
    with pytest.raises(ValueError, match="image model"):
        classifier.predict_proba(["好看"])


def test_save_load_round_trip_and_truncation(fitted, tmp_path):
    classifier, root = fitted
    classifier.save(tmp_path / "m")
    loaded = Classifier.load(tmp_path / "m")
    images = [root / f"img/dev{i}.png" for i in range(4)]
    np.testing.assert_allclose(loaded.predict_proba(images=images), classifier.predict_proba(images=images))
    weights = tmp_path / "m" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(BundleError, match="model.safetensors"):
        Classifier.load(tmp_path / "m")


def test_cli_train_evaluate_predict_image_model(data, tmp_path, capsys):
    root, config = data
    out = tmp_path / "run"
    assert main(["train", "--config", str(config), "--out", str(out), "--quiet", "--set", "train.epochs=2"]) == 0
    assert (out / "skipped_images.json").is_file()
    assert main(["evaluate", "--model", str(out), "--data", str(root / "dev.jsonl"), "--json", str(tmp_path / "m.json")]) == 0
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert metrics["n"] == 8
    assert main(["predict", "--model", str(out), "--image", str(root / "img/dev0.png")]) == 0
    assert "attention: peak" in capsys.readouterr().out
