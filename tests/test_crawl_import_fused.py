"""`data import --model` with a fused (text + sticker) model: every comment is predicted from all it
has (its text, its images and the stickers its emoticon codes stand for), exactly as the classifier
itself predicts that comment."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from cinesense import Classifier
from cinesense.data.crawl_import import import_crawl
from cinesense.data.jsonl import load_jsonl
from helpers import tiny_texts
from test_classifier_inputs import tiny_fused  # noqa: F401 - fixture


@pytest.fixture(scope="module")
def fused_dir(tiny_fused, tmp_path_factory):  # noqa: F811 - the fixture imported above
    fused, _, _ = tiny_fused
    return fused.save(tmp_path_factory.mktemp("crawl-fused") / "model")


def test_import_with_a_fused_model_predicts_each_comment_from_its_text_and_images(tiny_fused, fused_dir, tmp_path):  # noqa: F811
    _, red, blue = tiny_fused
    crawl = tmp_path / "crawl"
    (crawl / "images").mkdir(parents=True)
    shutil.copy(red, crawl / "images" / "red.png")
    shutil.copy(blue, crawl / "images" / "blue.png")
    (positive, _), (negative, _) = tiny_texts(2)
    rows = [
        {"id": "text", "text": positive},
        {"id": "text+red", "text": positive, "images": ["images/red.png"]},
        {"id": "text+blue", "text": positive, "images": ["images/blue.png"]},
        {"id": "blue", "images": ["images/blue.png"]},
        {"id": "negative+red", "text": negative, "images": ["images/red.png"]},
        {"id": "red+blue", "text": positive, "images": ["images/red.png", "images/blue.png"]},
        {"id": "sticker", "text": positive + "[蓝脸]"},  # the emoticon code stands for the blue sticker
    ]
    (crawl / "comments.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "predicted.jsonl"
    summary = import_crawl(crawl, out, model=fused_dir, stickers={"[蓝脸]": (crawl / "images" / "blue.png").resolve()})

    records = load_jsonl(out, require_label=False).records
    assert [r.id for r in records] == [r["id"] for r in rows] and summary["predicted"] == len(rows)
    assert records[-1].images == ((crawl / "images" / "blue.png").resolve(),)
    classifier = Classifier.load(fused_dir)
    expected = classifier.predict_proba([r.text for r in records], [list(r.images) or None for r in records])
    for record, row in zip(records, expected):
        assert record.meta["predicted_label"] == classifier.classes_[int(row.argmax())], record.id
        assert record.meta["predicted_probability"] == round(float(row.max()), 4), record.id
        assert record.meta["label_source"] == "predicted" and record.label is None, record.id
    labels = {r.id: r.meta["predicted_label"] for r in records}  # the text and the sticker both count
    assert (labels["text"], labels["text+red"], labels["text+blue"], labels["sticker"]) == ("positive", "positive", "negative", "negative")
