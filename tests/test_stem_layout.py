"""The conv base's layout at prediction time: the same answers in either layout, "auto" measured once."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cinesense import Classifier
from cinesense.image import stem_layout
from cinesense.image.stem_layout import set_stem_layout
from helpers import tiny_sticker


@pytest.fixture
def stickers(tmp_path):
    return [tiny_sticker(tmp_path / "red.png", (220, 50, 40)), tiny_sticker(tmp_path / "blue.png", (40, 50, 220))]


def test_channels_last_gives_the_nchw_answers(tiny_image_model, stickers):
    clf = Classifier.load(tiny_image_model)
    nchw = clf.predict_proba(images=stickers)
    assert set_stem_layout(clf, "channels-last") == "channels-last" and clf.model_.stem.channels_last
    np.testing.assert_allclose(clf.predict_proba(images=stickers), nchw, atol=1e-5)
    output = clf.adapter.stem_outputs(clf.model_, stickers)
    assert output.is_contiguous()  # what the sticker cache stores and the head reads: the standard layout
    assert set_stem_layout(clf, "nchw") == "nchw" and not clf.model_.stem.channels_last
    np.testing.assert_allclose(clf.predict_proba(images=stickers), nchw, atol=1e-6)


def test_auto_measures_once_per_machine_and_remembers(tiny_image_model, tmp_path, monkeypatch):
    cache = tmp_path / "layout.json"
    calls = []
    real = stem_layout.measure_layouts

    def counted(*args, **kwargs):
        calls.append(args[1])
        return real(*args, **kwargs)

    monkeypatch.setattr(stem_layout, "measure_layouts", counted)
    chosen = set_stem_layout(Classifier.load(tiny_image_model), "auto", cache)
    assert chosen in stem_layout.LAYOUTS and calls == [64]
    (entry,) = json.loads(cache.read_text(encoding="utf-8")).values()
    assert entry["layout"] == chosen and set(entry["seconds_per_image"]) == set(stem_layout.LAYOUTS)
    assert chosen == min(entry["seconds_per_image"], key=entry["seconds_per_image"].get)
    assert set_stem_layout(Classifier.load(tiny_image_model), "auto", cache) == chosen and calls == [64]  # remembered

    cache.write_text("{not json", encoding="utf-8")  # an unreadable file is measured again and rewritten
    assert set_stem_layout(Classifier.load(tiny_image_model), "auto", cache) in stem_layout.LAYOUTS and len(calls) == 2
    assert len(json.loads(cache.read_text(encoding="utf-8"))) == 1


def test_a_text_model_has_no_conv_base_and_a_wrong_layout_is_named(tiny_text_model, tiny_image_model):
    assert set_stem_layout(Classifier.load(tiny_text_model), "auto") is None
    with pytest.raises(ValueError, match="stem layout must be one of auto, nchw, channels-last"):
        set_stem_layout(Classifier.load(tiny_image_model), "nhwc")
