"""Style augmentation (cinesense.image.augment): seeded, deterministic, shape-preserving, applied
to training images only, and the augmented training path on a tiny corpus."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageDraw

from cinesense.config import ConfigError, load_config
from cinesense.image.augment import style_variant, training_variants
from helpers import restoring_threads


def sticker(size=64, colour=(240, 200, 40)):
    image = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(image)
    draw.ellipse((8, 8, size - 8, size - 8), fill=colour, outline="black", width=3)
    draw.arc((20, 24, size - 20, size - 16), 20, 160, fill="black", width=3)
    return image


def png(image):
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


@pytest.mark.parametrize("strength", [0.3, 1.0])
def test_same_seed_same_bytes_other_seed_differs(strength):
    image = sticker()
    first = [png(style_variant(image, seed=s, strength=strength)) for s in range(6)]
    again = [png(style_variant(image, seed=s, strength=strength)) for s in range(6)]
    assert first == again
    assert len(set(first)) == 6


def test_keeps_size_and_gives_rgb_and_leaves_input_alone():
    image = sticker(size=80).convert("RGBA")
    before = image.tobytes()
    out = style_variant(image, seed=3, strength=1.0)
    assert out.size == (80, 80) and out.mode == "RGB"
    assert image.tobytes() == before


def test_strength_out_of_range_is_refused():
    with pytest.raises(ValueError):
        style_variant(sticker(), seed=0, strength=0.0)
    with pytest.raises(ConfigError):
        load_config(None, ["image_model.augment.strength=1.5"])
    with pytest.raises(ConfigError):
        load_config(None, ["image_model.augment.variants=-1"])
    assert load_config(None).image_model.augment.variants == 0  # off by default


def test_training_variants_are_written_once_and_named_by_content(tmp_path):
    paths = []
    for i, colour in enumerate([(240, 200, 40), (240, 200, 40), (40, 40, 220)]):
        paths.append(tmp_path / f"{i}.png")
        sticker(colour=colour).save(paths[-1])
    out = training_variants(paths, 3, seed=0, strength=0.5, directory=tmp_path / "aug")
    assert [len(v) for v in out] == [3, 3, 3]
    assert out[0] == out[1]  # same content, same variants
    assert not set(out[0]) & set(out[2])
    stamps = [p.stat().st_mtime_ns for p in out[2]]
    assert training_variants(paths[2:], 3, seed=0, strength=0.5, directory=tmp_path / "aug") == out[2:]
    assert [p.stat().st_mtime_ns for p in out[2]] == stamps  # reused, not rewritten
    assert training_variants(paths[2:], 3, seed=1, strength=0.5, directory=tmp_path / "aug")[0] != out[2]
    assert training_variants([tmp_path / "missing.png"], 2, seed=0, strength=0.5, directory=tmp_path / "aug") == [[]]


def test_augmented_training_on_a_tiny_corpus_augments_train_only(tmp_path, monkeypatch):
    from cinesense import Classifier
    from cinesense.data.schema import Record
    from cinesense.image import branch as branch_module

    records = []
    for i in range(12):
        positive = i % 2 == 0
        path = tmp_path / f"{i}.png"
        sticker(colour=(220, 40 + 8 * i, 40) if positive else (40, 40 + 8 * i, 220)).save(path)
        records.append(Record(id=f"i{i}", text=None, label="positive" if positive else "negative", images=(path,)))
    calls = []
    real = branch_module.training_variants
    monkeypatch.setattr(branch_module, "training_variants", lambda paths, *a, **k: calls.append(list(paths)) or real(paths, *a, **k))
    overrides = ['modality="image"', "image_model.input_size=64", "image_model.attention_dim=8", 'image_model.weights="random"',
                 f'image_model.feature_cache="{tmp_path / "cache"}"', "image_model.augment.variants=2",
                 "train.epochs=2", "train.batch_size=8", "train.threads=1"]
    classifier = restoring_threads(lambda: Classifier(load_config(None, overrides)).fit(records[:8], records[8:], progress=False))
    assert calls == [[r.image for r in records[:8]]]  # train images only: dev never augmented
    assert classifier.image_.augment.variants == 2
    proba, kept = classifier.predict_records(records[8:])
    assert kept == [0, 1, 2, 3] and np.allclose(proba.sum(axis=1), 1)
    assert len(calls) == 1  # prediction never augments
    examples, kept, _ = classifier.image_.encode_records(classifier.model_, records[:4], "train")
    assert kept == [0, 1, 2, 3, 0, 0, 1, 1, 2, 2, 3, 3] and len(examples) == 12
