"""The image job (``cinesense reproduce`` on an image config) and the leave-one-style-out
cross-validation of the sticker model (``[style_cv]``), on tiny random-weight Att-VGG16s."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cinesense.classifier import Classifier
from cinesense.config import load_config
from cinesense.data.schema import Record
from cinesense.evaluate import style_cv as style_cv_module
from cinesense.evaluate.style_cv import StyleRecords, leave_one_style_out, style_cv, style_records
from cinesense.jobs.run import reproduce
from helpers import restoring_threads, tiny_image_model_toml, tiny_sticker

STYLES = ["flat", "pale", "dark"]
SHADE = {"flat": 0, "pale": 60, "dark": -30}


def _stickers(root, n: int, prefix: str) -> list[Record]:
    """``n`` stickers in each style: red ones positive, blue ones negative, the style a shade."""
    rng = np.random.default_rng(len(prefix))
    records = []
    for style in STYLES:
        for i in range(n):
            positive = i % 2 == 0
            base = np.array([220, 40, 40] if positive else [40, 40, 220]) + SHADE[style] + rng.integers(-15, 15, 3)
            path = tiny_sticker(root / f"{prefix}_{style}_{i}.png", tuple(int(c) for c in np.clip(base, 0, 255)), size=32)
            records.append(Record(id=f"{prefix}{style}{i}", text=None, label="positive" if positive else "negative",
                                  images=(path,), meta={"style": style, "emoji": f"e{i}"}))
    return records


@pytest.fixture(scope="module")
def stickers(tmp_path_factory):
    root = tmp_path_factory.mktemp("styles")
    return root, StyleRecords(_stickers(root, 6, "train"), _stickers(root, 2, "dev"), STYLES, ["symbola"])


def _config(root, *overrides: str):
    return load_config(None, ['modality="image"', "image_model.input_size=32", "image_model.attention_dim=8",
                              'image_model.weights="random"', f'image_model.feature_cache="{root / "cache"}"',
                              "image_model.feature_scale=1.0", "image_model.dropout=0.0", "train.epochs=6",
                              "train.learning_rate=0.01", "train.batch_size=8", "train.threads=1", *overrides])


def test_each_style_is_scored_by_a_model_that_never_saw_it(stickers, monkeypatch):
    root, records = stickers
    seen: list[tuple[set, set]] = []

    class Spy(Classifier):
        def fit(self, train, dev=None, **kwargs):
            seen.append(({r.meta["style"] for r in train}, {r.meta["style"] for r in dev or []}))
            return super().fit(train, dev, **kwargs)

    monkeypatch.setattr(style_cv_module, "Classifier", Spy)
    scores = restoring_threads(lambda: leave_one_style_out(_config(root), records.train, records.dev, STYLES))
    assert list(scores) == STYLES and all(0.0 <= s <= 1.0 for s in scores.values())
    assert seen == [(set(STYLES) - {s}, set(STYLES) - {s}) for s in STYLES]


def test_style_cv_runs_every_seed_and_summarises(stickers):
    root, records = stickers
    result = restoring_threads(lambda: style_cv(_config(root), records, seeds=2))
    assert result["styles"] == STYLES and len(result["runs"]) == 2 and all(len(run) == len(STYLES) + 1 for run in result["runs"])
    runs = np.array(result["runs"])
    assert np.allclose(result["mean"], runs.mean(axis=0)) and np.allclose(result["sd"], runs.std(axis=0))
    assert np.allclose(runs[:, -1], runs[:, :-1].mean(axis=1))
    assert result["train_images"] == len(records.train) and result["unavailable"] == ["symbola"]
    with pytest.raises(ValueError, match="style_cv.seeds"):
        style_cv(_config(root), records, seeds=0)


def test_an_unknown_style_is_refused_by_name():
    with pytest.raises(ValueError, match=r"style_cv.styles: unknown style\(s\) watercolour"):
        style_records(["negative", "positive"], 0, ["openmoji", "watercolour"])


def test_style_cv_seeds_must_not_be_negative():
    with pytest.raises(Exception, match="seeds"):
        load_config(None, ["style_cv.seeds=-1"])


def _image_config(root, *extra: str):
    lines = {}
    for part, records in (("train", _stickers(root, 6, "jtrain")), ("test", _stickers(root, 2, "jtest")), ("dev", _stickers(root, 2, "jdev"))):
        lines[part] = root / f"{part}.jsonl"
        lines[part].write_text("".join(json.dumps({"id": r.id, "image": r.image.name, "label": r.label}) + "\n" for r in records), encoding="utf-8")
    config = root / "image.toml"
    config.write_text(f"""name = "stickers"
modality = "image"
{chr(10).join(extra)}
[data]
train = "{lines['train']}"
dev = "{lines['dev']}"
test = "{lines['test']}"
{tiny_image_model_toml(root / 'cache')}[train]
epochs = 6
learning_rate = 0.01
batch_size = 8
threads = 1
""", encoding="utf-8")
    return load_config(config)


def test_reproduce_runs_the_image_job(tmp_path):
    out = tmp_path / "run"
    report = restoring_threads(lambda: reproduce(_image_config(tmp_path), out, progress=False)).read_text(encoding="utf-8")
    assert "Sticker polarity on the test split" in report and "| **Att-VGG16** (ours) |" in report and "| majority class |" in report
    assert "Leave-one-style-out" not in report and not (out / "style_cv.json").exists()
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert set(results) == {"majority class", "Att-VGG16"} and results["Att-VGG16"]["metrics"]["n"] == 6
    assert (out / "image_model" / "manifest.json").is_file() and (out / "figures" / "attention_0.png").is_file()
    model = Classifier.load(out / "image_model")
    assert model.modality_ == "image"


def test_the_image_job_reports_its_style_cross_validation(tmp_path, stickers, monkeypatch):
    _, records = stickers
    asked = []
    monkeypatch.setattr("cinesense.jobs.image.style_records", lambda labels, seed, styles: asked.append(styles) or records)
    out = tmp_path / "run"
    report = restoring_threads(lambda: reproduce(_image_config(tmp_path, "[style_cv]", "seeds = 1"), out, progress=False))
    text = report.read_text(encoding="utf-8")
    assert "Leave-one-style-out" in text and "| system | flat | pale | dark | mean |" in text and "Styles not installed: symbola" in text
    saved = json.loads((out / "style_cv.json").read_text(encoding="utf-8"))
    assert saved["styles"] == STYLES and len(saved["runs"]) == 1 and asked == [[]]
