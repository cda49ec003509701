"""Tests of the Att-BiLSTM's lexicon channel (text_model.lexicon): the per-token features, the
vocabulary extended with lexicon words and emoticon codes, padding invariance, old bundles, and a
lexicon + FastText model saved and loaded through cinesense.Classifier."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from cinesense import Classifier
from cinesense.config import TextConfig, TextModelConfig, Word2VecConfig, load_config
from cinesense.data.schema import Record
from cinesense.text.branch import TextBranch
from cinesense.text.lexicon import FEATURES, lexicon_features, load_lexicon
from cinesense.text.model import AttBiLSTM, AttBiLSTMConfig, collate_token_ids
from helpers import restoring_threads, tiny_texts

POSITIVE, NEGATIVE, DENY, DEGREE, EMOTICON = (FEATURES.index(name) for name in FEATURES)
TEXTS = [text for text, _ in tiny_texts(20, sep=" ")]
W2V = Word2VecConfig(vector_size=8, min_count=1, epochs=2, workers=1)


@pytest.fixture(scope="module")
def branch() -> TextBranch:
    return TextBranch.build(TEXTS, TextConfig(), W2V, lexicon=True)


@pytest.fixture(scope="module")
def model(branch) -> AttBiLSTM:
    return branch.new_model(TextModelConfig(lexicon=True, hidden_size=4, attention_dim=4), num_classes=2)


def _row(branch: TextBranch, model: AttBiLSTM, token: str) -> list[float]:
    return model.lexicon_features[branch.vocabulary.stoi[token]].tolist()


def test_features_of_sentiment_deny_and_degree_words(branch):
    rows = lexicon_features(["好看", "难看", "不", "非常", "电影"], load_lexicon(), branch.name_words)
    assert rows.shape == (5, len(FEATURES)) and rows.dtype == np.float32
    assert rows[0, POSITIVE] == 1 and rows[0, NEGATIVE] == 0
    assert rows[1, NEGATIVE] == 1 and rows[1, POSITIVE] == 0
    assert rows[2, DENY] == 1
    assert 0 < rows[3, DEGREE] <= 1
    assert not rows[4].any()
    assert not rows[:, EMOTICON].any()


def test_known_positive_word_gets_its_flag_and_padding_stays_zero(branch, model):
    assert model.config.lexicon_dim == len(FEATURES)
    assert _row(branch, model, "好看")[POSITIVE] == 1
    assert _row(branch, model, "失望")[NEGATIVE] == 1
    assert not model.lexicon_features[:2].any()  # <pad>, <unk>
    assert not model.lexicon_features.requires_grad
    assert "lexicon_features" in model.state_dict()
    assert "lexicon_features" not in dict(model.named_parameters())


def test_lexicon_words_never_seen_in_training_are_in_the_vocabulary(branch, model):
    for word in ("高兴", "伤心", "糟糕"):
        assert word not in branch.vectors.key_to_index and word in branch.vocabulary
    assert _row(branch, model, "高兴")[POSITIVE] == 1 and _row(branch, model, "伤心")[NEGATIVE] == 1


def test_emoticon_code_unseen_in_training_gets_the_polarity_of_its_name(branch, model):
    assert "[流泪]" not in branch.vectors.key_to_index and "[流泪]" in branch.vocabulary  # a common code
    assert branch.name_words("[流泪]") == ["流泪"]
    assert _row(branch, model, "[流泪]")[NEGATIVE] == 1 and _row(branch, model, "[流泪]")[EMOTICON] == 1
    assert _row(branch, model, "[微笑]")[POSITIVE] == 1


def test_an_unknown_code_is_read_as_the_words_of_its_name(branch):
    assert "[好看哭了]" not in branch.vocabulary
    assert branch.read("电影 [好看哭了]") == ["电影", *branch.tokenizer.segment("好看哭了")]
    assert branch.words("[流泪]") == ["[流泪]"]  # a known code stays one token
    plain = TextBranch(branch.tokenizer, branch.vocabulary)  # without the channel: <unk>, as before
    assert plain.read("电影 [好看哭了]") == ["电影", "[好看哭了]"]


def test_unseen_words_start_from_their_characters():
    """Word2Vec kind: an unseen lexicon word's first vector is the mean of its known characters' vectors."""
    branch = TextBranch.build(TEXTS, TextConfig(), W2V, extra_texts=["高 兴 电影 精彩 好看"], lexicon=True)
    model = branch.new_model(TextModelConfig(lexicon=True), num_classes=2)
    weights, vectors = model.embedding.weight.detach().numpy(), branch.vectors
    assert "高兴" not in vectors.key_to_index
    np.testing.assert_allclose(weights[branch.vocabulary.stoi["高兴"]], (vectors["高"] + vectors["兴"]) / 2, rtol=1e-6)
    np.testing.assert_allclose(weights[branch.vocabulary.stoi["电影"]], vectors["电影"])


def _lexicon_model(**overrides) -> AttBiLSTM:
    torch.manual_seed(0)
    config = AttBiLSTMConfig(vocab_size=20, embedding_dim=6, num_classes=3, hidden_size=5, attention_dim=4, lexicon_dim=len(FEATURES), **overrides)
    model = AttBiLSTM(config)
    features = (torch.rand(20, len(FEATURES)) > 0.5).float()
    features[:2] = 0
    model.load_lexicon_features(features)
    return model


def test_padding_invariance_with_the_lexicon_channel():
    model = _lexicon_model().eval()
    short = [4, 5, 6]
    alone = model(**collate_token_ids([short]))
    with_longer = model(**collate_token_ids([list(range(2, 14)), short]))[1:]
    with_longer_after = model(**collate_token_ids([short, list(range(2, 19))]))[:1]
    torch.testing.assert_close(with_longer, alone, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(with_longer_after, alone, rtol=1e-5, atol=1e-6)


def test_word_dropout_keeps_the_lexicon_row():
    model = _lexicon_model(token_dropout=0.99, dropout=0.0).train()
    seen = []
    model.lstm.register_forward_hook(lambda module, args, output: seen.append(args[0]))
    ids = torch.tensor([[2, 3, 4, 5]])
    torch.manual_seed(0)
    model(ids, torch.tensor([4]))
    (inputs,) = seen
    torch.testing.assert_close(inputs[0, :, 6:], model.lexicon_features[ids[0]])  # the tokens' own rows
    assert torch.equal(inputs[0, :, :6], model.embedding.weight[1].expand(4, 6))  # all four words dropped to <unk>


def test_lexicon_features_are_checked():
    model = _lexicon_model()
    with pytest.raises(ValueError, match="shape"):
        model.load_lexicon_features(torch.zeros(20, 2))
    with pytest.raises(ValueError, match="rows 0 and 1"):
        model.load_lexicon_features(torch.ones(20, len(FEATURES)))
    plain = AttBiLSTM(AttBiLSTMConfig(vocab_size=20, embedding_dim=6, num_classes=2))
    with pytest.raises(ValueError, match="lexicon channel"):
        plain.load_lexicon_features(torch.zeros(20, len(FEATURES)))


def test_lexicon_off_is_the_old_model():
    config = AttBiLSTMConfig.from_config(TextModelConfig(), vocab_size=20, embedding_dim=6, num_classes=2)
    assert config.lexicon_dim == 0
    old = {k: v for k, v in config.to_dict().items() if k != "lexicon_dim"}  # a bundle written before the channel
    assert AttBiLSTMConfig(**old) == config
    torch.manual_seed(0)
    model = AttBiLSTM(config)
    assert "lexicon_features" not in model.state_dict() and model.lstm.input_size == 6


def test_old_bundle_without_the_new_fields_loads_and_predicts_the_same(tiny_text_model, tmp_path):
    directory = shutil.copytree(tiny_text_model, tmp_path / "model")
    manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["model"].pop("lexicon_dim") == 0 and "unknown_codes" not in manifest["vocabulary"]
    (directory / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    texts = ["好看 电影", "无聊 [流泪]"]
    old, new = Classifier.load(directory), Classifier.load(tiny_text_model)
    np.testing.assert_array_equal(old.predict_proba(texts), new.predict_proba(texts))
    assert old.explain("无聊 [流泪]").tokens == ["无聊", "[流泪]"]


def test_lexicon_and_fasttext_model_saves_and_loads_through_the_classifier(tmp_path):
    overrides = [
        "seed=0", "word2vec.kind=fasttext", "word2vec.bucket=5000", "word2vec.vector_size=16", "word2vec.min_count=1",
        "word2vec.epochs=5", "text_model.lexicon=true", "text_model.hidden_size=8", "text_model.attention_dim=8",
        "text_model.token_dropout=0.2", "train.epochs=3", "train.batch_size=8", "train.threads=1",
    ]
    records = [Record(id=f"r{i}", text=text, label=label) for i, (text, label) in enumerate(tiny_texts(40, sep=" "))]
    classifier = restoring_threads(lambda: Classifier(load_config(None, overrides)).fit(records, progress=False))
    assert classifier.model_.config.lexicon_dim == len(FEATURES)
    vocabulary = classifier.text_.vocabulary
    assert "[微笑]" in vocabulary and "高兴" in vocabulary
    directory = classifier.save(tmp_path / "model")
    manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["vocabulary"]["unknown_codes"] == "name"
    loaded = Classifier.load(directory)
    texts = ["好看 电影 [微笑]", "无聊 [快哭了]", "[太失望了]"]
    np.testing.assert_allclose(loaded.predict_proba(texts), classifier.predict_proba(texts), rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(loaded.model_.lexicon_features, classifier.model_.lexicon_features)
    assert loaded.text_.code_words and loaded.explain("[太失望了]").tokens == ["太", "失望", "了"]


# ---------------------------------------------------------------- lexicon words as training examples (text_model.lexicon_examples)
def test_lexicon_examples_are_known_one_word_texts_labelled_by_polarity(branch):
    lexicon, classes = load_lexicon(), ["negative", "positive"]
    examples, targets = branch.lexicon_examples(40, classes, seed=3)
    assert len(examples) == len(targets) == 40 and targets.count(1) == targets.count(0) == 20
    for ids, target in zip(examples, targets):
        (word_id,) = ids
        word = branch.vocabulary.itos[word_id]
        assert word_id > 1  # neither padding nor <unk>
        assert word in (lexicon.positive if classes[target] == "positive" else lexicon.negative)
    assert branch.lexicon_examples(40, classes, seed=3) == (examples, targets)
    assert branch.lexicon_examples(40, classes, seed=4)[0] != examples
    assert branch.lexicon_examples(40, ["positive", "negative"], seed=3)[1] == [1 - t for t in targets]


def test_lexicon_examples_without_the_channel_use_only_words_the_vectors_know():
    plain = TextBranch.build(TEXTS + ["精彩 好看 无聊 难看"] * 3, TextConfig(), W2V)
    examples, targets = plain.lexicon_examples(10_000, ["negative", "positive"], seed=0)
    words = {plain.vocabulary.itos[ids[0]] for ids in examples}
    assert {"精彩", "好看", "无聊", "难看"} <= words
    assert all(w in plain.vectors.key_to_index for w in words)


def test_lexicon_examples_need_a_positive_and_a_negative_label(branch):
    with pytest.raises(ValueError, match="lexicon_examples needs the labels"):
        branch.lexicon_examples(10, ["pos", "neg"], seed=0)


def test_lexicon_words_follow_the_training_examples_with_their_targets():
    from cinesense.text.branch import with_lexicon_words

    words = ([[7], [9]], [1, 0])
    assert with_lexicon_words(([[2, 3], [4]], [0, 1]), words) == ([[2, 3], [4], [7], [9]], [0, 1, 1, 0])
    soft = np.array([[0.3, 0.7], [0.6, 0.4]], dtype=np.float32)
    examples, targets = with_lexicon_words(([[2, 3], [4]], soft), words)
    assert examples[2:] == [[7], [9]] and np.array_equal(targets[2:], [[0, 1], [1, 0]]) and targets.dtype == np.float32


def test_lexicon_examples_are_training_only_and_train_a_model(tmp_path):
    config = load_config("configs/smoke.toml", ["text_model.lexicon_examples=50", "text_model.lexicon=true"])
    assert "lexicon_examples" not in AttBiLSTMConfig.from_config(config.text_model, vocab_size=5, embedding_dim=4, num_classes=2).to_dict()
    train = [Record(id=str(i), text=t, label=lab) for i, (t, lab) in enumerate(tiny_texts(40, sep=" "))]
    clf = restoring_threads(lambda: Classifier(config).fit(train, train[:10], progress=False))
    clf.save(tmp_path / "m")
    again = Classifier.load(tmp_path / "m")
    assert np.allclose(again.predict_proba(["好看"]), clf.predict_proba(["好看"]))
    plain = load_config("configs/smoke.toml", ["text_model.lexicon=true"])
    without = restoring_threads(lambda: Classifier(plain).fit(train, train[:10], progress=False))
    assert not np.allclose(without.predict_proba(["好看", "难看"]), clf.predict_proba(["好看", "难看"]))  # the words were trained on
