"""Training throughput and dev metrics: 1 process x 1 thread against torchrun with N processes x 1
thread, the same global batch (train.batch_size), on the Att-BiLSTM of a config.

    .venv/bin/python bench/ddp_scaling.py [--config configs/douban.toml] [--seeds 3] [--nproc 2] [--set KEY=VALUE ...]

Each seed trains the whole config (early stopping on dev) once in each layout with ``cinesense
train``; samples/s is the training examples seen per second of training (epoch loops, dev scoring
included), from each run's history. Prints samples/s (mean +- sd) and the scaling, and dev accuracy /
macro-F1 (mean +- sd) of each layout. Run it on a quiet machine: another busy process halves either.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def train(config: str, seed: int, nproc: int, overrides: list[str], out: Path) -> dict:
    launcher = [sys.executable, "-m", "cinesense"] if nproc == 1 else [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(nproc), "-m", "cinesense"]
    sets = [f"seed={seed}", "train.threads=1", 'train.device="cpu"', *overrides]
    command = [*launcher, "train", "--config", config, "--out", str(out), "--quiet", *[a for s in sets for a in ("--set", s)]]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    history = json.loads((out / "history.json").read_text())
    metrics = json.loads((out / "metrics.json").read_text())
    return {"samples_per_second": history["examples_per_second"], "dev": metrics["dev"], "epochs": len(history["epochs"])}


def mean_sd(values: list[float], scale: float = 1.0) -> str:
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{scale * statistics.mean(values):.2f} +- {scale * sd:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/douban.toml")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--nproc", type=int, default=2)
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--json", type=Path, default=Path("runs/bench/ddp_scaling.json"))
    args = parser.parse_args()
    results: dict[str, list[dict]] = {"1 process": [], f"{args.nproc} processes": []}
    with tempfile.TemporaryDirectory() as scratch:
        for seed in range(args.seeds):
            for name, nproc in (("1 process", 1), (f"{args.nproc} processes", args.nproc)):
                run = train(args.config, seed, nproc, args.overrides, Path(scratch) / f"{seed}-{nproc}")
                results[name].append(run)
                print(f"seed {seed} {name}: {run['samples_per_second']:.0f} samples/s, dev accuracy {run['dev']['accuracy']:.4f} "
                      f"({run['epochs']} epochs)", flush=True)
    print(f"\n{args.config}, seeds 0..{args.seeds - 1}, global batch as configured, 1 thread per process, {os.cpu_count()} CPUs")
    for name, runs in results.items():
        print(f"{name:12s} samples/s {mean_sd([r['samples_per_second'] for r in runs]):>18s}   dev accuracy "
              f"{mean_sd([r['dev']['accuracy'] for r in runs], 100):>14s}   macro-F1 {mean_sd([r['dev']['macro_f1'] for r in runs], 100):>14s}")
    single, multi = (statistics.mean(r["samples_per_second"] for r in runs) for runs in results.values())
    print(f"scaling: {multi / single:.2f}x")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"config": args.config, "seeds": args.seeds, "nproc": args.nproc, "runs": results,
                                     "scaling": multi / single}, indent=2))


if __name__ == "__main__":
    main()
