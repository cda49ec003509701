"""The "distilled" kind's adapter (:mod:`cinesense.adapter`): the fast path that carries the
pretrained encoder's knowledge. An Att-BiLSTM over Word2Vec, exactly the "text" kind at inference
(same bundle files, same speed, no encoder needed), trained on the soft targets of an E5 teacher
(the "encoder" kind, :mod:`cinesense.text.encoder_branch`) that ``Classifier.fit`` trains first on
the same split (``branch_kinds``):

* each training text's target is ``(1 - distill.weight) * its label + distill.weight * the
  teacher's probabilities``;
* ``distill.unlabelled`` texts drawn (seeded by ``distill.seed``) from the extra corpora
  (``data.extra_corpora``, unlabelled text: the words the student must learn beyond its training
  reviews), training texts left out, join with the teacher's probabilities alone.

Selection on dev reads dev's labels, as for every other kind. The manifest's ``distill`` section
records the teacher and what it was given."""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cinesense import distributed
from cinesense.config import ExperimentConfig
from cinesense.data.schema import Record
from cinesense.progress import say
from cinesense.text.branch import TextBranch, record_texts
from cinesense.text.model import AttBiLSTM
from cinesense.train import fit


class DistilledBranch(TextBranch):
    """A text branch whose Att-BiLSTM learns from a trained encoder model (the teacher)."""

    kind = "distilled"
    branch_kinds = ("encoder",)

    def branch(self, kind: str) -> Any:
        return self if kind in ("text", self.kind) else None

    @classmethod
    def create(
        cls, config: ExperimentConfig, num_classes: int, train: Sequence[Record], *, extra_texts: Sequence[str] = (),
        branches: dict[str, Any] | None = None, progress: bool = True, **words: Any,
    ) -> tuple["DistilledBranch", AttBiLSTM]:
        """The student (Word2Vec on train + ``extra_texts``, a fresh Att-BiLSTM) and the teacher's
        probabilities of every text it will train on."""
        teacher = (branches or {}).get("encoder")
        if teacher is None:
            raise ValueError("a distilled model needs its trained teacher: branches={'encoder': Classifier}")
        branch, model = super().create(config, num_classes, train, extra_texts=extra_texts, **words)
        unlabelled = unlabelled_sample(extra_texts, record_texts(train, "train"), config.distill.unlabelled, config.distill.seed)
        unlabelled = [text for text in unlabelled if branch.read(text)]  # a text with no word teaches the student nothing
        if unlabelled:
            say(progress, f"distilled model: the teacher labels {len(unlabelled)} unlabelled texts")
        pool = [*train, *(Record(f"unlabelled-{i}", text, None) for i, text in enumerate(unlabelled))]
        with distributed.rank_zero_first():  # under torchrun: unlabelled texts encoded (and cached) once, by rank 0
            proba, kept = teacher.predict_records(pool)
        assert kept == list(range(len(pool)))
        branch.teacher_proba, branch.unlabelled = proba[: len(train)], unlabelled
        branch.unlabelled_proba = proba[len(train) :]
        branch.teacher_info = {"teacher": f"encoder:{config.distill.teacher}", "weight": config.distill.weight, "unlabelled": len(unlabelled)}
        return branch, model

    def train(self, model: AttBiLSTM, config: ExperimentConfig, classes: Sequence[str], train: tuple, dev: tuple | None, progress: bool):
        examples, labels = train
        if len(examples) != len(self.teacher_proba):
            raise ValueError(f"train: {len(examples)} examples, the teacher scored {len(self.teacher_proba)}")
        weight = config.distill.weight
        targets = (1 - weight) * np.eye(len(classes))[list(labels)] + weight * self.teacher_proba
        examples = [*examples, *self.encode(self.unlabelled)]
        targets = np.concatenate([targets, self.unlabelled_proba]).astype(np.float32)
        return fit(model, (examples, targets), dev, self.collate, classes, config.train, config.seed, progress,
                   lengths=[len(x) for x in examples])

    def save(self, directory: Path, model: AttBiLSTM) -> tuple[dict[str, Any], dict[str, Any]]:
        sections, model_section = super().save(directory, model)
        if hasattr(self, "teacher_info"):
            sections["distill"] = self.teacher_info
        return sections, model_section


def unlabelled_sample(texts: Sequence[str], exclude: Sequence[str], n: int, seed: int) -> list[str]:
    """Up to ``n`` distinct non-blank ``texts`` not in ``exclude``, drawn with ``seed`` (in draw order)."""
    if n <= 0:
        return []
    skip = set(exclude)
    pool = [t for t in dict.fromkeys(texts) if t.strip() and t not in skip]
    return random.Random(seed).sample(pool, min(n, len(pool)))
