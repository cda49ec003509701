"""Which average of text systems to use, chosen by 5-fold cross-validation on Douban *train* (never
its dev split), then that one choice scored on Douban dev over several seeds.

    .venv/bin/python bench/ensemble_cv.py [--members A,B,C] [--seeds 3] [--out runs/bench/ensemble_cv]

Members: "TF-IDF + LR" and "E5 + LR" (scikit-learn, deterministic; E5 + LR's C by an inner 5-fold CV among
the "linear" encoder model's candidates, as in bench/e5_lr_probe.py) and our trained systems (bench/text_transfer.py's names, seed 0 in the
cross-validation; each fold's training part keeps a stratified 10% aside for epoch selection). Every
average of two or more members' probabilities (equal weights) is a candidate; the one with the best
out-of-fold accuracy (ROC-AUC breaks ties) is the choice. Only the choice and its members are then
trained on all of train (selected on dev, as every Douban figure here is) and scored on dev, seeds
0..N-1, with McNemar's test against TF-IDF + LR. Needs ../shared/data/douban_movie; E5 encodings
come from the cache when present. Writes ``OUT/ensemble_cv.json``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegressionCV
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.preprocessing import StandardScaler

from cinesense.classifier import Classifier
from cinesense.config import load_config
from cinesense.data.splits import load_extra_texts, load_splits
from cinesense.evaluate.baselines import align_columns, make_baselines
from cinesense.evaluate.significance import mcnemar
from cinesense.text.encoder import SentenceEncoder
from cinesense.text.encoder_branch import SENTENCE_CS
from cinesense.text.tokenize import Tokenizer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from text_transfer import SYSTEMS  # noqa: E402

DOUBAN = "configs/douban.toml"
TRAINED = {name: SYSTEMS[name] for name in ("Att-BiLSTM", "Att-BiLSTM + E5", "E5 probe")}  # bench/text_transfer.py's
FIXED = ("TF-IDF + LR", "E5 + LR")


class Members:
    """Fits a member on some records and returns P(positive) for others."""

    def __init__(self, config, extra: list[str]) -> None:
        self.config, self.extra = config, extra
        self.encoder = SentenceEncoder()

    def proba(self, name: str, train: list, held: list, seed: int = 0, select: list | None = None) -> np.ndarray:
        labels = [r.label for r in train]
        if name == "TF-IDF + LR":
            (tfidf,) = [b for b in make_baselines(Tokenizer.from_config(self.config.text), labels) if b.name == name]
            tfidf.fit([r.text for r in train], labels)
            classes = sorted(self.config.data.labels)
            return align_columns(tfidf.predict_proba([r.text for r in held]), tfidf.classes_, classes)[:, classes.index("positive")]
        if name == "E5 + LR":
            x_train = self.encoder.encode([r.text for r in train])
            x_held = self.encoder.encode([r.text for r in held])
            scaler = StandardScaler().fit(x_train)
            probe = LogisticRegressionCV(Cs=SENTENCE_CS, cv=5, max_iter=3000)
            probe.fit(scaler.transform(x_train), np.array([lab == "positive" for lab in labels], dtype=int))
            return probe.predict_proba(scaler.transform(x_held))[:, 1]
        if select is None:  # inside the cross-validation: a stratified 10% of the training part selects the epoch
            train, select = train_test_split(train, test_size=0.1, random_state=seed, stratify=labels)
        config = load_config(DOUBAN, [f"seed={seed}", *TRAINED[name]])
        clf = Classifier(config).fit(train, select, extra_texts=self.extra, progress=False)
        proba, kept = clf.predict_records(held)
        assert len(kept) == len(held)
        return proba[:, clf.classes_.index("positive")]


def candidates(members: list[str]) -> list[tuple[str, ...]]:
    return [c for k in range(2, len(members) + 1) for c in itertools.combinations(members, k)]


def cross_validate(members: list[str], helper: Members, train: list, folds: int) -> dict[str, np.ndarray]:
    y = np.array([r.label == "positive" for r in train], dtype=int)
    oof = {m: np.zeros(len(train)) for m in members}
    for k, (fit_idx, held_idx) in enumerate(StratifiedKFold(folds, shuffle=True, random_state=0).split(np.zeros(len(y)), y)):
        fit_part, held = [train[i] for i in fit_idx], [train[i] for i in held_idx]
        for m in members:
            tick = time.perf_counter()
            oof[m][held_idx] = helper.proba(m, fit_part, held)
            print(f"fold {k}: {m}: accuracy {((oof[m][held_idx] > 0.5) == y[held_idx]).mean():.4f} ({time.perf_counter() - tick:.0f} s)", flush=True)
    return oof


def summarise(p: np.ndarray, y: np.ndarray) -> dict:
    return {"accuracy": float(((p > 0.5) == y).mean()), "roc_auc": float(roc_auc_score(y, p))}


def main() -> None:
    warnings.filterwarnings("ignore", category=FutureWarning)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", default="TF-IDF + LR,E5 + LR,Att-BiLSTM + E5")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("runs/bench/ensemble_cv"))
    args = parser.parse_args()
    members = [m.strip() for m in args.members.split(",") if m.strip()]
    unknown = [m for m in members if m not in (*FIXED, *TRAINED)]
    if unknown or len(members) < 2:
        parser.error(f"members: two or more of {[*FIXED, *TRAINED]} (unknown: {unknown})")
    config = load_config(DOUBAN)
    splits = load_splits(config.data)
    train, dev = splits.train.records, splits.dev.records
    helper = Members(config, load_extra_texts(config.data.extra_corpora))

    y_train = np.array([r.label == "positive" for r in train], dtype=int)
    oof = cross_validate(members, helper, train, args.folds)
    print(f"\n{args.folds}-fold cross-validation on Douban train ({len(train)} reviews), out-of-fold:")
    table = {}
    for combo in [(m,) for m in members] + candidates(members):
        table[" + ".join(combo)] = summarise(np.mean([oof[m] for m in combo], axis=0), y_train)
        print(f"  {' + '.join(combo):45s} accuracy {100 * table[' + '.join(combo)]['accuracy']:.2f}  ROC-AUC {table[' + '.join(combo)]['roc_auc']:.4f}")
    choice = max(candidates(members), key=lambda c: (table[" + ".join(c)]["accuracy"], table[" + ".join(c)]["roc_auc"]))
    print(f"choice (best out-of-fold accuracy): {' + '.join(choice)}")

    y_dev = np.array([r.label == "positive" for r in dev], dtype=int)
    truth = [r.label for r in dev]
    fixed = {m: helper.proba(m, train, dev) for m in choice if m in FIXED}
    tfidf = fixed.get("TF-IDF + LR")
    if tfidf is None:
        tfidf = helper.proba("TF-IDF + LR", train, dev)
    runs = []
    for seed in range(args.seeds if any(m in TRAINED for m in choice) else 1):
        probas = {m: fixed[m] if m in fixed else helper.proba(m, train, dev, seed=seed, select=dev) for m in choice}
        mean = np.mean(list(probas.values()), axis=0)
        test = mcnemar(truth, ["positive" if p > 0.5 else "negative" for p in mean], ["positive" if p > 0.5 else "negative" for p in tfidf])
        runs.append({"seed": seed, **summarise(mean, y_dev), "members": {m: summarise(p, y_dev) for m, p in probas.items()}, "mcnemar_vs_tfidf_p": test.p_value})
        print(f"Douban dev, seed {seed}: {' + '.join(choice)}: accuracy {100 * runs[-1]['accuracy']:.2f}  ROC-AUC {runs[-1]['roc_auc']:.4f}  "
              f"McNemar vs TF-IDF + LR p = {test.p_value:.2g}  (members: "
              + ", ".join(f"{m} {100 * s['accuracy']:.2f} / {s['roc_auc']:.4f}" for m, s in runs[-1]["members"].items()) + ")", flush=True)
    for key in ("accuracy", "roc_auc"):
        values = [r[key] for r in runs]
        sd = statistics.stdev(values) if len(values) > 1 else 0.0
        print(f"Douban dev {key}: {100 * statistics.mean(values):.2f} +- {100 * sd:.2f} over {len(values)} seed(s)")
    args.out.mkdir(parents=True, exist_ok=True)
    target = args.out / "ensemble_cv.json"
    target.write_text(json.dumps({"members": members, "folds": args.folds, "out_of_fold": table, "choice": list(choice), "dev": runs}, indent=2, ensure_ascii=False))
    print(f"written {target}")


if __name__ == "__main__":
    main()
