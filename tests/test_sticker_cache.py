"""The sticker cache (cinesense.image.stem_cache): the stem runs once per distinct image content,
probabilities are identical on hit and miss, the memory tier stays within its bound, the disk tier
serves a new process, and the service reports the counters at GET /v1/metrics."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from cinesense import Classifier
from cinesense.image.stem_cache import StemCache, attach_sticker_cache
from cinesense.serve import create_app
from helpers import tiny_texts


def sticker(colour, size=64) -> Image.Image:
    return Image.new("RGB", (size, size), colour)


def png(image: Image.Image, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


COLOURS = [(220, 40 + 9 * i, 40) if i % 2 == 0 else (40, 40 + 9 * i, 220) for i in range(10)]


@pytest.fixture
def image_classifier(tiny_image_model):
    return Classifier.load(tiny_image_model)


def counting(classifier):
    """Count the stem's forward passes (images) of ``classifier``'s image branch."""
    stem = classifier.model_.stem if classifier.modality_ == "image" else classifier.model_.image.stem
    calls = []
    stem.register_forward_hook(lambda module, args, output: calls.append(args[0].shape[0]))
    return calls


def test_hit_and_miss_give_identical_probabilities(image_classifier):
    images = [sticker(c) for c in COLOURS]
    plain = image_classifier.predict_proba(images=images)
    cache = attach_sticker_cache(image_classifier, max_bytes=1 << 30)
    runs = counting(image_classifier)
    miss = image_classifier.predict_proba(images=images)
    assert sum(runs) == len(images) and cache.stats()["misses"] == len(images) and cache.hits == 0
    hit = image_classifier.predict_proba(images=images)
    assert sum(runs) == len(images) and cache.hits == len(images)  # the stem did not run again
    assert np.array_equal(plain, miss) and np.array_equal(miss, hit)


def test_one_entry_per_content_whatever_the_encoding(image_classifier, tmp_path):
    cache = attach_sticker_cache(image_classifier)
    red = sticker((220, 60, 40))
    path = tmp_path / "red.png"
    red.save(path)
    runs = counting(image_classifier)
    proba = image_classifier.predict_proba(images=[red, png(red), path, png(red, "BMP"), red.convert("RGBA")])
    assert sum(runs) == 1 and len(cache) == 1 and cache.hits == 4
    # the same features in every row; the head's batched matmul may round rows at different positions apart by an ulp
    np.testing.assert_allclose(proba, np.repeat(proba[:1], len(proba), axis=0), rtol=0, atol=1e-9)
    image_classifier.predict_proba(images=[sticker((221, 60, 40))])  # one pixel value off: another entry
    assert len(cache) == 2 and sum(runs) == 2


def test_memory_stays_within_its_bound(image_classifier):
    plain = image_classifier.predict_proba(images=[sticker(c) for c in COLOURS])
    cache = attach_sticker_cache(image_classifier, max_bytes=1)
    image_classifier.predict_proba(images=[sticker(COLOURS[0])])
    assert cache.misses == 1 and len(cache) == 0 and cache.size_bytes == 0  # an entry bigger than the bound is not kept
    one = image_classifier.model_.stem(torch_zeros()).numel() * 4  # bytes of one stem output
    cache = attach_sticker_cache(image_classifier, max_bytes=3 * one)
    for round_ in range(3):
        order = COLOURS if round_ % 2 == 0 else COLOURS[::-1]
        for colour in order:
            image_classifier.predict_proba(images=[sticker(colour)])
            stats = cache.stats()
            assert stats["bytes"] <= stats["max_bytes"] and stats["entries"] <= 3
    assert cache.stats()["evictions"] > 0
    again = image_classifier.predict_proba(images=[sticker(c) for c in COLOURS])  # hits and recomputed misses
    assert np.array_equal(plain, again)
    assert len(cache) == 3 and cache.size_bytes == 3 * one


def torch_zeros():
    import torch

    return torch.zeros(1, 3, 64, 64)


def test_least_recently_used_is_evicted_first(image_classifier):
    one = image_classifier.model_.stem(torch_zeros()).numel() * 4
    cache = attach_sticker_cache(image_classifier, max_bytes=2 * one)
    a, b, c = (sticker(colour) for colour in COLOURS[:3])
    image_classifier.predict_proba(images=[a])
    image_classifier.predict_proba(images=[b])
    image_classifier.predict_proba(images=[a])  # a is now the most recent: b goes first
    image_classifier.predict_proba(images=[c])
    runs = counting(image_classifier)
    image_classifier.predict_proba(images=[a])
    assert runs == []
    image_classifier.predict_proba(images=[b])
    assert runs == [1]


def test_disk_tier_serves_another_cache(image_classifier, tiny_image_model, tmp_path):
    images = [sticker(c) for c in COLOURS[:4]]
    attach_sticker_cache(image_classifier, directory=tmp_path / "stickers")
    first = image_classifier.predict_proba(images=images)
    fresh = Classifier.load(tiny_image_model)
    cache = attach_sticker_cache(fresh, directory=tmp_path / "stickers")
    runs = counting(fresh)
    again = fresh.predict_proba(images=images)
    assert runs == [] and cache.disk_hits == 4 and cache.misses == 0
    assert np.array_equal(first, again)


def test_other_weights_are_another_namespace(image_classifier, tiny_image_model):
    import torch

    cache = StemCache()
    other = Classifier.load(tiny_image_model)
    with torch.no_grad():
        other.model_.backbone.block1_conv1.weight.add_(0.5)
    preprocessing = image_classifier.image_.preprocessing.to_dict()
    first = cache.namespace(image_classifier.model_.stem, image_classifier.model_.stem_name, preprocessing)
    assert first != cache.namespace(other.model_.stem, other.model_.stem_name, preprocessing)
    assert first != cache.namespace(image_classifier.model_.stem, image_classifier.model_.stem_name, {**preprocessing, "input_size": 32})


def test_text_model_gets_no_cache(tiny_text_model):
    assert attach_sticker_cache(Classifier.load(tiny_text_model)) is None


def test_service_counts_hits_and_misses(tiny_text_model, tiny_image_model, tmp_path_factory):
    from test_serve_fused import tiny_fused_model

    directory = tiny_fused_model(tiny_text_model, tiny_image_model, tmp_path_factory.mktemp("fused"))
    model = Classifier.load(directory)
    text = tiny_texts(2)[0][0]
    with TestClient(create_app(model, sticker_cache_bytes=64 << 20)) as client:
        assert client.get("/v1/metrics").json()["sticker_cache"]["entries"] == 0
        red, blue = (base64.b64encode(png(sticker(c))).decode() for c in ((220, 60, 40), (40, 60, 220)))
        answers = [client.post("/v1/predict", json={"text": text, "image": image}).json() for image in (red, blue, red, red)]
        batch = client.post("/v1/predict/batch", json={"items": [{"text": text, "image": [blue, red]}]}).json()
        stats = client.get("/v1/metrics").json()["sticker_cache"]
    assert (stats["misses"], stats["hits"], stats["entries"]) == (2, 4, 2)
    assert stats["bytes"] <= stats["max_bytes"] == 64 << 20
    assert answers[0]["probabilities"] == answers[2]["probabilities"] == answers[3]["probabilities"]
    assert answers[0]["image_attention"] == answers[3]["image_attention"]
    uncached = Classifier.load(directory)
    expected = uncached.predict_proba([text], [[sticker((40, 60, 220)), sticker((220, 60, 40))]])[0]
    assert list(batch["predictions"][0]["probabilities"].values()) == [float(p) for p in expected]
    alone = uncached.predict_proba([text], [sticker((220, 60, 40))])[0]
    assert list(answers[3]["probabilities"].values()) == [float(p) for p in alone]


def test_text_service_has_no_sticker_cache(tiny_text_model):
    with TestClient(create_app(Classifier.load(tiny_text_model))) as client:
        assert client.get("/v1/metrics").json() == {"sticker_cache": None, "captions": None, "pending": 0}


def test_predict_file_with_and_without_the_cache(tiny_image_model, tmp_path):
    import json

    from cinesense.cli import main

    names = []
    for i, colour in enumerate(COLOURS[:3]):
        sticker(colour).save(tmp_path / f"s{i}.png")
        names.append(f"s{i}.png")
    data = tmp_path / "comments.jsonl"
    data.write_text("".join(json.dumps({"id": f"c{i}", "image": names[i % 3]}) + "\n" for i in range(12)), encoding="utf-8")
    outputs = {}
    for name, flags in (("off", ["--sticker-cache-mb", "0"]), ("disk", ["--sticker-cache-dir", str(tmp_path / "features")])):
        outputs[name] = tmp_path / f"{name}.jsonl"
        assert main(["predict-file", "--model", str(tiny_image_model), "--data", str(data), "--out", str(outputs[name]), "--quiet",
                     "--batch-size", "5", *flags]) == 0
    assert outputs["off"].read_text() == outputs["disk"].read_text()
    assert len(list((tmp_path / "features").glob("*/*.safetensors"))) == 3  # one entry per distinct sticker
