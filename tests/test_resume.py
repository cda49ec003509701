"""Checkpoint and resume: a run interrupted at any checkpoint boundary and resumed ends with the
model an uninterrupted run gives, bit for bit (one CPU process); a checkpoint of another run, or a
damaged one, is refused with its path; ``--resume`` says what it needs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from cinesense import checkpoint
from cinesense.config import TrainConfig
from cinesense.train import fit

CLASSES = ["negative", "positive"]
ROOT = Path(__file__).resolve().parents[1]


class Tiny(nn.Module):
    """Dropout too, so that torch's global generator matters."""

    def __init__(self) -> None:
        super().__init__()
        self.hidden, self.drop, self.out = nn.Linear(2, 8), nn.Dropout(0.3), nn.Linear(8, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.drop(torch.relu(self.hidden(x))))


def collate(batch):
    return {"x": torch.stack(list(batch))}


def data(n: int, seed: int):
    generator = torch.Generator().manual_seed(seed)
    labels = [i % 2 for i in range(n)]
    return [torch.full((2,), 0.5 if y else -0.5) + torch.randn(2, generator=generator) for y in labels], labels


def new_model() -> Tiny:
    torch.manual_seed(0)
    return Tiny()


CONFIG = TrainConfig(epochs=6, batch_size=8, learning_rate=0.05, patience=2, threads=1, device="cpu")


class Interrupted(BaseException):
    pass


def soft_data(n: int, seed: int):
    """``data`` with soft targets (a distilled model's: label mixed with a teacher's probabilities)."""
    examples, labels = data(n, seed)
    teacher = torch.rand(n, generator=torch.Generator().manual_seed(seed + 100))
    targets = 0.5 * torch.nn.functional.one_hot(torch.tensor(labels), 2).float() + 0.5 * torch.stack([1 - teacher, teacher], dim=1)
    return examples, targets.numpy()


def run(root: Path, resume: bool, stop_at: tuple[str, int] | None = None, monkeypatch=None, soft: bool = False):
    if stop_at is not None:
        calls = {"written": 0, "saved": 0}

        def fault(where: str) -> None:
            calls[where] += 1
            if (where, calls[where]) == stop_at:
                raise Interrupted

        monkeypatch.setattr(checkpoint, "_fault_point", fault)
    model = new_model()
    try:
        with checkpoint.checkpointing(root, resume=resume):
            history = fit(model, (soft_data if soft else data)(64, 0), data(32, 1), collate, CLASSES, CONFIG, seed=3, progress=False)
    finally:
        if monkeypatch is not None:
            monkeypatch.undo()
    return model, history


@pytest.mark.parametrize("soft", [False, True], ids=["class-indices", "soft-targets"])
def test_resumed_at_every_checkpoint_boundary_gives_the_uninterrupted_model(tmp_path, monkeypatch, soft):
    reference, history = run(tmp_path / "reference", resume=False, soft=soft)
    saves = len(history.epochs) + 1  # one a epoch, one when finished
    assert saves >= 3
    for where in ("written", "saved"):
        for index in range(1, saves + 1):
            root = tmp_path / f"{where}-{index}"
            with pytest.raises(Interrupted):
                run(root, resume=False, stop_at=(where, index), monkeypatch=monkeypatch, soft=soft)
            model, resumed = run(root, resume=True, soft=soft)
            for name, tensor in reference.state_dict().items():
                assert torch.equal(model.state_dict()[name], tensor), f"{where}:{index} {name}"
            assert [e.dev_metrics for e in resumed.epochs] == [e.dev_metrics for e in history.epochs]
            assert resumed.best_epoch == history.best_epoch


def test_a_finished_fit_is_not_trained_again(tmp_path, monkeypatch):
    run(tmp_path, resume=False)
    calls = []
    monkeypatch.setattr("cinesense.train.train_one_epoch", lambda *a, **k: calls.append(1) or [0.0])
    model, _ = run(tmp_path, resume=True)
    assert calls == []


def test_a_checkpoint_of_another_run_is_refused_with_its_path(tmp_path):
    run(tmp_path, resume=False)
    with checkpoint.checkpointing(tmp_path, resume=True):
        with pytest.raises(checkpoint.CheckpointError, match=r"fit-001\.safetensors: checkpoint of another run"):
            fit(new_model(), data(48, 0), data(32, 1), collate, CLASSES, CONFIG, seed=3, progress=False)  # other data


def test_a_truncated_checkpoint_is_refused_with_its_path(tmp_path):
    run(tmp_path, resume=False)
    path = tmp_path / "fit-001.safetensors"
    path.write_bytes(path.read_bytes()[:100])
    with checkpoint.checkpointing(tmp_path, resume=True):
        with pytest.raises(checkpoint.CheckpointError, match=r"fit-001\.safetensors: unreadable checkpoint"):
            fit(new_model(), data(64, 0), data(32, 1), collate, CLASSES, CONFIG, seed=3, progress=False)


def _cli(*args: str, fault: str = "", cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = {**os.environ, checkpoint.FAULT_ENV: fault}
    return subprocess.run([sys.executable, "-m", "cinesense", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


SMOKE = ["--config", "configs/smoke.toml", "--set", "train.epochs=3", "--set", "train.patience=5", "--set", "data.limit=200", "--quiet"]


def test_train_killed_after_a_checkpoint_resumes_to_the_same_bundle(tmp_path):
    reference, interrupted = tmp_path / "reference", tmp_path / "interrupted"
    assert _cli("train", *SMOKE, "--out", str(reference)).returncode == 0
    killed = _cli("train", *SMOKE, "--out", str(interrupted), fault="saved:2")
    assert killed.returncode == 137 and not interrupted.exists()
    assert any(p.name.startswith(".interrupted.partial-") for p in tmp_path.iterdir())  # what kill -9 leaves
    resumed = _cli("train", "--resume", str(interrupted))
    assert resumed.returncode == 0, resumed.stderr
    assert (interrupted / "model.safetensors").read_bytes() == (reference / "model.safetensors").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["interrupted", "reference"]  # checkpoints and stale folder gone


def test_resume_says_when_there_is_nothing_to_resume(tmp_path):
    result = _cli("train", "--resume", str(tmp_path / "never"))
    assert result.returncode != 0 and "no interrupted run to resume" in result.stderr and "never" in result.stderr
    result = _cli("train", "--resume", str(tmp_path / "never"), "--config", "configs/smoke.toml")
    assert result.returncode != 0 and "give no --config" in result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("fault", ["written:1", "saved:1", "written:3", "saved:4"])
def test_train_killed_at_checkpoint_boundaries_resumes_to_the_same_bundle(tmp_path, fault):
    reference, interrupted = tmp_path / "reference", tmp_path / "interrupted"
    assert _cli("train", *SMOKE, "--out", str(reference)).returncode == 0
    assert _cli("train", *SMOKE, "--out", str(interrupted), fault=fault).returncode == 137
    assert _cli("train", "--resume", str(interrupted)).returncode == 0
    assert (interrupted / "model.safetensors").read_bytes() == (reference / "model.safetensors").read_bytes()
