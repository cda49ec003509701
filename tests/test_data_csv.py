"""Tests of cinesense.data.csvfile: column mapping, label map, BOM, bad rows named by line."""

from __future__ import annotations

import codecs

import pytest

from cinesense.data.csvfile import load_csv
from cinesense.data.schema import DataError


def _write(tmp_path, text: str, name: str = "reviews.csv", bom: bool = False):
    path = tmp_path / name
    path.write_bytes((codecs.BOM_UTF8 if bom else b"") + text.encode("utf-8"))
    return path


def test_default_binary_label_map(tmp_path):
    path = _write(tmp_path, "label,review\n1,很好看\n0,太无聊了\n")
    data = load_csv(path)
    assert [(r.id, r.text, r.label) for r in data.records] == [
        ("reviews-2", "很好看", "positive"),
        ("reviews-3", "太无聊了", "negative"),
    ]
    assert data.source == str(path)
    assert data.skipped == []


def test_column_mapping_and_extra_columns_in_meta(tmp_path):
    path = _write(tmp_path, 'cat,stars,comment\n书籍,good,"很好, 推荐"\n水果,bad,"不新鲜"\n')
    data = load_csv(
        path,
        text_column="comment",
        label_column="stars",
        label_map={"good": "positive", "bad": "negative"},
        id_prefix="shop",
    )
    assert [(r.id, r.text, r.label) for r in data.records] == [
        ("shop-2", "很好, 推荐", "positive"),
        ("shop-3", "不新鲜", "negative"),
    ]
    assert data.records[0].meta == {"cat": "书籍"}


def test_raw_labels_without_map_and_unlabelled_text(tmp_path):
    path = _write(tmp_path, "label,review\nneutral,一般\n")
    assert load_csv(path, label_map=None).labels == ["neutral"]
    (record,) = load_csv(path, label_column=None).records
    assert record.label is None and record.meta == {"label": "neutral"}


def test_bom_header(tmp_path):
    path = _write(tmp_path, "label,review\n1,好\n", bom=True)
    (record,) = load_csv(path).records
    assert record.text == "好" and record.label == "positive"


def test_empty_review_names_line(tmp_path):
    path = _write(tmp_path, 'label,review\n1,好\n0,\n1," "\n')
    with pytest.raises(DataError) as info:
        load_csv(path)
    assert str(info.value) == f"{path}:3: empty text"


def test_skip_invalid_reports_line_and_reason(tmp_path):
    path = _write(tmp_path, 'label,review\n1,好\n0,\n1,"  "\n7,怪\n0,差\n')
    data = load_csv(path, skip_invalid=True)
    assert [(r.id, r.label) for r in data.records] == [("reviews-2", "positive"), ("reviews-6", "negative")]
    assert [(s.line, s.reason) for s in data.skipped] == [
        (3, "empty text"),
        (4, "empty text"),
        (5, "unknown label '7' in column 'label'"),
    ]
    assert all(s.source == str(path) for s in data.skipped)
    assert data.skipped_summary() == {"empty text": 2, "unknown label '7' in column 'label'": 1}


def test_line_numbers_follow_multiline_quoted_fields(tmp_path):
    path = _write(tmp_path, 'label,review\n1,"第一行\n第二行"\n0,\n')
    with pytest.raises(DataError, match=r":4: empty text"):
        load_csv(path)


def test_unknown_label(tmp_path):
    path = _write(tmp_path, "label,review\n1,好\n2,怪\n")
    with pytest.raises(DataError) as info:
        load_csv(path)
    assert str(info.value).startswith(f"{path}:3: unknown label '2'")


def test_label_outside_allowed_labels(tmp_path):
    path = _write(tmp_path, "label,review\nneutral,一般\n")
    with pytest.raises(DataError, match=r":2: unknown label 'neutral'"):
        load_csv(path, label_map=None, labels=["negative", "positive"])


@pytest.mark.parametrize("header, missing", [("label,text", "review"), ("polarity,review", "label")])
def test_missing_column_is_named(tmp_path, header, missing):
    path = _write(tmp_path, f"{header}\n1,好\n")
    with pytest.raises(DataError) as info:
        load_csv(path)
    message = str(info.value)
    assert message.startswith(f"{path}:1: missing column '{missing}'")
    assert header.replace(",", ", ") in message  # the header actually found


def test_non_utf8_names_line(tmp_path):
    path = tmp_path / "gbk.csv"
    path.write_bytes("label,review\n1,好\n".encode() + "0,难看\n".encode("gbk"))
    with pytest.raises(DataError) as info:
        load_csv(path)
    message = str(info.value)
    assert message.startswith(f"{path}:3: ")
    assert "UTF-8" in message


def test_non_utf8_line_number_with_bom(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes(codecs.BOM_UTF8 + b"label,review\n0,\xff\xfe\n")
    with pytest.raises(DataError, match=r"bom\.csv:2: not valid UTF-8"):
        load_csv(path)


def test_missing_file(tmp_path):
    path = tmp_path / "missing.csv"
    with pytest.raises(DataError, match="not found") as info:
        load_csv(path)
    assert str(path) in str(info.value)


def test_a_folder_is_a_clear_error_and_rows_know_their_line(tmp_path):
    with pytest.raises(DataError, match="is a folder") as info:
        load_csv(tmp_path)
    assert str(tmp_path) in str(info.value)
    path = _write(tmp_path, 'label,review\n1,"两行\n的评论"\n0,太无聊了\n')
    assert [r.line for r in load_csv(path).records] == [3, 4]
