"""predict-file: streaming batch prediction, resume after an interruption, bad lines."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import tiny_sticker, tiny_texts

from cinesense import Classifier
from cinesense.cli import main
from cinesense.data.schema import DataError
from cinesense.predict_file import meta_path, predict_file, resume_point


@pytest.fixture(scope="module")
def classifier(tiny_text_model):
    return Classifier.load(tiny_text_model)


@pytest.fixture
def comments(tmp_path):
    path = tmp_path / "comments.jsonl"
    lines = [json.dumps({"id": f"c{i}", "text": text, "label": label}, ensure_ascii=False) for i, (text, label) in enumerate(tiny_texts(23, seed=5))]
    lines.insert(5, "")  # a blank line is skipped, not answered
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def read(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_every_comment_gets_id_label_and_probabilities(classifier, comments, tmp_path):
    out = tmp_path / "out" / "predictions.jsonl"
    result = predict_file(classifier, comments, out, batch_size=4, progress=False)
    assert (result.predicted, result.resumed_after_line, result.errors) == (23, 0, 0)
    rows = read(out)
    texts = [t for t, _ in tiny_texts(23, seed=5)]
    assert [r["id"] for r in rows] == [f"c{i}" for i in range(23)]
    assert [r["line"] for r in rows] == [*range(1, 6), *range(7, 25)]
    expected = classifier.predict_proba(texts)
    np.testing.assert_allclose([list(r["probabilities"].values()) for r in rows], expected, atol=1e-6)
    assert [r["label"] for r in rows] == classifier.predict(texts)
    assert list(rows[0]["probabilities"]) == classifier.classes_


class Interrupted(Exception):
    pass


class StopsAfter:
    """The classifier, interrupted (like Ctrl+C or a kill) at its ``calls``-th prediction."""

    def __init__(self, classifier, calls: int) -> None:
        self.classifier, self.calls = classifier, calls
        self.modality_, self.classes_ = classifier.modality_, classifier.classes_
        self.manifest_, self.text_ = classifier.manifest_, classifier.text_  # the same model: the same fingerprint

    def predict_proba(self, **inputs):
        self.calls -= 1
        if self.calls == 0:
            raise Interrupted
        return self.classifier.predict_proba(**inputs)


def test_resume_after_an_interruption_and_a_torn_line(classifier, comments, tmp_path):
    whole = tmp_path / "whole.jsonl"
    predict_file(classifier, comments, whole, batch_size=4, progress=False)
    out = tmp_path / "predictions.jsonl"
    with pytest.raises(Interrupted):
        predict_file(StopsAfter(classifier, 3), comments, out, batch_size=4, progress=False)
    assert len(read(out)) == 8  # two whole batches are on disk
    with open(out, "ab") as handle:
        handle.write(b'{"line": 10, "id": "c9", "lab')  # killed in the middle of a write
    assert resume_point(out) == (9, "c7")  # the torn line is cut off
    assert read(out) == read(whole)[:8]
    result = predict_file(classifier, comments, out, batch_size=4, progress=False)
    assert (result.predicted, result.resumed_after_line) == (15, 9)
    assert out.read_bytes() == whole.read_bytes()
    again = predict_file(classifier, comments, out, batch_size=4, progress=False)  # complete: nothing to do
    assert again.predicted == 0 and out.read_bytes() == whole.read_bytes()


def test_output_of_another_input_is_refused(classifier, comments, tmp_path):
    out = tmp_path / "predictions.jsonl"
    predict_file(classifier, comments, out, batch_size=4, progress=False)
    other = tmp_path / "other.jsonl"
    other.write_bytes(comments.read_bytes().replace(b'"c3"', b'"other"'))
    before = out.read_bytes()
    with pytest.raises(DataError, match="written for another input") as info:
        predict_file(classifier, other, out, progress=False)
    assert str(out) in str(info.value) and str(other) in str(info.value)
    assert out.read_bytes() == before
    with open(comments, "ab") as handle:  # a grown input is another input too
        handle.write(b'{"id": "new", "text": "\xe5\xa5\xbd\xe7\x9c\x8b"}\n')
    with pytest.raises(DataError, match="written for another input"):
        predict_file(classifier, comments, out, progress=False)
    assert out.read_bytes() == before


def test_a_moved_copy_of_the_input_continues(classifier, comments, tmp_path):
    out = tmp_path / "predictions.jsonl"
    predict_file(classifier, comments, out, batch_size=4, progress=False)
    whole = out.read_bytes()
    out.write_bytes(b"".join(whole.splitlines(keepends=True)[:8]))  # two whole batches
    copy = tmp_path / "elsewhere" / "renamed.jsonl"
    copy.parent.mkdir()
    copy.write_bytes(comments.read_bytes())
    assert predict_file(classifier, copy, out, batch_size=4, progress=False).resumed_after_line == 9
    assert out.read_bytes() == whole


def test_a_file_that_is_not_predict_file_output_is_never_modified(classifier, comments, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_bytes(b"first note\nlast note, no newline")  # the unterminated last line used to be cut off
    with pytest.raises(DataError, match="not known to be predict-file output") as info:
        predict_file(classifier, comments, notes, progress=False)
    assert str(notes) in str(info.value)
    assert notes.read_bytes() == b"first note\nlast note, no newline"
    assert not meta_path(notes).exists()
    with pytest.raises(DataError, match="not known to be predict-file output"):
        resume_point(notes)
    assert notes.read_bytes() == b"first note\nlast note, no newline"


def test_a_verified_output_whose_lines_are_not_output_lines_is_left_alone(classifier, comments, tmp_path):
    out = tmp_path / "predictions.jsonl"
    predict_file(classifier, comments, out, batch_size=4, progress=False)
    out.write_bytes(b"some notes\nmore notes")
    with pytest.raises(DataError, match="not a predict-file output line"):
        predict_file(classifier, comments, out, progress=False)
    assert out.read_bytes() == b"some notes\nmore notes"
    good = json.dumps({"line": 1, "id": "c0", "label": "positive", "probabilities": {}}).encode() + b"\n"
    out.write_bytes(good + b"appended by hand")
    with pytest.raises(DataError, match="unfinished last line is not the start"):
        predict_file(classifier, comments, out, progress=False)
    assert out.read_bytes() == good + b"appended by hand"


def test_a_sidecar_that_is_not_ours_is_not_overwritten(classifier, comments, tmp_path):
    out = tmp_path / "predictions.jsonl"
    meta_path(out).write_text("my own notes\n", encoding="utf-8")
    with pytest.raises(DataError, match="not a predict-file record"):
        predict_file(classifier, comments, out, progress=False)
    assert meta_path(out).read_text(encoding="utf-8") == "my own notes\n" and not out.exists()


@pytest.mark.parametrize("link", ["same", "symlink", "hardlink"])
def test_out_that_is_the_input_is_refused(classifier, tmp_path, link):
    data = tmp_path / "in.jsonl"
    data.write_bytes(b'{"id": "a", "text": "\xe5\xa5\xbd\xe7\x9c\x8b"}\n{"id": "b", "text": "\xe6\x97\xa0\xe8\x81\x8a"}')
    before = data.read_bytes()
    out = data
    if link == "symlink":
        out = tmp_path / "link.jsonl"
        out.symlink_to(data)
    elif link == "hardlink":
        out = tmp_path / "hard.jsonl"
        out.hardlink_to(data)
    with pytest.raises(DataError, match="is the input file"):
        predict_file(classifier, data, out, progress=False)
    assert data.read_bytes() == before  # record "b" (no final newline) is still there
    assert not meta_path(out).exists()


def test_output_of_another_model_is_refused(classifier, tiny_image_model, comments, tmp_path, capsys):
    out = tmp_path / "predictions.jsonl"
    predict_file(classifier, comments, out, batch_size=4, progress=False, model_name="text-model")
    meta = json.loads(meta_path(out).read_text(encoding="utf-8"))
    assert meta["model"]["path"] == "text-model" and meta["model"]["weights_sha256"] == classifier.manifest_["weights_sha256"]
    assert meta["input"]["sha256"] and meta["input"]["size"] == comments.stat().st_size
    whole = out.read_bytes()
    out.write_bytes(b"".join(whole.splitlines(keepends=True)[:6]))
    before = out.read_bytes()
    args = ["predict-file", "--model", str(tiny_image_model), "--data", str(comments), "--out", str(out), "--quiet"]
    assert main(args) == 2
    error = capsys.readouterr().err
    assert "written by another model (text-model" in error and str(tiny_image_model) in error and "mix two models" in error
    assert out.read_bytes() == before


def test_the_same_model_loaded_again_continues(classifier, tiny_text_model, comments, tmp_path):
    out = tmp_path / "predictions.jsonl"
    predict_file(classifier, comments, out, batch_size=4, progress=False)
    whole = out.read_bytes()
    out.write_bytes(b"".join(whole.splitlines(keepends=True)[:4]))  # one whole batch
    result = predict_file(Classifier.load(tiny_text_model), comments, out, batch_size=4, progress=False)
    assert result.resumed_after_line == 4 and out.read_bytes() == whole


def test_bad_lines_stop_the_run_or_become_error_lines(classifier, tmp_path):
    data = tmp_path / "bad.jsonl"
    data.write_text('{"id": "a", "text": "好看"}\n{"id": "b", "text": \n{"id": "c"}\n{"id": "d", "text": "无聊"}\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"bad.jsonl:2: malformed JSON"):
        predict_file(classifier, data, tmp_path / "stop.jsonl", progress=False)
    out = tmp_path / "skip.jsonl"
    result = predict_file(classifier, data, out, skip_invalid=True, progress=False)
    rows = read(out)
    assert (result.predicted, result.errors) == (2, 2)
    assert [r.get("error", "") for r in rows][1:3] == ["malformed JSON: Expecting value (column 21)", "missing field 'text' (and no 'image')"]
    assert rows[3]["id"] == "d" and "label" in rows[3]


def test_missing_input_is_a_clear_error(classifier, tmp_path):
    with pytest.raises(DataError, match="file not found"):
        predict_file(classifier, tmp_path / "none.jsonl", tmp_path / "out.jsonl", progress=False)


def test_folders_as_data_or_out_are_clear_errors(tiny_text_model, comments, tmp_path, capsys):
    folder = tmp_path / "folder"
    folder.mkdir()
    base = ["predict-file", "--model", str(tiny_text_model), "--quiet"]
    assert main([*base, "--data", str(folder), "--out", str(tmp_path / "o.jsonl")]) == 2
    assert f"error: {folder}: is a folder" in capsys.readouterr().err
    assert main([*base, "--data", str(comments), "--out", str(folder)]) == 2
    assert f"error: {folder}: is a folder" in capsys.readouterr().err
    assert list(folder.iterdir()) == []


def test_a_trailing_blank_line_and_a_bad_line_read_as_in_evaluate(classifier, tmp_path):
    from cinesense.data.jsonl import load_jsonl

    data = tmp_path / "d.jsonl"
    data.write_text('{"id": "a", "text": "好看", "label": "positive"}\n\n{"id": "b", "text": \r\n  \n', encoding="utf-8")
    with pytest.raises(DataError) as in_predict:
        predict_file(classifier, data, tmp_path / "p.jsonl", progress=False)
    with pytest.raises(DataError) as in_load:
        load_jsonl(data)
    assert str(in_predict.value) == str(in_load.value) == f"{data}:3: malformed JSON: Expecting value (column 21)"
    data.write_text('{"id": "a", "text": "好看", "label": "positive"}\n\n   \n', encoding="utf-8")  # blank lines, trailing ones too
    assert len(load_jsonl(data)) == 1
    assert predict_file(classifier, data, tmp_path / "q.jsonl", progress=False).predicted == 1


def test_image_model_skips_an_unreadable_image(tiny_image_model, tmp_path):
    classifier = Classifier.load(tiny_image_model)
    tiny_sticker(tmp_path / "red.png", (220, 60, 40))
    tiny_sticker(tmp_path / "blue.png", (40, 60, 220))
    (tmp_path / "broken.png").write_bytes(b"\x89PNG broken")
    rows = [{"id": "r", "image": "red.png", "text": "ignored by an image model"}, {"id": "x", "image": "broken.png"},
            {"id": "b", "image": "blue.png"}, {"id": "t", "text": "no image"}]
    data = tmp_path / "images.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    result = predict_file(classifier, data, tmp_path / "out.jsonl", skip_invalid=True, progress=False)
    out = read(tmp_path / "out.jsonl")
    assert (result.predicted, result.errors) == (2, 2)
    assert [r.get("label") for r in out] == ["positive", None, "negative", None]
    assert "broken.png" in out[1]["error"] and "image model" in out[3]["error"]


def test_cli_predict_file_continues_where_it_stopped(tiny_text_model, comments, tmp_path, capsys):
    out = tmp_path / "predictions.jsonl"
    args = ["predict-file", "--model", str(tiny_text_model), "--data", str(comments), "--out", str(out), "--quiet", "--batch-size", "5"]
    assert main(args) == 0
    whole = out.read_bytes()
    out.write_bytes(b"".join(whole.splitlines(keepends=True)[:7]))
    assert main(args) == 0
    assert "predicted 16 comments after line 8" in capsys.readouterr().out
    resumed, first = read(out), [json.loads(line) for line in whole.splitlines()]
    assert [(r["line"], r["id"], r["label"]) for r in resumed] == [(r["line"], r["id"], r["label"]) for r in first]
    np.testing.assert_allclose([list(r["probabilities"].values()) for r in resumed],
                               [list(r["probabilities"].values()) for r in first], atol=1e-6)
