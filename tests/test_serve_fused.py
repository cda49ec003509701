"""The HTTP service with a fused (text + image) model: text and image together, either alone, and
mixed batches."""

from __future__ import annotations

import numpy as np
import pytest

from cinesense import Classifier
from cinesense.config import load_config
from cinesense.data.schema import Record
from conftest import tiny_sticker, tiny_texts
from test_serve import classifier, client  # noqa: F401 - fixtures
from test_serve_image import BLUE, RED, b64


@pytest.fixture(scope="module")
def model_dir(tiny_text_model, tiny_image_model, tmp_path_factory):
    """A late-fusion model over the tiny text and image models: a red (positive) sticker keeps a
    comment's text label, a blue (negative) one makes it negative (the default corpus's rule)."""
    root = tmp_path_factory.mktemp("tiny-fused")
    red, blue = tiny_sticker(root / "red.png", (220, 60, 40)), tiny_sticker(root / "blue.png", (40, 60, 220))
    records = []
    for i, (text, label) in enumerate(tiny_texts(60, seed=1)):
        sticker = [None, red, blue][i % 3]
        fused_label = "negative" if label == "negative" or sticker == blue else "positive"
        records.append(Record(f"f{i}", text, fused_label, (sticker,) if sticker else ()))
    config = load_config(None, ['modality="fused"', 'fusion.method="late"', 'fusion.late_fit="train"', "fusion.late_epochs=60",
                                "fusion.late_learning_rate=0.05", "train.batch_size=8", "train.threads=1",
                                f'image_model.feature_cache="{root / "cache"}"', "image_model.input_size=64",
                                'image_model.weights="random"'])
    branches = {"text": Classifier.load(tiny_text_model), "image": Classifier.load(tiny_image_model)}
    fused = Classifier(config).fit(records, branches=branches, progress=False)
    return fused.save(root / "model")


POSITIVE_TEXT = tiny_texts(2)[0][0]


def test_text_and_image_together(client, classifier):
    alone = client.post("/v1/predict", json={"text": POSITIVE_TEXT}).json()
    with_red = client.post("/v1/predict", json={"text": POSITIVE_TEXT, "image": b64(RED)}).json()
    with_blue = client.post("/v1/predict", json={"text": POSITIVE_TEXT, "image": b64(BLUE)}).json()
    assert (alone["label"], with_red["label"], with_blue["label"]) == ("positive", "positive", "negative")
    assert with_blue["tokens"] and np.asarray(with_blue["image_attention"]).shape == (2, 2)
    expected = classifier.predict_proba([POSITIVE_TEXT], [BLUE])[0]
    assert with_blue["probabilities"]["negative"] == pytest.approx(expected[0], abs=1e-6)


def test_image_alone_and_mixed_batch(client):
    assert client.post("/v1/predict", json={"image": b64(BLUE)}).json()["label"] == "negative"
    items = [{"text": POSITIVE_TEXT}, {"text": POSITIVE_TEXT, "image": b64(BLUE)}, {"image": b64(RED)}]
    predictions = client.post("/v1/predict/batch", json={"items": items}).json()["predictions"]
    assert [p["label"] for p in predictions][:2] == ["positive", "negative"]
    model = client.get("/v1/model").json()
    assert model["modality"] == "fused"


def test_nothing_is_refused(client):
    response = client.post("/v1/predict", json={})
    assert response.status_code in (400, 422)
