"""How much one run's fusion figures can be trusted: the multimodal job over several seeds.

    .venv/bin/python bench/fusion_seeds.py --config configs/mvsa.toml --seeds 5 [--set KEY=VALUE ...]
                                           [--seed-key data.multimodal.emoji_seed]

Runs ``cinesense reproduce`` (the multimodal job) once per seed (``--seed-key`` = 0 .. N-1; default
``seed``: Word2Vec, model initialisation and batch order; ``data.multimodal.emoji_seed`` instead
draws a new emoji split for the default corpus, so other emoji are the unseen test stickers) into
``--out/seed{k}``, then scores every saved model on the split the report scores (test, or dev where
there is no test split) and prints, per system, each seed's accuracy and weighted F1, their mean and
standard deviation, and the accuracy of the seed ensemble (the mean of the seeds' probabilities; only
when the scored examples are the same in every run). Where the examples carry a ``pair`` kind (the
default corpus), it also prints each system's mean ± sd accuracy per kind (irony, mockery, ...).
Selection inside each run uses dev only, as in ``reproduce``.

    .venv/bin/python bench/fusion_seeds.py --from-runs RUN_DIR [RUN_DIR ...]

instead reads the ``results.json`` of finished ``reproduce`` runs (e.g. one per seed) and prints every
row's accuracy and weighted F1 in each run and their mean ± sd (every system of the runs, the E5 rows
of ``text_encoder.compare`` included).
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import numpy as np

from cinesense.classifier import Classifier
from cinesense.config import load_config
from cinesense.data.jsonl import load_jsonl
from cinesense.jobs.scoring import image_only_proba
from cinesense.evaluate.metrics import classification_metrics
from cinesense.jobs import reproduce

SYSTEMS = {"text_model": "BiLSTM (text)", "image_model": "VGG16 (image)", "fused_late": "late fusion (paper)",
           "fused_feature": "feature fusion", "fused_gated": "gated fusion"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/mvsa.toml")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("runs/fusion_seeds"))
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override")
    parser.add_argument("--seed-key", default="seed", help="the config key set to 0 .. N-1 (default: seed)")
    parser.add_argument("--from-runs", nargs="+", type=Path, metavar="RUN_DIR", help="summarise finished runs instead")
    args = parser.parse_args()
    if args.from_runs:
        summarise_runs(args.from_runs)
        return
    probabilities: dict[str, list[np.ndarray]] = {name: [] for name in SYSTEMS}
    scores: dict[str, list[dict]] = {name: [] for name in SYSTEMS}
    subsets: dict[str, list[dict[str, float]]] = {name: [] for name in SYSTEMS}
    records, classes, scored_ids = [], [], set()
    for seed in range(args.seeds):
        config = load_config(args.config, [*args.set, f"{args.seed_key}={seed}"])
        run = args.out / f"seed{seed}"
        reproduce(config, run, argv=["bench/fusion_seeds.py", f"{args.seed_key}={seed}"], progress=False)
        records = load_jsonl(run / "data" / "test.jsonl").records  # the scored split (dev where there is no test)
        scored_ids.add(tuple((r.id, r.label, tuple(map(str, r.images))) for r in records))
        train = load_jsonl(run / "data" / "train.jsonl").records
        for name in SYSTEMS:
            if not (run / name / "manifest.json").is_file():
                continue
            classifier = Classifier.load(run / name)
            classes = classifier.classes_
            if classifier.modality_ == "image":
                prior = np.array([sum(r.label == c for r in train) for c in classes], dtype=float)
                proba = image_only_proba(classifier, records, prior / prior.sum())
            else:
                proba, kept = classifier.predict_records(records)  # images through the feature cache
                if len(kept) != len(records):
                    raise SystemExit(f"{run / name}: {len(records) - len(kept)} scored examples could not be read")
            probabilities[name].append(proba)
            scores[name].append(classification_metrics([r.label for r in records], proba, classes))
            subsets[name].append(accuracy_by_pair(records, proba, classes))
        print(f"seed {seed} done: {run}", flush=True)
    truth = [r.label for r in records]
    print(f"\n{args.config}, {args.seeds} seeds, scored on {len(records)} examples (accuracy / weighted F1, %)")
    same_examples = len(scored_ids) == 1
    print("| system | each seed | mean ± sd accuracy | mean weighted F1 | seed ensemble |")
    print("|---|---|---|---|---|")
    for name, label in SYSTEMS.items():
        if not scores[name]:
            continue
        accuracy = [100 * m["accuracy"] for m in scores[name]]
        weighted = [100 * m["weighted_f1"] for m in scores[name]]
        each = ", ".join(f"{a:.2f} / {w:.2f}" for a, w in zip(accuracy, weighted))
        ensemble = "—"
        if same_examples:
            m = classification_metrics(truth, np.mean(probabilities[name], axis=0), classes)
            ensemble = f"{100 * m['accuracy']:.2f} / {100 * m['weighted_f1']:.2f}"
        print(f"| {label} | {each} | {mean_sd(accuracy)} | {statistics.mean(weighted):.2f} | {ensemble} |")
    kinds = sorted({kind for runs in subsets.values() for run in runs for kind in run})
    if kinds:
        print("\naccuracy by pair kind, mean ± sd over the runs (%)")
        print("| system | " + " | ".join(kinds) + " |")
        print("|---|" + "---|" * len(kinds))
        for name, label in SYSTEMS.items():
            if subsets[name]:
                print(f"| {label} | " + " | ".join(mean_sd([run[k] for run in subsets[name] if k in run]) for k in kinds) + " |")


def summarise_runs(runs: list[Path]) -> None:
    """Every row of the runs' results.json: accuracy / weighted F1 in each run, mean ± sd."""
    import json

    results = [json.loads((run / "results.json").read_text(encoding="utf-8")) for run in runs]
    rows = [name for name in results[0] if all(name in r for r in results)]
    sizes = {r[name]["metrics"]["n"] for r in results for name in rows}
    print(f"{len(runs)} runs ({', '.join(map(str, runs))}), scored on {'/'.join(map(str, sorted(sizes)))} examples (accuracy / weighted F1, %)")
    print("| system | each run | mean ± sd accuracy | mean ± sd weighted F1 |")
    print("|---|---|---|---|")
    for name in rows:
        accuracy = [100 * r[name]["metrics"]["accuracy"] for r in results]
        weighted = [100 * r[name]["metrics"]["weighted_f1"] for r in results]
        each = ", ".join(f"{a:.2f} / {w:.2f}" for a, w in zip(accuracy, weighted))
        print(f"| {name} | {each} | {mean_sd(accuracy)} | {mean_sd(weighted)} |")


def mean_sd(values: list[float]) -> str:
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.2f} ± {spread:.2f}"


def accuracy_by_pair(records, proba: np.ndarray, classes: list[str]) -> dict[str, float]:
    """Accuracy (%) per ``pair`` kind of the default corpus ({} for data without one)."""
    predicted = np.asarray(classes)[proba.argmax(axis=1)]
    right: dict[str, list[bool]] = {}
    for record, label in zip(records, predicted):
        if "pair" in record.meta:
            right.setdefault(str(record.meta["pair"]), []).append(label == record.label)
    return {kind: 100 * float(np.mean(hits)) for kind, hits in right.items()}


if __name__ == "__main__":
    main()
