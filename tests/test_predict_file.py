"""predict-file: streaming batch prediction, resume after an interruption, bad lines."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import tiny_sticker, tiny_texts

from cinesense import Classifier
from cinesense.cli import main
from cinesense.data.schema import DataError
from cinesense.predict_file import predict_file, resume_point


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
    out.write_text(json.dumps({"line": 3, "id": "other", "label": "positive", "probabilities": {}}) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match="not written for this input"):
        predict_file(classifier, comments, out, progress=False)
    out.write_text("some notes\n", encoding="utf-8")
    with pytest.raises(DataError, match="not a predict-file output line"):
        predict_file(classifier, comments, out, progress=False)


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
