"""The default model: Classifier.load("default") and the commands without --model."""

from __future__ import annotations

import json

import pytest
import torch

from cinesense import Classifier, default_model
from cinesense.cli import main
from cinesense.config import ConfigError, load_config
from cinesense.data.schema import Record
from helpers import tiny_texts

OVERRIDES = ["word2vec.vector_size=8", "word2vec.min_count=1", "text_model.hidden_size=8", "text_model.attention_dim=8",
             "train.epochs=2", "train.threads=1"]


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CINESENSE_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv(default_model.ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def saved(tmp_path):
    threads = torch.get_num_threads()
    records = [Record(id=f"d{i}", text=t, label=y) for i, (t, y) in enumerate(tiny_texts(20, 0, sep=" "))]
    clf = Classifier(load_config(None, OVERRIDES)).fit(records, progress=False)
    torch.set_num_threads(threads)
    return clf.save(tmp_path / "some" / "model")


def test_missing_default_model_says_how_to_build_it(cache, capsys):
    with pytest.raises(FileNotFoundError, match="make run"):
        Classifier.load("default")
    assert main(["predict", "这部电影太好看了"]) == 2
    assert "make run" in capsys.readouterr().err


def test_registered_model_is_the_default(cache, saved, capsys):
    pointer = default_model.register(saved)
    assert json.loads(pointer.read_text())["path"] == str(saved.resolve())
    assert Classifier.load("default").predict(["好看"]) == Classifier.load(saved).predict(["好看"])
    assert main(["predict", "好看"]) == 0
    assert capsys.readouterr().out.split("\t")[0] in ("positive", "negative")


def test_environment_variable_wins_and_is_checked(cache, saved, monkeypatch):
    monkeypatch.setenv(default_model.ENV, str(saved))
    assert Classifier.load("default").modality_ == "text"
    monkeypatch.setenv(default_model.ENV, str(cache / "nowhere"))
    with pytest.raises(FileNotFoundError, match="not a model directory"):
        Classifier.load("default")


def test_gone_or_corrupt_pointer(cache, saved):
    default_model.register(saved)
    default_model.pointer_path().write_text("{not json")
    with pytest.raises(FileNotFoundError, match="unreadable default-model pointer"):
        Classifier.load("default")
    default_model.pointer_path().write_text(json.dumps({"path": str(cache / "gone")}))
    with pytest.raises(FileNotFoundError, match="is gone"):
        Classifier.load("default")


def test_a_model_folder_named_default_is_loaded_as_a_folder(cache, saved):
    import shutil

    shutil.copytree(saved, cache / "default")
    assert Classifier.load("default").modality_ == "text"


def test_product_must_be_a_folder_name():
    with pytest.raises(ConfigError, match="product"):
        load_config(None, ["product=../x"])
