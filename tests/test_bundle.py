"""The model bundle on its own (write_bundle / read_manifest / read_weights / load_state_checked),
and a text Classifier saved and loaded giving the same probabilities."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from cinesense import Classifier
from cinesense.bundle import FORMAT, FORMAT_VERSION, MANIFEST, WEIGHTS, BundleError, load_state_checked, read_manifest, read_weights, write_bundle
from cinesense.hashing import sha256_file
from helpers import tiny_texts


def module() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))


@pytest.fixture
def written(tmp_path):
    source = module()
    directory = write_bundle(tmp_path / "bundle", {"classes": ["a", "b"], "model": {"kind": "mlp"}}, source.state_dict())
    return source, directory


def test_round_trip_gives_the_same_manifest_and_tensors(written):
    source, directory = written
    manifest = read_manifest(directory)
    assert manifest["format"] == FORMAT and manifest["format_version"] == FORMAT_VERSION
    assert manifest["classes"] == ["a", "b"] and manifest["model"] == {"kind": "mlp"}
    assert manifest["weights_sha256"] == sha256_file(directory / WEIGHTS)
    assert not (directory / (MANIFEST + ".tmp")).exists()
    state = read_weights(directory, manifest)
    assert set(state) == set(source.state_dict())
    for name, tensor in source.state_dict().items():
        torch.testing.assert_close(state[name], tensor, rtol=0, atol=0)
    target = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    load_state_checked(target, state, str(directory))
    x = torch.randn(5, 3)
    torch.testing.assert_close(target(x), source(x), rtol=0, atol=0)


def test_changed_weights_are_refused(written):
    _, directory = written
    manifest = read_manifest(directory)
    data = bytearray((directory / WEIGHTS).read_bytes())
    data[-1] ^= 0xFF
    (directory / WEIGHTS).write_bytes(bytes(data))
    with pytest.raises(BundleError, match="checksum mismatch"):
        read_weights(directory, manifest)


@pytest.mark.parametrize(("change", "says"), [
    (lambda m: m.update(format="other"), "format 'other' is not"),
    (lambda m: m.update(format_version=FORMAT_VERSION + 1), "format_version"),
    (lambda m: m.pop("classes"), r"lacks field\(s\) classes"),
])
def test_a_foreign_or_incomplete_manifest_is_refused_naming_the_file(written, change, says):
    _, directory = written
    manifest = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    change(manifest)
    (directory / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(BundleError, match=says) as info:
        read_manifest(directory)
    assert str(directory / MANIFEST) in str(info.value)


def test_weights_for_another_model_are_refused_naming_the_tensor(written):
    source, directory = written
    state = read_weights(directory, read_manifest(directory))
    wider = nn.Sequential(nn.Linear(3, 5), nn.ReLU(), nn.Linear(5, 2))
    with pytest.raises(BundleError, match=r"tensor '0.weight' has shape \(4, 3\), the model expects \(5, 3\)"):
        load_state_checked(wider, state, "src")
    with pytest.raises(BundleError, match=r"missing \['2.bias'\]"):
        load_state_checked(source, {k: v for k, v in state.items() if k != "2.bias"}, "src")
    with pytest.raises(BundleError, match=r"unexpected \['extra'\]"):
        load_state_checked(source, {**state, "extra": torch.zeros(1)}, "src")


def test_text_classifier_save_then_load_predicts_identically(tiny_text_model, tmp_path):
    texts = [text for text, _ in tiny_texts(12, seed=5)] + ["没见过的词", "好看好看好看"]
    original = Classifier.load(tiny_text_model)
    saved = original.save(tmp_path / "again")
    loaded = Classifier.load(saved)
    assert loaded.classes_ == original.classes_
    np.testing.assert_array_equal(loaded.predict_proba(texts), original.predict_proba(texts))
    assert read_manifest(saved)["weights_sha256"] == read_manifest(tiny_text_model)["weights_sha256"]  # the same tensors
