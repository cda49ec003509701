"""Sticker captions (cinesense.image.captions): the words written on a sticker are read by OCR
(rapidocr, offline) and join the comment's text, so the text branch reads them; cached by pixels,
bounded; a clear error without the engine; only fused models take a reader."""

from __future__ import annotations

import base64
import io
import os
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image, ImageDraw, ImageFont

from cinesense import Classifier
from cinesense.image import captions
from cinesense.image.captions import CaptionReader, OCRUnavailable, attach_caption_reader, caption_of, detach_caption_reader, join_caption
from cinesense.serve import create_app
from helpers import TINY_FILLER

CJK_FONTS = [Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"), Path("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf")]
REQUIRED = os.environ.get("CINESENSE_REQUIRE_OCR") == "1"  # .ci/run: fail, do not skip


def _need(condition: bool, reason: str) -> None:
    if not condition:
        if REQUIRED:
            pytest.fail(f"{reason} (CINESENSE_REQUIRE_OCR=1)")
        pytest.skip(reason)


def _font(size: int) -> ImageFont.FreeTypeFont:
    found = next((path for path in CJK_FONTS if path.is_file()), None)
    _need(found is not None, "no CJK font to render captions with: apt-get install fonts-noto-cjk")
    return ImageFont.truetype(str(found), size)


def captioned(caption: str, colour=(220, 60, 40), size=160) -> Image.Image:
    """A plain sticker of ``colour`` with ``caption`` written in black across its lower part."""
    image = Image.new("RGB", (size, size), colour)
    ImageDraw.Draw(image).text((10, size - 60), caption, font=_font(40), fill=(0, 0, 0))
    return image


@pytest.fixture(scope="module")
def reader():
    try:
        import rapidocr_onnxruntime  # noqa: F401
    except ImportError:
        _need(False, f"rapidocr is not installed: {captions.INSTALL_HINT}")
    return CaptionReader(threads=1)


# --------------------------------------------------------------- without the engine
def test_lines_in_reading_order_and_above_the_confidence():
    lines = [
        [[[10, 80], [90, 80], [90, 100], [10, 100]], "下面", 0.99],
        [[[60, 10], [90, 10], [90, 30], [60, 30]], "右上", 0.95],
        [[[5, 12], [40, 12], [40, 30], [5, 30]], "左上", 0.90],
        [[[5, 50], [40, 50], [40, 60], [5, 60]], "模糊", 0.20],
        [[[5, 60], [40, 60], [40, 70], [5, 70]], "  ", 0.99],
    ]
    assert caption_of(lines) == "左上 右上 下面"
    assert caption_of(lines, min_confidence=0.1) == "左上 右上 模糊 下面"
    assert caption_of(None) == "" and caption_of([]) == ""


def test_join_caption_keeps_the_text_first():
    assert join_caption("这电影可真好看啊", ["气死我了"]) == "这电影可真好看啊，气死我了"
    assert join_caption(None, ["笑死", ""]) == "笑死"
    assert join_caption("好看", ["", "  "]) == "好看"
    assert join_caption(None, []) is None


def test_missing_engine_says_how_to_install(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def refuse(name, *args, **kwargs):
        if name.startswith("rapidocr_onnxruntime"):
            raise ImportError("No module named 'rapidocr_onnxruntime'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", refuse)
    with pytest.raises(OCRUnavailable, match=r"cinesense\[ocr\]"):
        CaptionReader()


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="min_confidence"):
        CaptionReader(min_confidence=1.5)
    with pytest.raises(ValueError, match="max_entries"):
        CaptionReader(max_entries=-1)


def test_only_a_fused_model_takes_a_reader(tiny_text_model, tiny_image_model):
    for directory, kind in ((tiny_text_model, "text"), (tiny_image_model, "image")):
        with pytest.raises(ValueError, match=f"not a {kind} model"):
            attach_caption_reader(Classifier.load(directory), reader=object())  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="not fitted"):
        attach_caption_reader(Classifier(), reader=object())  # type: ignore[arg-type]


# ------------------------------------------------------------------- with the engine
def test_reads_a_rendered_chinese_caption(reader):
    assert reader.read(captioned("气死我了")) == "气死我了"
    assert reader.read(Image.new("RGB", (160, 160), (220, 60, 40))) == ""  # no caption
    stats = reader.stats()
    assert stats["misses"] >= 2 and stats["captioned"] >= 1


def test_cached_by_pixels_whatever_the_encoding(reader, tmp_path):
    fresh = CaptionReader(max_entries=8, threads=1)
    fresh._engine = reader._engine  # share the loaded engine; the cache is the reader's own
    image = captioned("笑死我了")
    path = tmp_path / "sticker.png"
    image.save(path)
    buffer = io.BytesIO()
    image.save(buffer, format="WEBP", lossless=True)
    assert fresh.read(image) == fresh.read(path) == fresh.read(buffer.getvalue()) == "笑死我了"
    assert (fresh.stats()["misses"], fresh.stats()["hits"], fresh.stats()["entries"]) == (1, 2, 1)


def test_the_cache_stays_within_its_bound(reader):
    bounded = CaptionReader(max_entries=1, threads=1)
    bounded._engine = reader._engine
    first, second = captioned("太棒了"), captioned("无语")
    assert bounded.read(first) == "太棒了" and bounded.read(second) == "无语"
    assert bounded.stats()["entries"] == 1
    assert bounded.read(first) == "太棒了" and bounded.stats()["misses"] == 3  # evicted, read again


def test_unreadable_image_reads_as_no_caption(reader):
    assert reader.read(b"not an image") == ""
    assert reader.stats()["unreadable"] >= 1


@pytest.fixture(scope="module")
def fused(tiny_text_model, tiny_image_model, tmp_path_factory):
    from test_serve_fused import tiny_fused_model

    return tiny_fused_model(tiny_text_model, tiny_image_model, tmp_path_factory.mktemp("caption-fused"))


NEUTRAL = "".join(TINY_FILLER[:3])  # "这部电影真的": no sentiment word


def test_a_caption_goes_through_the_text_branch(fused, reader):
    """A red (positive) sticker under a text without sentiment words: the caption "烂片失望" (two of
    the tiny model's negative words) makes the comment negative once captions are read."""
    model = Classifier.load(fused)
    sticker = captioned("烂片失望")
    plain = model.predict_proba([NEUTRAL], [sticker])[0]
    attach_caption_reader(model, reader)
    read = model.predict_proba([NEUTRAL], [sticker])[0]
    negative = model.classes_.index("negative")
    assert read[negative] > plain[negative] and read[negative] > 0.5
    explanation = model.explain(NEUTRAL, image=sticker)
    assert explanation.read_text == f"{NEUTRAL}，烂片失望"
    assert {"烂片", "失望"} <= set(explanation.tokens)
    assert model.explain(NEUTRAL, image=Image.new("RGB", (160, 160), (220, 60, 40))).read_text is None  # no caption, nothing added
    no_text = model.predict_proba([None], [sticker])[0]  # a sticker alone: its caption is the comment's text
    assert no_text[negative] > 0.5
    detach_caption_reader(model)
    assert np.array_equal(model.predict_proba([NEUTRAL], [sticker])[0], plain)


def test_the_service_reads_captions_and_counts_them(fused, reader):
    model = Classifier.load(fused)
    attach_caption_reader(model, CaptionReader(threads=1))
    model.caption_reader_._engine = reader._engine
    buffer = io.BytesIO()
    captioned("烂片失望").save(buffer, format="PNG")
    image = base64.b64encode(buffer.getvalue()).decode()
    with TestClient(create_app(model)) as client:
        answers = [client.post("/v1/predict", json={"text": NEUTRAL, "image": image}).json() for _ in range(2)]
        stats = client.get("/v1/metrics").json()["captions"]
    assert answers[0]["read_text"] == f"{NEUTRAL}，烂片失望" and answers[0]["label"] == "negative"
    assert "".join(piece["text"] for piece in answers[0]["highlights"]) == answers[0]["read_text"]
    assert (stats["misses"], stats["hits"], stats["captioned"]) == (1, 1, 1)


def test_predict_command_reads_captions(fused, reader, tmp_path, capsys, monkeypatch):
    from cinesense.cli import main

    monkeypatch.setattr(captions, "_engine", lambda threads: reader._engine)  # the loaded engine, not a second one
    path = tmp_path / "card.png"
    captioned("烂片失望").save(path)
    assert main(["predict", "--model", str(fused), "--color", "never", "--read-captions", NEUTRAL, "--image", str(path)]) == 0
    line = capsys.readouterr().out.splitlines()[0]
    assert line.startswith("negative\t") and f"{NEUTRAL}，烂片失望" in line
    assert main(["predict-file", "--model", str(fused), "--engine", "ray", "--read-captions", "--data", str(path), "--out", str(tmp_path / "o.jsonl")]) != 0
    assert "--read-captions runs with the local engine only" in capsys.readouterr().err
    assert not (tmp_path / "o.jsonl").exists()
