"""Each kind of model's adapter: its input check (the rule of ``cinesense.adapter``) asked directly,
and the registry that is the one switch on the kind of model."""

from __future__ import annotations

import pytest

from cinesense import config
from cinesense.adapter import InputError
from cinesense.classifier import ADAPTERS, MODALITIES, adapter_for
from cinesense.fusion.branch import FusedBranch
from cinesense.image.branch import ImageBranch
from cinesense.text.branch import TextBranch
from cinesense.text.distilled_branch import DistilledBranch
from cinesense.text.encoder_branch import EncoderBranch


def refused(adapter, text, image, **options) -> InputError:
    with pytest.raises(InputError) as caught:
        adapter.check(text, image, **options)
    return caught.value


def test_the_registry_is_the_config_s_list_of_kinds():
    assert MODALITIES == config.MODALITIES == ("text", "image", "fused", "encoder", "distilled")
    assert [adapter_for(kind) for kind in MODALITIES] == [TextBranch, ImageBranch, FusedBranch, EncoderBranch, DistilledBranch]
    assert all(ADAPTERS[kind].kind == kind for kind in MODALITIES)


@pytest.mark.parametrize("adapter", [TextBranch, ImageBranch, FusedBranch, EncoderBranch, DistilledBranch])
def test_every_adapter_refuses_an_empty_or_non_string_text(adapter):
    error = refused(adapter, "  ", "x.png", where="items[2].")
    assert error.field == "items[2].text" and "is empty: give a text, or no text (None)" in str(error)
    error = refused(adapter, 3, "x.png")
    assert error.field == "text" and str(error) == "field 'text' must be a string or None, got int"


def test_text_adapter_needs_text_refuses_images_when_strict_and_wordless_text():
    error = refused(TextBranch, None, None)
    assert (error.field, str(error)) == ("text", "field 'text' is required: this is a text model")
    error = refused(TextBranch, "好看", "x.png")
    assert (error.field, str(error)) == ("image", "field 'image': this text model does not read images")
    TextBranch.check("好看", "x.png", strict=False)  # a data file's record: the image is ignored
    error = refused(TextBranch, "😡😡", None, tokens=[], fields=("texts[1]", "images[1]"))
    assert error.field == "texts[1]" and "has no word the model reads" in str(error)
    TextBranch.check("好看", None, tokens=["好看"])


def test_image_adapter_needs_an_image_and_refuses_text_when_strict():
    error = refused(ImageBranch, None, None, where="items[0].")
    assert (error.field, str(error)) == ("items[0].image", "field 'items[0].image' is required: this is an image model")
    error = refused(ImageBranch, "好看", "x.png")
    assert (error.field, str(error)) == ("text", "field 'text': this image model does not read text")
    ImageBranch.check("好看", "x.png", strict=False)
    ImageBranch.check(None, "x.png", tokens=[])  # no text: no word to miss
    assert ImageBranch.images_per_comment == 1
    with pytest.raises(InputError, match="explains one image at a time") as caught:
        ImageBranch.check_explained(["a.png", "b.png"])
    assert caught.value.field == "image"


def test_fused_adapter_needs_text_or_an_image_and_reads_a_wordless_text_as_none():
    error = refused(FusedBranch, None, None)
    assert error.field == "text" and "are both missing: give a text, an image or both" in str(error)
    error = refused(FusedBranch, "!!!", None, tokens=[])
    assert error.field == "text" and "this comment has no image either" in str(error)
    FusedBranch.check("!!!", "x.png", tokens=[])  # read from its image alone
    FusedBranch.check("好看", None, strict=True)
    FusedBranch.check(None, ["a.png", "b.png"])


def test_what_each_adapter_reads_of_a_record_and_of_arguments():
    images = ["a.png", "b.png"]
    assert TextBranch.record_inputs("好看", images) == ("好看", None)
    assert ImageBranch.record_inputs("好看", images) == (None, "a.png")
    assert FusedBranch.record_inputs("好看", images) == ("好看", images)
    assert FusedBranch.record_inputs(None, images[:1]) == (None, "a.png")
    assert FusedBranch.record_inputs("好看", []) == ("好看", None)
    with pytest.raises(InputError, match="argument 'texts' is required: this is a text model"):
        TextBranch.require_arguments(None, ["a.png"])
    with pytest.raises(InputError, match="argument 'images' is required: this is an image model"):
        ImageBranch.require_arguments(["好看"], None)
    FusedBranch.require_arguments(None, ["a.png"])
    assert FusedBranch.given_image([]) is None and ImageBranch.given_image([]) == []
