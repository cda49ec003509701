"""The HTTP service with a fused (text + image) model: text and image together, either alone, and
mixed batches."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient

from cinesense import Classifier
from cinesense.config import load_config
from cinesense.data.schema import Record
from cinesense.serve import Limits, create_app
from helpers import tiny_sticker, tiny_texts
from test_serve import assert_error, classifier, client  # noqa: F401 - fixtures
from test_serve_image import BLUE, RED, b64


@pytest.fixture(scope="module")
def model_dir(tiny_text_model, tiny_image_model, tmp_path_factory):
    return tiny_fused_model(tiny_text_model, tiny_image_model, tmp_path_factory.mktemp("tiny-fused"))


def tiny_fused_model(tiny_text_model, tiny_image_model, root):
    """A late-fusion model over the tiny text and image models: a red (positive) sticker keeps a
    comment's text label, a blue (negative) one makes it negative (the default corpus's rule)."""
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


def test_several_stickers_get_one_attention_map_each(client, classifier):
    as_json = client.post("/v1/predict", json={"text": POSITIVE_TEXT, "image": [b64(RED), b64(BLUE)]})
    assert as_json.status_code == 200, as_json.text
    body = as_json.json()
    expected = classifier.explain(POSITIVE_TEXT, image=[RED, BLUE])
    assert len(body["image_attentions"]) == 2 == len(expected.image_attentions)
    for grid, want in zip(body["image_attentions"], expected.image_attentions):
        assert np.asarray(grid).shape == (2, 2) and np.asarray(grid).sum() == pytest.approx(1.0, abs=1e-5)
        np.testing.assert_allclose(grid, want, atol=1e-6)
    assert body["image_attention"] == body["image_attentions"][0]
    assert body["probabilities"]["negative"] == pytest.approx(expected.probabilities["negative"], abs=1e-6)
    files = [("image", ("red.png", RED, "image/png")), ("image", ("blue.png", BLUE, "image/png"))]
    as_form = client.post("/v1/predict", data={"text": POSITIVE_TEXT}, files=files)
    assert as_form.status_code == 200 and as_form.json() == body
    one = client.post("/v1/predict", json={"text": POSITIVE_TEXT, "image": [b64(BLUE)]}).json()
    assert one == client.post("/v1/predict", json={"text": POSITIVE_TEXT, "image": b64(BLUE)}).json()
    assert len(one["image_attentions"]) == 1 and one["image_attention"] == one["image_attentions"][0]
    text_only = client.post("/v1/predict", json={"text": POSITIVE_TEXT}).json()
    assert text_only["image_attentions"] == [] and text_only["image_attention"] is None


def test_several_stickers_in_a_batch(client, classifier):
    items = [{"text": POSITIVE_TEXT, "image": [b64(RED), b64(BLUE)]}, {"image": [b64(RED)]}]
    predictions = client.post("/v1/predict/batch", json={"items": items}).json()["predictions"]
    expected = classifier.predict_proba([POSITIVE_TEXT, None], [[RED, BLUE], [RED]])
    for prediction, row in zip(predictions, expected):
        assert list(prediction["probabilities"].values()) == pytest.approx(list(row), abs=1e-6)


def test_a_bad_sticker_among_several_is_named(client):
    assert_error(client.post("/v1/predict", json={"image": [b64(RED), "not base64!"]}), 422, field="image[1]", says="not valid base64")
    files = [("image", ("red.png", RED, "image/png")), ("image", ("x.png", b"hello", "image/png"))]
    assert_error(client.post("/v1/predict", files=files), 422, field="image[1]", says="not a recognised image")
    batch = {"items": [{"image": b64(RED)}, {"image": [b64(RED), b64(RED[: len(RED) // 2])]}]}
    assert_error(client.post("/v1/predict/batch", json=batch), 422, field="items[1].image[1]")


def test_more_stickers_than_max_images_is_a_413(classifier):
    client = TestClient(create_app(classifier, Limits(max_images=2)))
    assert client.post("/v1/predict", json={"image": [b64(RED)] * 2}).status_code == 200
    assert_error(client.post("/v1/predict", json={"image": [b64(RED)] * 3}), 413, field="image", limit="max_images", says="3")
    files = [("image", (f"{i}.png", RED, "image/png")) for i in range(3)]
    assert_error(client.post("/v1/predict", files=files), 413, field="image", limit="max_images")
    batch = {"items": [{"image": b64(RED)}, {"image": [b64(RED)] * 3}]}
    assert_error(client.post("/v1/predict/batch", json=batch), 413, field="items[1].image", limit="max_images")
