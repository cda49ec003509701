"""What a job returns: every system it trained or ran, scored on one split, and the data behind it.
The report, figures and JSON files of a run are written from this (:mod:`cinesense.jobs.write`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cinesense.classifier import Classifier
from cinesense.config import ExperimentConfig
from cinesense.data.schema import Record
from cinesense.data.splits import Splits
from cinesense.evaluate.metrics import classification_metrics
from cinesense.evaluate.report import SystemResult
from cinesense.jobs.training_run import TrainedRun
from cinesense.train import History


@dataclass
class System(SystemResult):
    """One row of the tables: a system's metrics, predictions and probabilities on the scored split
    (rows follow :attr:`JobResults.test`), its seconds, and, for a model of ours, the model."""

    proba: np.ndarray | None = None
    model: Classifier | None = None
    roc: bool = True  # drawn among the ROC curves


def system(name: str, proba: np.ndarray, classes: Sequence[str], y_true: Sequence[str], *,
           metrics: dict[str, Any] | None = None, **fields: Any) -> System:
    """A system scored from its probabilities (``metrics``: when already computed, e.g. by
    :func:`cinesense.evaluate.scoring.evaluate`)."""
    classes = list(classes)
    if metrics is None:
        metrics = classification_metrics(y_true, proba, classes)
    return System(name, metrics, [classes[i] for i in proba.argmax(axis=1)], proba=proba, **fields)


@dataclass
class JobResults:
    """A whole job (``cinesense reproduce`` on one config).

    ``kind``: "text", "image" or "fused". ``splits``: the data as the report's data section shows it;
    ``scored``: "test", or "dev" when the data has no test split; ``test``: the records scored.
    ``histories``: the training curves of the models, by the name the loss figure gives them;
    ``report``: the report's path, once written."""

    kind: str
    config: ExperimentConfig
    splits: Splits
    scored: str
    test: list[Record]
    classes: list[str]
    systems: list[System]
    histories: dict[str, History] = field(default_factory=dict)
    run: TrainedRun | None = None  # the text or image job's model, trained and saved as by ``cinesense train``
    transfer: dict[str, list[System]] = field(default_factory=dict)  # data.transfer file -> systems scored on it
    style_cv: dict[str, Any] | None = None  # the image job's leave-one-style-out result (cinesense.evaluate.style_cv)
    report: Path | None = None

    @property
    def y_true(self) -> list[str]:
        return [r.label for r in self.test]

    def by_name(self, name: str) -> System:
        return next(s for s in self.systems if s.name == name)

    def ours(self) -> list[System]:
        return [s for s in self.systems if s.ours]
