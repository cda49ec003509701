"""Image branch: Att-VGG16 (frozen ImageNet conv base, attention head) against a linear probe.

    .venv/bin/python bench/image_accuracy.py [--only emoji-identity|emoji-style|mvsa] [--out runs/bench]
                                             [--set image_model.feature_norm=instance ...]

- emoji-identity: configs/emoji.toml (no emoji of the test split in training); scored on test.
- emoji-style: the same with data.emoji_split=style (train OpenMoji renderings, test Noto); on test.
- mvsa: configs/mvsa_images.toml (MVSA-Single photos, 3 classes); scored on dev (test is held back).
The linear probe is a logistic regression (class_weight balanced, C chosen by 5-fold CV on train)
on the global-average-pooled frozen VGG16 conv features of the same cached stem outputs.
For the emoji tasks, both are also scored separately on the face / gesture emoji and on the rest.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegressionCV
from sklearn.preprocessing import StandardScaler

from cinesense.config import load_config
from cinesense.data.emoji import is_face
from cinesense.evaluate.scoring import evaluate
from cinesense.jobs import train_run
from cinesense.evaluate.metrics import classification_metrics

TASKS = {
    "emoji-identity": ("configs/emoji.toml", [], "test"),
    "emoji-style": ("configs/emoji.toml", ["data.emoji_split=style"], "test"),
    "mvsa": ("configs/mvsa_images.toml", [], "dev"),
}


def pooled_features(classifier, records) -> tuple[np.ndarray, list[int]]:
    outputs, _ = classifier.image_.cached_stem_outputs(classifier.model_, [r.image for r in records], progress=False)
    kept = [i for i, o in enumerate(outputs) if o is not None]
    return torch.stack([outputs[i].float().mean(dim=(1, 2)) for i in kept]).numpy(), kept


def run(name: str, out: Path, extra: list[str] = ()) -> dict:
    path, overrides, split = TASKS[name]
    config = load_config(path, [*overrides, *extra])
    trained = train_run(config, out / name, argv=["bench/image_accuracy.py", name], progress=False)
    clf = trained.classifier
    records = getattr(trained.splits, split).records
    ours = evaluate(clf, records)[0]
    train = trained.splits.train.records
    x_train, kept_train = pooled_features(clf, train)
    x_eval, kept_eval = pooled_features(clf, records)
    scaler = StandardScaler().fit(x_train)
    probe = LogisticRegressionCV(Cs=8, cv=5, class_weight="balanced", max_iter=3000, random_state=0)
    probe.fit(scaler.transform(x_train), [train[i].label for i in kept_train])
    proba = probe.predict_proba(scaler.transform(x_eval))
    order = [list(probe.classes_).index(c) for c in clf.classes_]
    linear = classification_metrics([records[i].label for i in kept_eval], proba[:, order], clf.classes_)
    rows = [("linear probe (pooled VGG16)", linear), ("Att-VGG16 (ours)", ours)]
    if name.startswith("emoji"):
        probe_rows = dict(zip(kept_eval, proba[:, order]))
        for subset, keep in (("faces & gestures", True), ("other emoji", False)):
            part = [i for i in kept_eval if is_face(records[i].meta["emoji"]) == keep]
            if not part:
                continue
            labels = [records[i].label for i in part]
            rows.append((f"  probe, {subset} ({len(part)})", classification_metrics(labels, np.stack([probe_rows[i] for i in part]), clf.classes_)))
            rows.append((f"  Att-VGG16, {subset} ({len(part)})", evaluate(clf, [records[i] for i in part])[0]))
    print(f"\n{name}: train {len(train)}, scored on {split} ({len(records)}), classes {clf.classes_}")
    print(f"{'system':34s} {'acc':>7s} {'balAcc':>7s} {'macroF1':>8s} {'wF1':>7s} {'ROC-AUC':>8s}")
    for system, m in rows:
        print(f"{system:34s} {m['accuracy']:7.4f} {m['balanced_accuracy']:7.4f} {m['macro_f1']:8.4f} {m['weighted_f1']:7.4f} {m['roc_auc'] or float('nan'):8.4f}")
    print(f"training {trained.seconds:.0f}s (features cached after the first run)")
    return {"linear_probe": linear, "att_vgg16": ours, "train_seconds": trained.seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=sorted(TASKS))
    parser.add_argument("--out", type=Path, default=Path("runs/bench"))
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override for every task")
    args = parser.parse_args()
    torch.set_num_threads(2)
    results = {name: run(name, args.out, args.set) for name in TASKS if args.only in (None, name)}
    args.out.mkdir(parents=True, exist_ok=True)
    target = args.out / "image_accuracy.json"
    merged = json.loads(target.read_text()) if target.is_file() else {}
    merged.update(results)
    target.write_text(json.dumps(merged, indent=2))


if __name__ == "__main__":
    main()
