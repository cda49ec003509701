"""Choosing the image head without the test split: grouped cross-validation on the emoji corpus.

    .venv/bin/python bench/emoji_cv.py [--config configs/emoji.toml] [--folds 5] [--seeds 3]
                                       [--variant NAME=KEY=VALUE[,KEY=VALUE...] ...]

The emoji corpus's identity protocol asks whether polarity learnt from some emoji carries over to
emoji never seen. This bench answers that on the **train and dev** parts only (test is never read),
so a design can be chosen from its figures: the train+dev images are split into ``--folds`` folds by
emoji (both renderings of an emoji fall in the same fold); for each fold, each variant of the config
is trained on the other folds (epochs selected on a further emoji-grouped 15% of them) and predicts
the held-out fold; with ``data.emoji_subset=faces`` a variant trains on the face / gesture emoji of
those folds only (the folds stay the same). Each variant runs with ``--seeds`` seeds (mean and
spread). Beside the variants, a logistic-regression probe on the average-pooled frozen VGG16
features (C by 5-fold CV on the training folds) scores the same folds.

Printed: balanced accuracy and ROC-AUC of the out-of-fold predictions, over all emoji and separately
over the face / gesture emoji (the reaction stickers of the default multimodal corpus) and the rest.
Default variants: the committed config, no 1x1 projection, a 512-wide projection, and the committed
config trained on faces only.
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections.abc import Sequence

import numpy as np
import torch
from sklearn.linear_model import LogisticRegressionCV
from sklearn.metrics import balanced_accuracy_score, roc_auc_score
from sklearn.model_selection import GroupKFold, GroupShuffleSplit
from sklearn.preprocessing import StandardScaler

from cinesense.classifier import Classifier
from cinesense.config import ExperimentConfig, load_config
from cinesense.data.emoji import is_face
from cinesense.data.schema import Record
from cinesense.data.splits import load_splits

DEFAULT_VARIANTS = (
    "committed=",
    "no projection=image_model.projection_dim=0",
    "projection 512=image_model.projection_dim=512",
    "trained on faces only=data.emoji_subset=faces",
)


def parse_variant(spec: str) -> tuple[str, list[str]]:
    """``NAME=KEY=VALUE,KEY=VALUE`` -> (NAME, [KEY=VALUE, ...]); ``NAME=`` is the config unchanged."""
    name, sep, overrides = spec.partition("=")
    if not sep or not name:
        raise SystemExit(f"--variant {spec!r}: expected NAME=KEY=VALUE[,KEY=VALUE...] (or NAME= for no change)")
    return name, [o for o in overrides.split(",") if o]


def emoji_groups(records: Sequence[Record]) -> np.ndarray:
    missing = [r.id for r in records if not r.meta.get("emoji")]
    if missing:
        raise SystemExit(f"records without 'emoji' metadata (not the emoji corpus?): {missing[:3]}")
    return np.array([r.meta["emoji"] for r in records])


def pooled_features(classifier: Classifier, records: Sequence[Record]) -> np.ndarray:
    outputs, _ = classifier.image_.cached_stem_outputs(classifier.model_, [r.image for r in records], progress=False)
    return torch.stack([o.float().mean(dim=(1, 2)) for o in outputs]).numpy()


def fit_fold(config: ExperimentConfig, records: Sequence[Record], train_idx: np.ndarray, seed: int) -> Classifier:
    """Train on ``train_idx`` (its faces only with ``data.emoji_subset = "faces"``), selecting epochs on an
    emoji-grouped 15% of it."""
    if config.data.emoji_subset == "faces":
        train_idx = np.array([i for i in train_idx if is_face(records[i].meta["emoji"])])
    groups = emoji_groups([records[i] for i in train_idx])
    inner_train, inner_dev = next(GroupShuffleSplit(n_splits=1, test_size=0.15, random_state=seed).split(train_idx, groups=groups))
    return Classifier(config).fit(
        [records[train_idx[i]] for i in inner_train], [records[train_idx[i]] for i in inner_dev], progress=False
    )


def probe_fold(classifier: Classifier, records: Sequence[Record], train_idx: np.ndarray, test_idx: np.ndarray) -> np.ndarray:
    x_train = pooled_features(classifier, [records[i] for i in train_idx])
    x_test = pooled_features(classifier, [records[i] for i in test_idx])
    scaler = StandardScaler().fit(x_train)
    probe = LogisticRegressionCV(Cs=8, cv=5, class_weight="balanced", max_iter=3000, random_state=0)
    probe.fit(scaler.transform(x_train), [records[i].label for i in train_idx])
    proba = probe.predict_proba(scaler.transform(x_test))
    return proba[:, [list(probe.classes_).index(c) for c in classifier.classes_]]


def scores(labels: np.ndarray, proba: np.ndarray, classes: Sequence[str], faces: np.ndarray) -> np.ndarray:
    """(balanced accuracy, ROC-AUC) over all emoji, the faces and the rest: a (3, 2) array."""
    positive = list(classes).index("positive")
    predicted = np.asarray(classes)[proba.argmax(axis=1)]
    out = []
    for mask in (np.ones(len(labels), bool), faces, ~faces):
        y = labels[mask]
        auc = roc_auc_score(y == "positive", proba[mask, positive]) if len(set(y)) == 2 else float("nan")
        out.append((balanced_accuracy_score(y, predicted[mask]), auc))
    return np.array(out)


def row(name: str, runs: list[np.ndarray]) -> str:
    mean, sd = np.mean(runs, axis=0), np.std(runs, axis=0)
    spread = len(runs) > 1
    cells = [f"{m[0]:.3f}" + (f" ± {s[0]:.3f}" if spread else "") + f" / {m[1]:.3f}" for m, s in zip(mean, sd)]
    return f"| {name} | " + " | ".join(cells) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/emoji.toml")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--variant", action="append", metavar="NAME=KEY=VALUE,...", help="a config variant (repeatable)")
    parser.add_argument("--seeds", type=int, default=3, help="seeds a variant (model initialisation and batch order)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=FutureWarning, module="sklearn")
    torch.set_num_threads(args.threads)
    base = load_config(args.config, ["data.emoji_subset=all"])
    if base.modality != "image" or base.data.source != "emoji":
        raise SystemExit(f"{args.config}: needs an image-modality config on the emoji corpus (data.source = 'emoji')")
    splits = load_splits(base.data)
    records = [*splits.train.records, *splits.dev.records]  # test is never read
    labels = np.array([r.label for r in records])
    groups = emoji_groups(records)
    faces = np.array([is_face(g) for g in groups])
    print(f"{args.config}, {base.data.emoji_split} protocol: {len(records)} train+dev images of {len(set(groups))} emoji "
          f"({faces.sum()} face / gesture images), {args.folds} folds grouped by emoji; test not read")
    folds = list(GroupKFold(n_splits=args.folds).split(records, labels, groups))
    variants = [parse_variant(v) for v in (args.variant or DEFAULT_VARIANTS)]
    print("| system | all: balanced acc / AUC | faces & gestures | other emoji |")
    print("|---|---|---|---|")
    probe = np.zeros((len(records), len(base.data.labels)))
    for name, overrides in variants:
        config = load_config(args.config, overrides)
        config.train.threads = config.image_train.threads = args.threads
        runs, tick = [], time.perf_counter()
        for seed in range(args.seeds):
            config.seed = base.seed + seed
            proba = np.zeros_like(probe)
            for k, (train_idx, test_idx) in enumerate(folds):
                classifier = fit_fold(config, records, train_idx, seed=k)
                proba[test_idx], kept = classifier.predict_records([records[i] for i in test_idx])
                if len(kept) != len(test_idx):
                    raise SystemExit(f"fold {k}: {len(test_idx) - len(kept)} unreadable images")
                if not probe[test_idx].any():
                    probe[test_idx] = probe_fold(classifier, records, train_idx, test_idx)
            runs.append(scores(labels, proba, classifier.classes_, faces))
        print(row(f"{name} ({(time.perf_counter() - tick) / args.seeds:.0f} s a seed)", runs), flush=True)
    print(row("linear probe, pooled VGG16 (all emoji)", [scores(labels, probe, classifier.classes_, faces)]))


if __name__ == "__main__":
    main()
