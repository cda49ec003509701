"""cinesense evaluate: records the model cannot score (unreadable images, no text for a text model,
no image for an image model, unknown labels) are errors naming file and line, or skipped and counted;
folders given for files are clear errors in every command."""

from __future__ import annotations

import json

import pytest
from helpers import tiny_sticker, tiny_texts

from cinesense import Classifier
from cinesense.cli import main
from cinesense.config import load_config
from cinesense.data.schema import DataError, Record
from cinesense.evaluate.scoring import evaluate


@pytest.fixture(scope="module")
def fused_model(tiny_text_model, tiny_image_model, tmp_path_factory):
    """A late-fusion model over the two tiny branches (fitted in a second)."""
    root = tmp_path_factory.mktemp("tiny-fused")
    text, image = Classifier.load(tiny_text_model), Classifier.load(tiny_image_model)
    stickers = [tiny_sticker(root / "red.png", (220, 60, 40)), tiny_sticker(root / "blue.png", (40, 60, 220))]
    records = [Record(f"f{i}", t, label, (stickers[i % 2],) if i % 3 else ()) for i, (t, label) in enumerate(tiny_texts(24, seed=3))]
    overrides = ['modality="fused"', "image_model.input_size=64", "image_model.attention_dim=8", 'image_model.weights="random"',
                 f'image_model.feature_cache="{root / "cache"}"', "image_model.feature_scale=1.0", 'fusion.method="late"',
                 'fusion.late_fit="train"', "fusion.late_epochs=3", "train.threads=1"]
    fused = Classifier(load_config(None, overrides)).fit(records, branches={"text": text, "image": image}, progress=False)
    return fused.save(root / "model")


def _write(path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


@pytest.fixture
def with_broken_image(tmp_path):
    tiny_sticker(tmp_path / "red.png", (220, 60, 40))
    (tmp_path / "broken.png").write_bytes(b"\x89PNG broken")
    data = tmp_path / "test.jsonl"
    _write(data, [
        {"id": "a", "text": "好看 精彩", "label": "positive", "image": "red.png"},
        {"id": "b", "text": "难看 无聊", "label": "negative", "images": ["red.png", "broken.png"]},
        {"id": "c", "text": "喜欢", "label": "positive"},
        {"id": "d", "text": "失望", "label": "negative", "image": "broken.png"},
    ])
    return data


def test_unreadable_image_of_a_fused_model_stops_naming_file_line_and_image(fused_model, with_broken_image, tmp_path, capsys):
    out = tmp_path / "eval.json"
    assert main(["evaluate", "--model", str(fused_model), "--data", str(with_broken_image), "--json", str(out)]) == 2
    error = capsys.readouterr().err
    assert f"{with_broken_image}:2: image {with_broken_image.parent / 'broken.png'} cannot be read" in error
    assert "2 unreadable image(s) in 2 record(s)" in error and "--skip-invalid" in error
    assert not out.exists()


def test_skip_invalid_leaves_records_with_an_unreadable_image_out_and_says_so(fused_model, with_broken_image, tmp_path, capsys):
    out = tmp_path / "eval.json"
    args = ["evaluate", "--model", str(fused_model), "--data", str(with_broken_image), "--json", str(out), "--skip-invalid"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    metrics = json.loads(out.read_text(encoding="utf-8"))
    assert metrics["n"] == 2 and metrics["n_unreadable"] == 2 and metrics["n_unreadable_images"] == 2
    assert metrics["skipped"] == {"unreadable image": 2}
    assert [(u["line"], u["id"]) for u in metrics["unreadable"]] == [(2, "b"), (4, "d")]
    assert all(u["image"].endswith("broken.png") and u["reason"] for u in metrics["unreadable"])
    assert "left out" in metrics["unreadable_policy"]
    assert "skipped 2 record(s), left out of the metrics: unreadable image 2" in printed
    assert "2 record(s) with 2 unreadable image(s): records with an unreadable image are left out" in printed


def test_training_evaluation_scores_them_on_the_rest_and_counts_them(fused_model, with_broken_image):
    from cinesense.data.jsonl import load_jsonl

    classifier = Classifier.load(fused_model)
    metrics, proba = evaluate(classifier, load_jsonl(with_broken_image).records)  # the default: train_run's dev / test
    assert metrics["n"] == 4 and len(proba) == 4
    assert (metrics["n_unreadable"], metrics["n_unreadable_images"], metrics["skipped"]) == (2, 2, {})
    assert "scored on the rest" in metrics["unreadable_policy"]


def test_text_model_on_a_record_without_text(tiny_text_model, tmp_path, capsys):
    data = tmp_path / "mixed.jsonl"
    rows = [{"id": f"t{i}", "text": t, "label": label} for i, (t, label) in enumerate(tiny_texts(6, seed=1))]
    rows.insert(2, {"id": "img", "image": "x.png", "label": "positive"})
    _write(data, rows)
    assert main(["evaluate", "--model", str(tiny_text_model), "--data", str(data)]) == 2
    assert f"{data}:3: no text: this is a text model" in capsys.readouterr().err
    out = tmp_path / "eval.json"
    assert main(["evaluate", "--model", str(tiny_text_model), "--data", str(data), "--skip-invalid", "--json", str(out)]) == 0
    metrics = json.loads(out.read_text(encoding="utf-8"))
    assert metrics["n"] == 6 and metrics["skipped"] == {"no text (text model)": 1}


def test_image_model_on_a_record_without_image_and_an_unknown_label(tiny_image_model, tmp_path, capsys):
    tiny_sticker(tmp_path / "red.png", (220, 60, 40))
    tiny_sticker(tmp_path / "blue.png", (40, 60, 220))
    data = tmp_path / "images.jsonl"
    _write(data, [{"id": "r", "image": "red.png", "label": "positive"}, {"id": "t", "text": "no image", "label": "negative"},
                  {"id": "b", "image": "blue.png", "label": "negative"}, {"id": "n", "image": "red.png", "label": "neutral"}])
    assert main(["evaluate", "--model", str(tiny_image_model), "--data", str(data)]) == 2
    assert f"{data}:2: no image: this is an image model" in capsys.readouterr().err
    out = tmp_path / "eval.json"
    assert main(["evaluate", "--model", str(tiny_image_model), "--data", str(data), "--skip-invalid", "--json", str(out)]) == 0
    metrics = json.loads(out.read_text(encoding="utf-8"))
    assert metrics["n"] == 2
    assert metrics["skipped"] == {"no image (image model)": 1, "unknown label": 1}


def test_evaluate_names_the_record_when_it_was_not_read_from_a_file(tiny_text_model):
    classifier = Classifier.load(tiny_text_model)
    with pytest.raises(DataError, match=r"dev: record 'x': unknown label 'meh'"):
        evaluate(classifier, [Record("x", "好看", "meh")], source="dev")


@pytest.mark.parametrize("command", ["evaluate-data", "evaluate-json", "explain-data", "explain-out", "clean-data", "clean-out", "clean-report"])
def test_a_folder_where_a_file_is_expected_is_a_clear_error(tiny_text_model, tmp_path, capsys, command):
    folder = tmp_path / "folder"
    folder.mkdir()
    data = tmp_path / "data.jsonl"
    _write(data, [{"id": "a", "text": "好看", "label": "positive"}])
    model = str(tiny_text_model)
    args = {
        "evaluate-data": ["evaluate", "--model", model, "--data", str(folder)],
        "evaluate-json": ["evaluate", "--model", model, "--data", str(data), "--json", str(folder)],
        "explain-data": ["explain", "--model", model, "--data", str(folder), "--out", str(tmp_path / "p.html")],
        "explain-out": ["explain", "--model", model, "--data", str(data), "--out", str(folder)],
        "clean-data": ["clean", "--data", str(folder), "--out", str(tmp_path / "c.jsonl")],
        "clean-out": ["clean", "--data", str(data), "--out", str(folder)],
        "clean-report": ["clean", "--data", str(data), "--out", str(tmp_path / "c.jsonl"), "--report", str(folder)],
    }[command]
    assert main(args) == 2
    assert f"cinesense {args[0]}: error: {folder}: is a folder" in capsys.readouterr().err
    assert list(folder.iterdir()) == []


def test_clean_refuses_to_overwrite_its_input(tmp_path, capsys):
    data = tmp_path / "data.jsonl"
    _write(data, [{"id": "a", "text": "好看", "label": "positive"}])
    before = data.read_bytes()
    assert main(["clean", "--data", str(data), "--out", str(data)]) == 2
    assert "is the input file" in capsys.readouterr().err and data.read_bytes() == before


def test_any_other_os_error_names_the_path_without_a_traceback(tiny_text_model, tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("x", encoding="utf-8")
    data = tmp_path / "data.jsonl"
    _write(data, [{"id": "a", "text": "好看", "label": "positive"}])
    out = blocker / "page.html"  # a file where a folder should be
    assert main(["explain", "--model", str(tiny_text_model), "--data", str(data), "--out", str(out)]) == 2
    error = capsys.readouterr().err
    assert error.startswith("cinesense explain: error: ") and str(out) in error and "Traceback" not in error
    assert main(["clean", "--data", str(data), "--out", str(tmp_path / "c.jsonl"), "--blocklist", str(tmp_path)]) == 2
    assert f"cinesense clean: error: {tmp_path}: is a folder" in capsys.readouterr().err
