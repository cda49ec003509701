"""Training under torchrun: 2 gloo processes give the weights one process gives for the same global
batch (within float rounding), every rank ends with the same weights, and ``cinesense train`` under
torchrun writes one ordinary bundle (rank 0 alone)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]

WORKER = r'''
import json, os, sys
import torch
from torch import nn
from cinesense.config import TrainConfig
from cinesense.train import fit

class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden, self.out = nn.Linear(2, 8), nn.Linear(8, 2)
    def forward(self, x):
        return self.out(torch.tanh(self.hidden(x)))

def collate(batch):
    return {"x": torch.stack(list(batch))}

def data(n, seed):
    g = torch.Generator().manual_seed(seed)
    labels = [i % 2 for i in range(n)]
    return [torch.full((2,), 0.5 if y else -0.5) + torch.randn(2, generator=g) for y in labels], labels

torch.manual_seed(0)
model = Tiny()
config = TrainConfig(epochs=5, batch_size=8, learning_rate=0.05, patience=5, threads=1, device="cpu", l2=1e-4)
history = fit(model, data(64, 0), data(32, 1), collate, ["negative", "positive"], config, seed=3, progress=False)
rank = int(os.environ.get("RANK", "0"))
out = {"rank": rank, "best_epoch": history.best_epoch,
       "dev": [e.dev_metrics["accuracy"] for e in history.epochs],
       "weights": {k: v.flatten().tolist() for k, v in model.state_dict().items()}}
with open(os.path.join(sys.argv[1], f"rank{rank}.json"), "w") as f:
    json.dump(out, f)
'''


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT / "src")}


def test_two_gloo_processes_train_the_weights_one_process_trains(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    single, ddp = tmp_path / "single", tmp_path / "ddp"
    single.mkdir(), ddp.mkdir()
    subprocess.run([sys.executable, str(script), str(single)], check=True, env=_env(), timeout=300)
    result = subprocess.run([*TORCHRUN, str(script), str(ddp)], env=_env(), timeout=300, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    one = json.loads((single / "rank0.json").read_text())
    ranks = [json.loads((ddp / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert ranks[0]["weights"] == ranks[1]["weights"]  # DDP keeps the ranks in step
    assert ranks[0]["best_epoch"] == ranks[1]["best_epoch"] == one["best_epoch"]
    for name, values in one["weights"].items():
        assert ranks[0]["weights"][name] == pytest.approx(values, abs=1e-4), name
    assert ranks[0]["dev"] == pytest.approx(one["dev"], abs=1 / 32 + 1e-9)  # at most one dev example apart


def test_cinesense_train_under_torchrun_writes_one_ordinary_bundle(tmp_path):
    out = tmp_path / "run"
    command = [*TORCHRUN, "-m", "cinesense", "train", "--config", "configs/smoke.toml", "--out", str(out),
               "--set", "data.limit=200", "--set", "train.epochs=2", "--quiet"]
    result = subprocess.run(command, cwd=ROOT, env=_env(), timeout=600, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("saved model to") == 1  # rank 0 alone reports (and writes)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # no checkpoints or scratch folders left

    from cinesense import Classifier

    classifier = Classifier.load(out)
    assert classifier.predict_proba(["房间很干净"]).sum() == pytest.approx(1.0)
    assert json.loads((out / "config.json").read_text())["train"]["device"] == "auto"
