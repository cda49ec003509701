"""Tests of cinesense.data.jsonl: every bad line gets a DataError naming file and line."""

from __future__ import annotations

import json

import pytest

from cinesense.data.jsonl import load_jsonl, write_jsonl
from cinesense.data.schema import DataError, Record

LABELS = ["negative", "positive"]
GOOD = '{"id": "g1", "text": "好看", "label": "positive"}'


def _write_lines(tmp_path, lines: list[str], name: str = "data.jsonl"):
    path = tmp_path / name
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def test_loads_good_records(tmp_path):
    path = _write_lines(
        tmp_path,
        [GOOD, '{"id": 7, "text": "难看 无聊", "label": "negative"}'],
    )
    data = load_jsonl(path, labels=LABELS)
    assert [r.id for r in data.records] == ["g1", "7"]  # integer ids become strings
    assert [r.text for r in data.records] == ["好看", "难看 无聊"]
    assert data.labels == ["positive", "negative"]
    assert data.skipped == []
    assert data.source == str(path)
    assert data.class_counts() == {"negative": 1, "positive": 1}


BAD_LINES = [
    ('{"id": "b", "text": "x", "label": "positive"', "malformed JSON"),
    ('{"text": "x", "label": "positive"}', "missing field 'id'"),
    ('{"id": "b", "label": "positive"}', "missing field 'text'"),
    ('{"id": "b", "text": "x", "label": "neutral"}', "unknown label 'neutral'"),
    ('{"id": "b", "text": "   ", "label": "positive"}', "empty text"),
    ('{"id": "b", "text": "", "label": "positive"}', "empty text"),
    ('{"id": "b", "text": "x"}', "missing field 'label'"),
    ('["b", "x", "positive"]', "expected a JSON object"),
    ('{"id": "b", "text": 3, "label": "positive"}', "field 'text' must be a string"),
    ('{"id": "b", "text": "x", "label": "positive", "image": 5}', "image"),
]


@pytest.mark.parametrize("bad, reason", BAD_LINES)
def test_bad_line_names_file_and_line(tmp_path, bad, reason):
    path = _write_lines(tmp_path, [GOOD, bad, '{"id": "g3", "text": "y", "label": "negative"}'])
    with pytest.raises(DataError) as info:
        load_jsonl(path, labels=LABELS)
    message = str(info.value)
    assert message.startswith(f"{path}:2: ")
    assert reason in message


def test_duplicate_id_names_both_lines(tmp_path):
    path = _write_lines(tmp_path, [GOOD, '{"id": "x", "text": "a", "label": "negative"}', GOOD])
    with pytest.raises(DataError) as info:
        load_jsonl(path)
    message = str(info.value)
    assert message.startswith(f"{path}:3: ")
    assert "duplicate id 'g1'" in message and "line 1" in message


def test_integer_and_string_ids_collide(tmp_path):
    path = _write_lines(tmp_path, ['{"id": 1, "text": "a", "label": "x"}', '{"id": "1", "text": "b", "label": "x"}'])
    with pytest.raises(DataError, match="duplicate id"):
        load_jsonl(path)


def test_any_label_accepted_without_labels(tmp_path):
    path = _write_lines(tmp_path, ['{"id": "a", "text": "a", "label": "neutral"}', '{"id": "b", "text": "b", "label": 1}'])
    assert load_jsonl(path).labels == ["neutral", "1"]


def test_unlabelled_records_when_labels_not_required(tmp_path):
    path = _write_lines(tmp_path, ['{"id": "a", "text": "a"}'])
    (record,) = load_jsonl(path, require_label=False).records
    assert record.label is None


def test_non_utf8_names_file_and_line(tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_bytes(GOOD.encode() + b"\n" + b'{"id": "b", "text": "\xff\xfe", "label": "positive"}\n')
    with pytest.raises(DataError) as info:
        load_jsonl(path)
    message = str(info.value)
    assert message.startswith(f"{path}:2: ")
    assert "UTF-8" in message


def test_non_utf8_line_is_skipped_with_skip_invalid(tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_bytes(GOOD.encode() + b"\n\xff\n" + b'{"id": "g3", "text": "y", "label": "negative"}\n')
    data = load_jsonl(path, skip_invalid=True)
    assert [r.id for r in data.records] == ["g1", "g3"]
    assert [s.line for s in data.skipped] == [2]


def test_skip_invalid_keeps_good_records_and_reports_every_bad_line(tmp_path):
    lines = [
        GOOD,  # 1
        '{"id": "b", "text": "x", "label": "positive"',  # 2 malformed
        '{"text": "x", "label": "positive"}',  # 3 missing id
        '{"id": "g4", "text": "还行", "label": "negative"}',  # 4
        '{"id": "b5", "label": "positive"}',  # 5 no text, no image
        '{"id": "b6", "text": "x", "label": "neutral"}',  # 6 unknown label
        '{"id": "b7", "text": " ", "label": "positive"}',  # 7 empty text
        "",  # 8 blank line: no record, not a skipped one
        '{"id": "g4", "text": "again", "label": "positive"}',  # 9 duplicate
        '{"id": "g10", "text": "精彩", "label": "positive"}',  # 10
    ]
    path = _write_lines(tmp_path, lines)
    data = load_jsonl(path, labels=LABELS, skip_invalid=True)
    assert [r.id for r in data.records] == ["g1", "g4", "g10"]
    assert [r.line for r in data.records] == [1, 4, 10]
    assert [s.line for s in data.skipped] == [2, 3, 5, 6, 7, 9]
    assert all(s.source == str(path) for s in data.skipped)
    reasons = [s.reason for s in data.skipped]
    assert reasons[0].startswith("malformed JSON")
    assert reasons[1] == "missing field 'id'"
    assert reasons[2].startswith("missing field 'text'")
    assert reasons[3].startswith("unknown label 'neutral'")
    assert reasons[4] == "empty text"
    assert reasons[5].startswith("duplicate id 'g4'")
    # nothing dropped but the blank line
    assert len(data.records) + len(data.skipped) == len(lines) - 1
    assert sum(data.skipped_summary().values()) == len(data.skipped)
    assert data.skipped_summary()["empty text"] == 1


def test_extra_fields_kept_in_meta(tmp_path):
    path = _write_lines(tmp_path, ['{"id": "a", "text": "好", "label": "positive", "user": "u1", "likes": 3, "tags": ["x"]}'])
    (record,) = load_jsonl(path).records
    assert record.meta == {"user": "u1", "likes": 3, "tags": ["x"]}


def test_image_paths_resolved_relative_to_the_file(tmp_path):
    folder = tmp_path / "set"
    folder.mkdir()
    path = _write_lines(
        folder,
        [
            '{"id": "a", "text": "好", "label": "positive", "image": "images/a.jpg"}',
            '{"id": "b", "text": "好", "label": "positive", "images": ["images/b1.jpg", "../b2.png"]}',
            '{"id": "c", "text": "好", "label": "positive", "image": "c0.jpg", "images": ["c1.jpg"]}',
            '{"id": "d", "text": "好", "label": "positive"}',
        ],
    )
    a, b, c, d = load_jsonl(path).records
    base = folder.resolve()
    assert a.images == (base / "images" / "a.jpg",)
    assert a.image == base / "images" / "a.jpg"
    assert b.images == (base / "images" / "b1.jpg", tmp_path.resolve() / "b2.png")
    assert c.images == (base / "c0.jpg", base / "c1.jpg")
    assert d.images == () and d.image is None
    assert all(p.is_absolute() for r in (a, b, c) for p in r.images)


def test_record_with_image_but_no_text_is_accepted(tmp_path):
    path = _write_lines(tmp_path, ['{"id": "a", "image": "a.jpg", "label": "positive"}'])
    (record,) = load_jsonl(path, labels=LABELS).records
    assert record.text is None
    assert record.image == (tmp_path / "a.jpg").resolve()


def test_write_then_load_round_trip(tmp_path):
    folder = tmp_path / "out"
    records = [
        Record(id="1", text="这部 电影 很 好看", label="positive", meta={"user": "u", "n": 2}),
        Record(id="2", text='引号 " 反斜杠 \\ 换行\n制表\t', label="negative"),
        Record(id="3", text=None, label="positive", images=((folder / "img" / "3.jpg").resolve(),)),
        Record(
            id="4",
            text="两张图",
            label=None,
            images=((folder / "4a.jpg").resolve(), (tmp_path / "elsewhere" / "4b.jpg").resolve()),
        ),
    ]
    path = folder / "round.jsonl"
    write_jsonl(records, path)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(records)
    assert json.loads(lines[2])["image"] == "img/3.jpg"  # relative to the file's folder
    loaded = load_jsonl(path, require_label=False).records
    assert loaded == records
    assert [r.meta for r in loaded] == [r.meta for r in records]


def test_missing_file_error(tmp_path):
    path = tmp_path / "missing.jsonl"
    with pytest.raises(DataError, match="not found") as info:
        load_jsonl(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("blank", ["", "   ", "\t\r", "\u3000"])
def test_blank_lines_are_skipped_anywhere_trailing_ones_too(tmp_path, blank):
    path = _write_lines(tmp_path, [blank, GOOD, blank, '{"id": "g2", "text": "y", "label": "negative"}', blank, blank])
    for skip_invalid in (False, True):
        data = load_jsonl(path, labels=LABELS, skip_invalid=skip_invalid)
        assert [(r.id, r.line) for r in data.records] == [("g1", 2), ("g2", 4)] and data.skipped == []


def test_malformed_json_column_ignores_the_line_ending(tmp_path):
    for ending in ("\n", "\r\n"):
        path = tmp_path / "data.jsonl"
        path.write_text(GOOD + ending + '{"id": "b", "text": ' + ending, encoding="utf-8", newline="")
        with pytest.raises(DataError) as info:
            load_jsonl(path)
        assert str(info.value) == f"{path}:2: malformed JSON: Expecting value (column 21)"


def test_a_folder_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="is a folder") as info:
        load_jsonl(tmp_path)
    assert str(tmp_path) in str(info.value)
    with pytest.raises(DataError, match="is a folder"):
        write_jsonl([Record("a", "x", None)], tmp_path)
