"""Tests of cinesense.text.model: AttBiLSTM shapes, padding invariance, frozen embeddings, collate."""

from __future__ import annotations

import pytest
import torch

from cinesense.text.model import AttBiLSTM, AttBiLSTMConfig, collate_token_ids

VOCAB, EMB, HIDDEN = 20, 8, 6


def _model(num_classes: int = 2, **overrides) -> AttBiLSTM:
    torch.manual_seed(0)
    config = AttBiLSTMConfig(
        vocab_size=VOCAB, embedding_dim=EMB, num_classes=num_classes, hidden_size=HIDDEN, attention_dim=5, **overrides
    )
    return AttBiLSTM(config)


BATCH = [[2, 3, 4, 5, 6], [7, 8], [9, 10, 11]]


@pytest.mark.parametrize("num_classes", [2, 3])
def test_logits_shape(num_classes):
    model = _model(num_classes).eval()
    logits = model(**collate_token_ids(BATCH))
    assert logits.shape == (len(BATCH), num_classes)
    assert torch.isfinite(logits).all()
    features, weights = model.forward_features(**collate_token_ids(BATCH))
    assert features.shape == (len(BATCH), model.feature_dim) == (3, 2 * HIDDEN)
    assert weights.shape == (3, 5)


def test_attention_weights_respect_lengths():
    model = _model().eval()
    _, weights = model.forward_features(**collate_token_ids(BATCH))
    torch.testing.assert_close(weights.sum(dim=-1), torch.ones(3))
    assert (weights[1, 2:] == 0).all() and (weights[2, 3:] == 0).all()


def test_padding_invariance_in_eval_mode():
    model = _model(num_classes=3).eval()
    short = [4, 5, 6]
    alone = model(**collate_token_ids([short]))
    with_longer = model(**collate_token_ids([list(range(2, 14)), short]))[1:]
    # the longer sequence first or last: order does not matter either
    with_longer_after = model(**collate_token_ids([short, list(range(2, 19))]))[:1]
    torch.testing.assert_close(with_longer, alone, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(with_longer_after, alone, rtol=1e-5, atol=1e-6)


def test_eval_mode_is_deterministic_and_train_mode_uses_dropout():
    model = _model(dropout=0.5)
    inputs = collate_token_ids(BATCH)
    model.eval()
    torch.testing.assert_close(model(**inputs), model(**inputs), rtol=0, atol=0)
    model.train()
    torch.manual_seed(1)
    first = model(**inputs)
    assert not torch.equal(first, model(**inputs))


def test_frozen_embeddings_get_no_grad():
    model = _model(freeze_embeddings=True)
    assert not model.embedding.weight.requires_grad
    loss = model(**collate_token_ids(BATCH)).sum()
    loss.backward()
    assert model.embedding.weight.grad is None
    assert model.head.weight.grad is not None
    assert all(p.grad is not None for p in model.lstm.parameters())


def test_trainable_embeddings_get_grad_but_padding_row_does_not():
    model = _model()
    model(**collate_token_ids(BATCH)).sum().backward()
    grad = model.embedding.weight.grad
    assert grad is not None and grad[2:12].abs().sum() > 0
    assert (grad[0] == 0).all()  # padding_idx


def test_no_nans_with_extreme_inputs():
    model = _model()
    with torch.no_grad():
        model.embedding.weight.mul_(1e3)
    model.eval()
    batch = [[VOCAB - 1] * 30, [1], [2, 0, 3]]
    logits = model(**collate_token_ids(batch))
    assert torch.isfinite(logits).all()


def test_load_embeddings():
    model = _model()
    matrix = torch.arange(VOCAB * EMB, dtype=torch.float32).reshape(VOCAB, EMB)
    model.load_embeddings(matrix)
    torch.testing.assert_close(model.embedding.weight.detach(), matrix)
    with pytest.raises(ValueError, match="shape"):
        model.load_embeddings(torch.zeros(VOCAB + 1, EMB))


def test_config_round_trip():
    model = _model(num_classes=3)
    assert AttBiLSTMConfig(**model.config.to_dict()) == model.config


def test_collate_token_ids_shapes():
    batch = collate_token_ids(BATCH)
    assert batch["token_ids"].shape == (3, 5)
    assert batch["token_ids"].dtype == torch.long
    assert batch["lengths"].tolist() == [5, 2, 3]
    assert batch["token_ids"][1].tolist() == [7, 8, 0, 0, 0]
    assert batch["token_ids"][0].tolist() == BATCH[0]


def test_collate_empty_batch():
    batch = collate_token_ids([])
    assert batch["token_ids"].shape == (0, 0)
    assert batch["lengths"].shape == (0,)


def test_length_zero_sequence_in_a_batch_does_not_crash():
    model = _model().eval()
    batch = collate_token_ids([[], [2, 3]])
    assert batch["lengths"].tolist() == [0, 2]
    logits = model(**batch)
    assert logits.shape == (2, 2) and torch.isfinite(logits).all()
    _, weights = model.forward_features(**batch)
    torch.testing.assert_close(weights.sum(dim=-1), torch.ones(2))


def test_batch_of_only_empty_sequences_does_not_crash():
    model = _model().eval()
    logits = model(**collate_token_ids([[]]))
    assert logits.shape == (1, 2) and torch.isfinite(logits).all()


# ---------------------------------------------------------------- the n-gram bag (text_model.ngram_dim)
def test_ngram_bag_widens_features_and_keeps_padding_invariance():
    model = _model(num_classes=3, ngram_dim=4, ngram_buckets=31).eval()
    features, _ = model.forward_features(**collate_token_ids(BATCH))
    assert features.shape == (3, model.feature_dim) == (3, 2 * HIDDEN + 4)
    short = [4, 5, 6]
    alone = model(**collate_token_ids([short]))
    padded = model(**collate_token_ids([list(range(2, 14)), short]))[1:]
    torch.testing.assert_close(padded, alone, rtol=1e-5, atol=1e-6)


def test_ngram_ids_hash_bigrams_after_the_vocabulary_and_pad_with_row_zero():
    model = _model(ngram_dim=4, ngram_buckets=31)
    inputs = collate_token_ids([[2, 3, 4], [5]])
    mask = torch.arange(3).unsqueeze(0) < inputs["lengths"].unsqueeze(1)
    ids = model.ngram_ids(inputs["token_ids"], mask)
    assert ids.shape == (2, 5)
    assert ids[0, :3].tolist() == [2, 3, 4] and ids[1, :3].tolist() == [5, 0, 0]
    assert all(VOCAB <= i < VOCAB + 31 for i in ids[0, 3:].tolist())  # the two bigrams of the first text
    assert ids[1, 3:].tolist() == [0, 0]  # a one-word text has no bigram
    assert ids[0, 3] != ids[0, 4]  # (2, 3) and (3, 4) fall in different buckets here


def test_ngram_bag_reads_word_order_pairs_and_its_padding_row_gets_no_grad():
    model = _model(ngram_dim=4, ngram_buckets=31).eval()
    forward, _ = model.forward_features(**collate_token_ids([[2, 3, 4]]))
    backward, _ = model.forward_features(**collate_token_ids([[4, 3, 2]]))
    assert not torch.allclose(forward[0, 2 * HIDDEN :], backward[0, 2 * HIDDEN :])  # other bigrams, same words
    model(**collate_token_ids(BATCH)).sum().backward()
    assert model.ngrams.weight.grad[0].abs().sum() == 0 and model.ngrams.weight.grad[2].abs().sum() > 0


def test_ngram_model_saves_and_loads_through_the_classifier(tmp_path):
    import numpy as np

    from cinesense import Classifier
    from cinesense.config import load_config
    from cinesense.data.schema import Record
    from helpers import restoring_threads, tiny_texts

    overrides = ["seed=0", "word2vec.vector_size=8", "word2vec.min_count=1", "word2vec.epochs=2", "text_model.hidden_size=4",
                 "text_model.attention_dim=4", "text_model.ngram_dim=3", "text_model.ngram_buckets=64",
                 "train.epochs=2", "train.batch_size=8", "train.threads=1"]
    records = [Record(id=f"r{i}", text=text, label=label) for i, (text, label) in enumerate(tiny_texts(30, sep=" "))]
    classifier = restoring_threads(lambda: Classifier(load_config(None, overrides)).fit(records, progress=False))
    assert classifier.model_.config.ngram_dim == 3 and classifier.model_.ngrams.weight.shape[0] == len(classifier.text_.vocabulary) + 64
    loaded = Classifier.load(classifier.save(tmp_path / "model"))
    texts = ["好看 电影", "无聊 透顶 电影"]
    np.testing.assert_allclose(loaded.predict_proba(texts), classifier.predict_proba(texts), rtol=1e-6, atol=1e-7)
    explanation = loaded.explain("无聊 透顶 电影")
    assert explanation.tokens == ["无聊", "透顶", "电影"]
    expected = loaded.predict_proba(["无聊 透顶 电影"])[0]
    np.testing.assert_allclose([explanation.probabilities[c] for c in loaded.classes_], expected, rtol=1e-6, atol=1e-7)


def test_ngram_settings_are_checked():
    from cinesense.config import ConfigError, load_config

    for bad in ("text_model.ngram_dim=-1", "text_model.ngram_buckets=0"):
        with pytest.raises(ConfigError, match="ngram"):
            load_config(None, [bad])


# ---------------------------------------------------------------- short-span augmentation (text_model.span_copies)
def test_spans_are_seeded_contiguous_pieces_of_longer_texts_with_their_label():
    import numpy as np

    from cinesense.text.branch import with_spans

    examples, labels = [list(range(2, 22)), [3, 4, 5], list(range(30, 42))], [1, 0, 0]
    augmented, targets = with_spans((examples, labels), 3, 6, seed=7)
    assert augmented[:3] == examples and targets[:3] == labels
    assert len(augmented) == 3 + 2 * 3  # the 3-token text is short enough already
    for span, label in zip(augmented[3:], targets[3:]):
        parent = examples[0] if span[0] < 30 else examples[2]
        assert 2 <= len(span) <= 6 and label == labels[examples.index(parent)]
        start = parent.index(span[0])
        assert parent[start : start + len(span)] == span
    assert with_spans((examples, labels), 3, 6, seed=7) == (augmented, targets)
    assert with_spans((examples, labels), 3, 6, seed=8)[0] != augmented
    soft = np.array([[0.2, 0.8], [0.9, 0.1], [0.6, 0.4]])
    _, soft_targets = with_spans((examples, soft), 3, 6, seed=7)
    assert soft_targets.shape == (9, 2) and np.array_equal(soft_targets[3:6], np.repeat(soft[:1], 3, axis=0))


def test_span_settings_are_training_only():
    from cinesense.config import TextModelConfig

    config = AttBiLSTMConfig.from_config(TextModelConfig(span_copies=2), vocab_size=5, embedding_dim=4, num_classes=2)
    assert "span_copies" not in config.to_dict()
