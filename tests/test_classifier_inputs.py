"""What ``Classifier.predict / predict_proba / explain`` accept, for each modality, and the
attention map of every sticker a fused model explains."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import tiny_sticker, tiny_texts

from cinesense import Classifier
from cinesense.config import load_config
from cinesense.data.schema import Record

POSITIVE_TEXT = tiny_texts(2)[0][0]


@pytest.fixture(scope="module")
def tiny_fused(tiny_text_model, tiny_image_model, tmp_path_factory):
    """A late-fusion model over the tiny text and image models (red stickers positive, blue
    negative), and the two sticker files."""
    root = tmp_path_factory.mktemp("tiny-fused-inputs")
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
    return fused, red, blue


# ------------------------------------------------------------------ several stickers explained


def test_fused_explain_gives_one_attention_map_per_sticker_in_order(tiny_fused):
    fused, red, blue = tiny_fused
    both = fused.explain(POSITIVE_TEXT, [red, blue])
    assert len(both.image_attentions) == 2
    for grid in both.image_attentions:
        assert np.asarray(grid).shape == (2, 2) and np.isclose(np.sum(grid), 1, atol=1e-5)
    assert both.image_attention == both.image_attentions[0]
    # each map is that sticker's own: the same as explaining it alone, in the order given
    alone = {name: fused.explain(POSITIVE_TEXT, path).image_attentions for name, path in (("red", red), ("blue", blue))}
    assert np.allclose(both.image_attentions[0], alone["red"][0], atol=1e-6)
    assert np.allclose(both.image_attentions[1], alone["blue"][0], atol=1e-6)
    swapped = fused.explain(POSITIVE_TEXT, [blue, red])
    assert np.allclose(swapped.image_attentions[0], both.image_attentions[1], atol=1e-6)
    # the verdict is the one predict_proba gives the same comment
    proba = fused.predict_proba([POSITIVE_TEXT], [[red, blue]])[0]
    assert both.probabilities["negative"] == pytest.approx(proba[fused.classes_.index("negative")], abs=1e-6)


def test_explain_without_image_has_no_attention_maps(tiny_fused, tiny_text_model, tiny_image_model):
    fused, red, _ = tiny_fused
    text_only = fused.explain(POSITIVE_TEXT)
    assert text_only.image_attention is None and text_only.image_attentions == []
    assert Classifier.load(tiny_text_model).explain(POSITIVE_TEXT).image_attentions == []
    image = Classifier.load(tiny_image_model).explain(image=red)
    assert image.image_attentions == [image.image_attention]


# ------------------------------------------------------- inputs a model does not read are refused


def test_text_model_refuses_images_naming_the_argument(tiny_text_model, tiny_fused):
    _, red, _ = tiny_fused
    classifier = Classifier.load(tiny_text_model)
    with pytest.raises(ValueError, match=r"'images\[1\]': this text model does not read images"):
        classifier.predict([POSITIVE_TEXT, POSITIVE_TEXT], images=[None, red])
    with pytest.raises(ValueError, match=r"'images\[0\]'"):
        classifier.predict_proba([POSITIVE_TEXT], images=[[red]])
    with pytest.raises(ValueError, match="'image': this text model does not read images"):
        classifier.explain(POSITIVE_TEXT, image=red)
    # entries without an image are no image: aligned calls shared with a fused model still work
    assert classifier.predict([POSITIVE_TEXT], images=[None]) == classifier.predict([POSITIVE_TEXT])
    assert classifier.predict([POSITIVE_TEXT], images=[[]]) == classifier.predict([POSITIVE_TEXT])


def test_image_model_refuses_texts_naming_the_argument(tiny_image_model, tiny_fused):
    _, red, _ = tiny_fused
    classifier = Classifier.load(tiny_image_model)
    with pytest.raises(ValueError, match=r"'texts\[0\]': this image model does not read text"):
        classifier.predict([POSITIVE_TEXT], images=[red])
    with pytest.raises(ValueError, match="'text': this image model does not read text"):
        classifier.explain(POSITIVE_TEXT, image=red)
    with pytest.raises(ValueError, match=r"'images\[1\]' is required"):
        classifier.predict_proba(images=[red, None])
    with pytest.raises(ValueError, match="'image'.*not a list"):
        classifier.explain(image=[red, red])
    assert classifier.predict([None], images=[red]) == classifier.predict(images=[red])


# ------------------------------------------------ a fused model reads a text without words as no text


@pytest.mark.parametrize("wordless", ["😡😡", "\u0000\u0000", "！？"])
def test_fused_model_reads_a_text_without_words_as_no_text(tiny_fused, wordless):
    fused, red, blue = tiny_fused
    image_only = fused.predict_proba([None], [blue])
    np.testing.assert_allclose(fused.predict_proba([wordless], [blue]), image_only, atol=1e-12)
    explanation = fused.explain(wordless, blue)
    assert explanation.tokens == [] and explanation.weights == []
    assert explanation.probabilities == pytest.approx(dict(zip(fused.classes_, image_only[0])))
    with pytest.raises(ValueError, match=r"'texts\[1\]' has no word the model reads.*no image either"):
        fused.predict([POSITIVE_TEXT, wordless], [None, None])
    with pytest.raises(ValueError, match="'text' has no word the model reads"):
        fused.explain(wordless)


def test_fused_model_refuses_an_empty_text_and_an_empty_comment(tiny_fused):
    fused, red, _ = tiny_fused
    with pytest.raises(ValueError, match=r"'texts\[0\]' is empty.*None"):
        fused.predict_proba([" "], [red])
    with pytest.raises(ValueError, match=r"'texts\[1\]' and 'images\[1\]' are both missing"):
        fused.predict_proba([POSITIVE_TEXT, None], [None, None])
