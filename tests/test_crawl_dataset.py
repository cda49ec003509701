"""`data import`: ad-image filter, sticker mapping, labelling sheet, human and predicted labels."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from PIL import Image

from cinesense.data.crawl_import import ImportOptions, emoticons, import_crawl, load_sticker_map, read_labels
from cinesense.data.jsonl import load_jsonl
from cinesense.data.schema import DataError


@pytest.fixture
def crawl_dir(tmp_path):
    folder = tmp_path / "crawl"
    (folder / "images").mkdir(parents=True)
    Image.new("RGB", (300, 40), (200, 0, 0)).save(folder / "images/banner.png")
    Image.new("RGB", (64, 64), (0, 200, 0)).save(folder / "images/sticker.png")
    rows = [
        {"id": "1", "text": "这一集太好哭了[流泪][流泪]", "kind": "comment", "likes": 5, "raw": {"richtype": "0"}},
        {"id": "2", "text": "加微信领福利", "images": ["images/banner.png"], "kind": "comment", "raw": {}},
        {"id": "3", "images": ["images/banner.png"], "kind": "comment", "raw": {}},
        {"id": "4", "text": "同感[感谢]", "images": ["images/sticker.png"], "kind": "reply", "parent": "1", "raw": {}},
    ]
    (folder / "comments.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    (folder / "danmu.jsonl").write_text(json.dumps({"id": "1", "text": "前方高能", "kind": "danmu"}, ensure_ascii=False) + "\n",
                                        encoding="utf-8")
    return folder


def read(path):
    return {r.id: r for r in load_jsonl(path, require_label=False).records}


def test_emoticon_codes():
    assert emoticons("太好哭了[流泪][流泪] [cp] [在吗?] [抱拳]") == ["[流泪]", "[流泪]", "[抱拳]"]


def test_ad_images_dropped_text_kept_and_reported(crawl_dir, tmp_path):
    out = tmp_path / "set" / "train.jsonl"
    summary = import_crawl(crawl_dir, out)
    records = read(out)
    assert sorted(records) == ["1", "2", "4"]  # "3" had only the banner
    assert records["2"].images == () and records["2"].text == "加微信领福利"
    assert records["4"].image == (crawl_dir / "images/sticker.png").resolve()
    assert records["1"].meta["emoticons"] == ["[流泪]", "[流泪]"] and "raw" not in records["1"].meta
    assert summary["images_dropped"] == {"aspect_ratio": 2} and summary["records_dropped"] == 1
    assert "banner.png" in out.with_suffix(".dropped.jsonl").read_text(encoding="utf-8")


def test_options_keep_everything_and_add_danmu(crawl_dir, tmp_path):
    out = tmp_path / "all.jsonl"
    import_crawl(crawl_dir, out, ImportOptions(clean=False, danmu=True, keep_raw=True))
    records = read(out)
    assert sorted(records) == ["1", "2", "3", "4", "danmu-1"]
    assert records["1"].meta["raw"] == {"richtype": "0"}


def test_sticker_folder_and_json_map(crawl_dir, tmp_path):
    faces = tmp_path / "faces"
    faces.mkdir()
    Image.new("RGB", (32, 32), (0, 0, 200)).save(faces / "流泪.png")
    stickers = load_sticker_map(faces)
    assert stickers == {"[流泪]": (faces / "流泪.png").resolve()}
    out = tmp_path / "stickers.jsonl"
    import_crawl(crawl_dir, out, stickers=stickers)
    assert read(out)["1"].images == ((faces / "流泪.png").resolve(),)  # once, though the code appears twice
    mapping = tmp_path / "map.json"
    mapping.write_text(json.dumps({"感谢": "faces/流泪.png"}), encoding="utf-8")
    assert load_sticker_map(mapping) == {"[感谢]": (faces / "流泪.png").resolve()}
    mapping.write_text(json.dumps({"[强]": "faces/missing.png"}), encoding="utf-8")
    with pytest.raises(DataError, match="map.json.*missing.png"):
        load_sticker_map(mapping)


class StubClassifier:
    modality_ = "text"
    classes_ = ["negative", "positive"]

    def predict_proba(self, texts=None, images=None):
        return np.array([[0.2, 0.8] if "好" in t else [0.9, 0.1] for t in texts])


def test_label_sheet_round_trip_and_predictions_never_gold(crawl_dir, tmp_path, monkeypatch):
    monkeypatch.setattr("cinesense.classifier.Classifier.load", classmethod(lambda cls, directory: StubClassifier()))
    sheet = tmp_path / "to_label.csv"
    out = tmp_path / "predicted.jsonl"
    summary = import_crawl(crawl_dir, out, model="some/model", label_sheet=sheet)
    records = read(out)
    assert summary["predicted"] == 3 and all(r.label is None for r in records.values())
    assert records["1"].meta["predicted_label"] == "positive" and records["1"].meta["predicted_probability"] == 0.8
    assert records["1"].meta["label_source"] == "predicted"
    with open(sheet, encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["label"] for r in rows] == ["", "", ""] and rows[0]["predicted_label"] == "positive"

    rows[0]["label"], rows[1]["label"] = "negative", "negative"  # a person disagrees with the model on "1"
    with open(sheet, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    labelled = tmp_path / "labelled.jsonl"
    summary = import_crawl(crawl_dir, labelled, labels=read_labels(sheet))
    records = {r.id: r for r in load_jsonl(labelled, require_label=False).records}
    assert (records["1"].label, records["1"].meta["label_source"]) == ("negative", "human")
    assert records["4"].label is None and summary["labelled"] == 2


def test_label_sheet_errors_name_the_file_and_line(tmp_path):
    sheet = tmp_path / "labels.csv"
    sheet.write_text("id,text\n1,x\n", encoding="utf-8")
    with pytest.raises(DataError, match="labels.csv:1: needs the columns"):
        read_labels(sheet)
    sheet.write_text("id,label\n1,positive\n1,negative\n", encoding="utf-8")
    with pytest.raises(DataError, match="labels.csv:3: id '1' labelled twice"):
        read_labels(sheet)
