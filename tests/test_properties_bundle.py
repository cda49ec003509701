"""Property tests of model-bundle loading (issue 16): a saved tiny text model whose manifest (or
vocabulary) has any field replaced by any JSON value, or is cut short, loads, or is refused with a
``BundleError`` naming the file; never another exception. A model that loads predicts rows that
sum to 1. (Numbers are drawn up to 512 and far beyond memory, 10^15: a manifest asking for a model
of some gigabytes is built before its weights are compared with it.)"""

from __future__ import annotations

import json
import shutil

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from cinesense import Classifier
from cinesense.bundle import MANIFEST, BundleError
from fuzzing import fuzz_settings, tried

VALUES = st.recursive(st.none() | st.booleans() | st.integers(-3, 512) | st.just(10**15) | st.floats(allow_nan=True) |
                      st.text(max_size=10) | st.sampled_from(["text", "image", "fused", "vocab.json", "../vocab.json", "/etc/passwd", "a\x00b"]),
                      lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=6)


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _paths(item, (*prefix, i))


@given(data=st.data())
@fuzz_settings(100)
def test_a_changed_manifest_loads_or_is_refused_naming_the_file(tiny_text_model, tmp_path_factory, data):
    tried("bundle manifest (Classifier.load)")
    directory = tmp_path_factory.mktemp("bundle") / "model"
    shutil.copytree(tiny_text_model, directory)
    manifest = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    kind = data.draw(st.sampled_from(["replace", "replace", "model", "model", "delete", "truncate", "vocabulary"]))
    if kind == "truncate":
        raw = (directory / MANIFEST).read_bytes()
        (directory / MANIFEST).write_bytes(raw[: data.draw(st.integers(0, len(raw) - 1))])
    elif kind == "vocabulary":
        raw = (directory / "vocab.json").read_bytes()
        cut = data.draw(st.integers(0, len(raw)))
        (directory / "vocab.json").write_bytes(raw[:cut] + data.draw(st.binary(max_size=4)))
    elif kind == "model":  # a size of the model section: negative, zero, large, far beyond memory
        manifest["model"][data.draw(st.sampled_from(sorted(manifest["model"])))] = data.draw(st.integers(-3, 64) | st.just(10**15))
        (directory / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    else:
        path = data.draw(st.sampled_from([p for p in _paths(manifest) if p]))
        parent = manifest
        for key in path[:-1]:
            parent = parent[key]
        if kind == "delete" and isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent[path[-1]] = data.draw(VALUES)
        (directory / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8", errors="surrogatepass")
    try:
        classifier = Classifier.load(directory)
    except BundleError as error:
        assert str(directory) in str(error), error
        return
    proba = classifier.predict_proba(["这部电影真的好看", "无聊"])
    assert np.allclose(proba.sum(axis=1), 1.0) and (proba >= 0).all()
