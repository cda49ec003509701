"""How much one run's fusion figures can be trusted: the multimodal job over several seeds.

    .venv/bin/python bench/fusion_seeds.py --config configs/mvsa.toml --seeds 5 [--set KEY=VALUE ...]

Runs ``cinesense reproduce`` (the multimodal job) once per seed (``seed`` = 0 .. N-1: Word2Vec, model
initialisation and batch order) into ``--out/seed{k}``, then scores every saved model on the split the
report scores (test, or dev where there is no test split) and prints, per system, each seed's accuracy
and weighted F1, their mean and standard deviation, and the accuracy of the seed ensemble (the mean of
the seeds' probabilities). Selection inside each run uses dev only, as in ``reproduce``.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import numpy as np

from cinesense.classifier import Classifier
from cinesense.config import load_config
from cinesense.data.jsonl import load_jsonl
from cinesense.fusion.experiment import image_only_proba
from cinesense.metrics import classification_metrics
from cinesense.pipeline import reproduce

SYSTEMS = {"text_model": "BiLSTM (text)", "image_model": "VGG16 (image)", "fused_late": "late fusion (paper)",
           "fused_feature": "feature fusion", "fused_gated": "gated fusion"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/mvsa.toml")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("runs/fusion_seeds"))
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override")
    args = parser.parse_args()
    probabilities: dict[str, list[np.ndarray]] = {name: [] for name in SYSTEMS}
    scores: dict[str, list[dict]] = {name: [] for name in SYSTEMS}
    records, classes = [], []
    for seed in range(args.seeds):
        config = load_config(args.config, [*args.set, f"seed={seed}"])
        run = args.out / f"seed{seed}"
        reproduce(config, run, argv=["bench/fusion_seeds.py", f"seed={seed}"], progress=False)
        records = load_jsonl(run / "data" / "test.jsonl").records  # the scored split (dev where there is no test)
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
        print(f"seed {seed} done: {run}", flush=True)
    truth = [r.label for r in records]
    print(f"\n{args.config}, {args.seeds} seeds, scored on {len(records)} examples (accuracy / weighted F1, %)")
    print("| system | each seed | mean ± sd accuracy | mean weighted F1 | seed ensemble |")
    print("|---|---|---|---|---|")
    for name, label in SYSTEMS.items():
        if not scores[name]:
            continue
        accuracy = [100 * m["accuracy"] for m in scores[name]]
        weighted = [100 * m["weighted_f1"] for m in scores[name]]
        each = ", ".join(f"{a:.2f} / {w:.2f}" for a, w in zip(accuracy, weighted))
        spread = statistics.stdev(accuracy) if len(accuracy) > 1 else 0.0
        ensemble = classification_metrics(truth, np.mean(probabilities[name], axis=0), classes)
        print(f"| {label} | {each} | {statistics.mean(accuracy):.2f} ± {spread:.2f} | {statistics.mean(weighted):.2f} "
              f"| {100 * ensemble['accuracy']:.2f} / {100 * ensemble['weighted_f1']:.2f} |")


if __name__ == "__main__":
    main()
