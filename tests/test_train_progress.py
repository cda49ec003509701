"""Progress inside an epoch: lines with count, rate and ETA on a log; nothing with progress=False."""

from __future__ import annotations

import re

import torch
from torch import nn

import cinesense.progress as progress
import cinesense.train as train
from cinesense.config import TrainConfig


class _Linear(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.layer = nn.Linear(3, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(x)


def _collate(batch):
    return {"x": torch.stack(batch)}


def _epoch(progress: bool) -> list[float]:
    torch.manual_seed(0)
    model = _Linear()
    examples = [torch.randn(3) for _ in range(40)]
    targets = torch.tensor([i % 2 for i in range(40)])
    config = TrainConfig(batch_size=4)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    return train.train_one_epoch(model, examples, targets, _collate, optimizer, config, torch.Generator().manual_seed(0),
                                 progress=progress, description="epoch 1")


def test_an_epoch_writes_progress_lines_with_rate_and_eta_to_a_log(capsys, monkeypatch):
    monkeypatch.setattr(progress, "LOG_INTERVAL_SECONDS", 0.0)  # a line at every batch (stderr is not a terminal here)
    losses = _epoch(progress=True)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("epoch 1:")]
    assert len(losses) == 10
    assert len(lines) == 9  # batches 1..9 of 10; the epoch's own summary line reports the end
    assert re.match(r"epoch 1: 1/10 batches \(10%\), [\d.]+ batches/s, \S+ elapsed, ETA \S+, loss \d\.\d{4}$", lines[0]), lines[0]
    assert lines[-1].startswith("epoch 1: 9/10 batches (90%)")


def test_no_progress_prints_nothing(capsys, monkeypatch):
    monkeypatch.setattr(progress, "LOG_INTERVAL_SECONDS", 0.0)
    _epoch(progress=False)
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""


def test_fit_without_progress_is_silent_and_with_progress_reports_batches(capsys, monkeypatch):
    monkeypatch.setattr(progress, "LOG_INTERVAL_SECONDS", 0.0)
    examples = [torch.randn(3) for _ in range(16)]
    labels = [i % 2 for i in range(16)]
    config = TrainConfig(batch_size=4, epochs=2, patience=5)
    train.fit(_Linear(), (examples, labels), (examples, labels), _collate, ["negative", "positive"], config, progress=False)
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""
    train.fit(_Linear(), (examples, labels), (examples, labels), _collate, ["negative", "positive"], config, progress=True)
    captured = capsys.readouterr()
    assert "epoch 2: 3/4 batches" in captured.err and "epoch 2: train loss" in captured.out


def test_the_eta_counts_down_from_the_rate():
    bar = progress.LoopProgress(100, "epoch 3", interval=1e9)
    bar.started = 0.0
    bar.done = 25
    assert bar.line(now=50.0).startswith("epoch 3: 25/100 batches (25%), 0.50 batches/s, 50s elapsed, ETA 2m30s")
