"""`train.fit` on a tiny separable problem: the loss falls, early stopping restores the best
epoch's weights, and the history says what happened."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from cinesense.config import TrainConfig
from cinesense.train import fit, predict_logits

CLASSES = ["negative", "positive"]


class Linear(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.layer = nn.Linear(2, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(x)


def collate(batch):
    return {"x": torch.stack(list(batch))}


def separable(n: int = 40, seed: int = 0):
    """Points around (-1, -1) (class 0) and (1, 1) (class 1)."""
    generator = torch.Generator().manual_seed(seed)
    labels = [i % 2 for i in range(n)]
    points = [torch.full((2,), 1.0 if y else -1.0) + 0.3 * torch.randn(2, generator=generator) for y in labels]
    return points, labels


def new_model() -> Linear:
    torch.manual_seed(0)
    return Linear()


def config(**changes) -> TrainConfig:
    return TrainConfig(**{"epochs": 8, "batch_size": 8, "learning_rate": 0.05, "l2": 0.0, "threads": 1, **changes})


@pytest.fixture(autouse=True)
def _restoring_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)  # train.threads is process-wide


def test_training_loss_falls_and_without_dev_every_epoch_runs_and_the_last_is_kept():
    train = separable()
    model = new_model()
    history = fit(model, train, None, collate, CLASSES, config(), progress=False)
    losses = [e.train_loss for e in history.epochs]
    assert [e.epoch for e in history.epochs] == list(range(1, 9)) and history.best_epoch == 8
    assert losses[-1] < 0.5 * losses[0]
    assert len(history.step_losses) == 8 * math.ceil(40 / 8)
    assert sum(history.step_losses[-5:]) < sum(history.step_losses[:5])
    assert all(e.dev_loss is None and e.dev_metrics is None for e in history.epochs)
    predictions = predict_logits(model, train[0], collate).argmax(dim=-1).tolist()
    assert predictions == train[1]  # separable: learnt


def test_history_records_dev_metrics_and_the_epoch_kept():
    train, dev = separable(), separable(20, seed=1)
    history = fit(new_model(), train, dev, collate, CLASSES, config(), progress=False)
    for record in history.epochs:
        assert record.dev_metrics["n"] == 20 and record.dev_metrics["loss"] == record.dev_loss
    assert history.epochs[history.best_epoch - 1].dev_metrics["macro_f1"] == max(e.dev_metrics["macro_f1"] for e in history.epochs)
    as_dict = history.to_dict()
    assert as_dict["best_epoch"] == history.best_epoch and len(as_dict["epochs"]) == len(history.epochs)


def test_early_stopping_restores_the_best_epochs_weights():
    """A dev set labelled the other way round gets worse every epoch: the best is epoch 1, training
    stops ``patience`` epochs later, and the model holds epoch 1's weights again."""
    train = separable()
    flipped = (train[0], [1 - y for y in train[1]])
    model = new_model()
    history = fit(model, train, flipped, collate, CLASSES, config(select_metric="loss", patience=2), progress=False)
    dev_losses = [e.dev_loss for e in history.epochs]
    assert history.best_epoch == 1 and len(history.epochs) == 3  # 1 + patience, of 8
    assert dev_losses == sorted(dev_losses)  # worse and worse

    after_one = new_model()  # the same seed, one epoch, no dev: the weights epoch 1 ended with
    fit(after_one, train, None, collate, CLASSES, config(epochs=1), progress=False)
    for name, tensor in after_one.state_dict().items():
        torch.testing.assert_close(model.state_dict()[name], tensor, rtol=0, atol=0, msg=name)
    logits = predict_logits(model, flipped[0], collate)
    restored = nn.functional.cross_entropy(logits, torch.tensor(flipped[1])).item()
    assert restored == pytest.approx(dev_losses[0], abs=1e-6) and restored < dev_losses[-1]

