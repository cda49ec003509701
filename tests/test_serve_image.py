"""The HTTP service with an image model: base64, data: URLs and file uploads, the image limits,
and images that are not images."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from cinesense.serve import Limits, create_app
from test_serve import assert_error, classifier, client  # noqa: F401 - fixtures


def png(colour=(220, 60, 40), size=64, noise=False) -> bytes:
    image = Image.new("RGB", (size, size), colour)
    if noise:
        image = Image.fromarray(np.random.default_rng(0).integers(0, 255, (size, size, 3), dtype=np.uint8))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


RED, BLUE = png((220, 60, 40)), png((40, 60, 220))


@pytest.fixture(scope="module")
def model_dir(tiny_image_model):  # for the classifier and client fixtures of test_serve.py
    return tiny_image_model


def test_predict_base64_image_gives_attention_map(client, classifier):
    body = client.post("/v1/predict", json={"image": b64(RED)}).json()
    assert body["label"] == "positive"
    assert body["probabilities"]["positive"] == pytest.approx(classifier.predict_proba(images=[RED])[0][1], abs=1e-6)
    grid = np.asarray(body["image_attention"])
    assert grid.shape == (2, 2) and grid.sum() == pytest.approx(1.0, abs=1e-5)
    assert body["tokens"] == [] and body["highlights"] == []


def test_data_url_and_file_upload_match_base64(client):
    plain = client.post("/v1/predict", json={"image": b64(BLUE)}).json()
    data_url = client.post("/v1/predict", json={"image": "data:image/png;base64," + b64(BLUE)}).json()
    upload = client.post("/v1/predict", files={"image": ("blue.png", BLUE, "image/png")}).json()
    wrapped = client.post("/v1/predict", json={"image": "\n".join(b64(BLUE)[i : i + 76] for i in range(0, len(b64(BLUE)), 76))}).json()
    assert plain == data_url == upload == wrapped
    assert plain["label"] == "negative"


def test_batch_of_images(client):
    response = client.post("/v1/predict/batch", json={"items": [{"image": b64(RED)}, {"image": b64(BLUE)}]})
    assert [p["label"] for p in response.json()["predictions"]] == ["positive", "negative"]


def test_image_over_max_image_bytes(classifier):
    client = TestClient(create_app(classifier, Limits(max_image_bytes=2000)))
    noisy = png(noise=True)
    assert len(noisy) > 2000
    assert_error(client.post("/v1/predict", json={"image": b64(noisy)}), 413, field="image", limit="max_image_bytes")
    assert_error(client.post("/v1/predict", files={"image": ("n.png", noisy, "image/png")}), 413, field="image", limit="max_image_bytes")
    batch = {"items": [{"image": b64(RED)}, {"image": b64(noisy)}]}
    assert_error(client.post("/v1/predict/batch", json=batch), 413, field="items[1].image", limit="max_image_bytes")


def test_image_over_max_image_pixels(classifier):
    client = TestClient(create_app(classifier, Limits(max_image_pixels=64 * 64 - 1)))
    assert_error(client.post("/v1/predict", json={"image": b64(RED)}), 413, field="image", limit="max_image_pixels", says="64x64")
    assert client.post("/v1/predict", json={"image": b64(png(size=63))}).status_code == 200


@pytest.mark.parametrize(
    ("image", "says"),
    [
        ("not base64!", "not valid base64"),
        (b64(b"GIF89a but not really"), "not a recognised image"),
        (b64(b"hello, world"), "not a recognised image"),
        ("", "empty file"),
        (b64(RED[: len(RED) // 2]), "corrupt, truncated"),
        ("data:image/png,abc", "base64-encoded"),
    ],
)
def test_bad_images_are_named_422s(client, image, says):
    assert_error(client.post("/v1/predict", json={"image": image}), 422, field="image", says=says)


def test_bad_image_in_a_batch_is_named(client):
    batch = {"items": [{"image": b64(RED)}, {"image": b64(png(noise=True)[:500])}]}
    assert_error(client.post("/v1/predict/batch", json=batch), 422, field="items[1].image")
    assert client.get("/healthz").status_code == 200


def test_text_or_nothing_is_refused_by_an_image_model(client):
    assert_error(client.post("/v1/predict", json={"text": "好看", "image": b64(RED)}), 422, field="text", says="does not read text")
    assert_error(client.post("/v1/predict", json={}), 422, field="image", says="required")
    assert_error(client.post("/v1/predict", data={"text": "好看"}), 422, field="image", says="required")
    assert_error(client.post("/v1/predict", data={"image": "abc"}), 422, field="image", says="must be a file")


def test_real_upload_modes_are_accepted(client):
    rgba = Image.new("RGBA", (80, 40), (220, 60, 40, 128))
    palette = Image.new("RGB", (50, 50), (40, 60, 220)).convert("P")
    for image, fmt in ((rgba, "PNG"), (palette, "GIF"), (Image.new("RGB", (70, 70), (220, 60, 40)), "JPEG")):
        buffer = io.BytesIO()
        image.save(buffer, format=fmt)
        assert client.post("/v1/predict", files={"image": (f"x.{fmt.lower()}", buffer.getvalue(), "image/*")}).status_code == 200


def test_an_image_model_reads_one_sticker(client):
    one = client.post("/v1/predict", json={"image": [b64(RED)]}).json()
    assert one["image_attentions"] == [one["image_attention"]] and one["label"] == "positive"
    assert_error(client.post("/v1/predict", json={"image": [b64(RED), b64(BLUE)]}), 422, field="image", says="one image")
    files = [("image", ("red.png", RED, "image/png")), ("image", ("blue.png", BLUE, "image/png"))]
    assert_error(client.post("/v1/predict", files=files), 422, field="image", says="one image")
    batch = {"items": [{"image": b64(RED)}, {"image": [b64(RED), b64(BLUE)]}]}
    assert_error(client.post("/v1/predict/batch", json=batch), 422, field="items[1].image", says="one image")
