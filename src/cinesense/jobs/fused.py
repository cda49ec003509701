"""The fused job (the paper's Table 2 and beyond): train the text branch, the image branch and every
fusion in ``config.fusion.compare`` on the same split, save each model with its dev and test
metrics, and score them beside the baselines (its report: :mod:`cinesense.jobs.fused_report`).
Each E5 variant of ``text_encoder.compare`` ("probe", "bilstm") adds its text model
(``encoder_<variant>/``) and every fusion over it (``fused_<method>_encoder_<variant>/``) as rows."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cinesense.cache import default_cache_dir
from cinesense.classifier import Classifier, fit_branch
from cinesense.config import ENCODER_COMBINES, ExperimentConfig
from cinesense.data.export import export_splits
from cinesense.data.splits import Splits, load_extra_texts
from cinesense.evaluate.baselines import TfidfLogisticRegression, align_columns
from cinesense.evaluate.metrics import classification_metrics
from cinesense.fusion.model import METHODS
from cinesense.jobs.results import JobResults, system
from cinesense.jobs.scoring import (
    ENCODER_ROWS, FUSION_ROWS, IMAGE_ROW, TEXT_ROW, encoder_fusion_row, image_only_proba, majority_proba, text_only_proba,
    training_prior,
)
from cinesense.jobs.training_run import pretrained_branches, scored_split, start_run
from cinesense.progress import say
from cinesense.rundir import write_json


@dataclass
class TrainedSystems:
    text: Classifier
    image: Classifier
    fused: dict[str, Classifier]
    seconds: dict[str, float]
    encoders: dict[str, Classifier] = dataclasses.field(default_factory=dict)  # E5 text models by variant (text_encoder.compare)
    encoder_fused: dict[tuple[str, str], Classifier] = dataclasses.field(default_factory=dict)  # (variant, method) -> fusion over it

    def text_models(self) -> list[Classifier]:
        return [self.text, *self.encoders.values()]


def train_systems(config: ExperimentConfig, splits: Splits, progress: bool) -> TrainedSystems:
    """Text branch, image branch and each fusion of ``config.fusion.compare`` (:func:`save_systems`
    writes them once they are scored)."""
    seconds: dict[str, float] = {}
    train, dev = splits.train.records, splits.dev.records
    unknown = [m for m in config.fusion.compare if m not in METHODS]
    if unknown or not config.fusion.compare:
        raise ValueError(f"fusion.compare must list fusion methods among {', '.join(METHODS)}, got {config.fusion.compare}")
    variants = list(config.text_encoder.compare)
    if any(v not in ENCODER_COMBINES for v in variants):
        raise ValueError(f"a fused job's text_encoder.compare lists E5 text branches among {', '.join(ENCODER_COMBINES)}, got {variants}")
    tick = time.perf_counter()
    say(progress, "text branch (Att-BiLSTM)")
    extra_texts = load_extra_texts(config.data.extra_corpora)
    text = fit_branch(config, "text", train, dev, extra_texts=extra_texts, progress=progress)
    seconds[TEXT_ROW] = time.perf_counter() - tick
    tick = time.perf_counter()
    say(progress, f"image branch (Att-VGG16), trained on {config.fusion.image_pretrain}")
    image = pretrained_branches(config, progress).get("image") or fit_branch(config, "image", train, dev, progress=progress)
    seconds[IMAGE_ROW] = time.perf_counter() - tick
    fused: dict[str, Classifier] = {}
    for method in config.fusion.compare:
        tick = time.perf_counter()
        say(progress, f"fusion: {method}")
        method_config = dataclasses.replace(config, modality="fused", fusion=dataclasses.replace(config.fusion, method=method))
        fused[method] = Classifier(method_config).fit(train, dev or None, branches={"text": text, "image": image}, progress=progress)
        seconds[FUSION_ROWS[method]] = time.perf_counter() - tick
    systems = TrainedSystems(text, image, fused, seconds)
    for variant in variants:
        tick = time.perf_counter()
        say(progress, f"text branch ({ENCODER_ROWS[variant]})")
        variant_config = dataclasses.replace(config, name=f"{config.name}.e5-{variant}",
                                             text_encoder=dataclasses.replace(config.text_encoder, combine=variant, compare=[]))
        encoder = systems.encoders[variant] = fit_branch(variant_config, "encoder", train, dev, extra_texts=extra_texts, progress=progress)
        seconds[f"{ENCODER_ROWS[variant]} (text only)"] = time.perf_counter() - tick
        for method in config.fusion.compare:
            tick = time.perf_counter()
            say(progress, f"fusion: {method} over {ENCODER_ROWS[variant]}")
            section = dataclasses.replace(config.fusion, method=method, text_branch="encoder", text_init="branch")
            systems.encoder_fused[variant, method] = Classifier(dataclasses.replace(variant_config, modality="fused", fusion=section)).fit(
                train, dev or None, branches={"encoder": encoder, "image": image}, progress=progress)
            seconds[encoder_fusion_row(variant, method)] = time.perf_counter() - tick
    return systems


def saved_models(systems: TrainedSystems) -> dict[str, tuple[str, Classifier]]:
    """Each saved model's folder name -> (its row in the tables, the model)."""
    models = {"text_model": (TEXT_ROW, systems.text), "image_model": (IMAGE_ROW, systems.image)}
    models.update({f"fused_{m}": (FUSION_ROWS[m], clf) for m, clf in systems.fused.items()})
    models.update({f"encoder_{v}": (f"{ENCODER_ROWS[v]} (text only)", clf) for v, clf in systems.encoders.items()})
    models.update({f"fused_{m}_encoder_{v}": (encoder_fusion_row(v, m), clf) for (v, m), clf in systems.encoder_fused.items()})
    return models


def model_metrics(systems: TrainedSystems, splits: Splits, classes: list[str], scored: str) -> dict[str, dict[str, Any]]:
    """What each saved model's manifest records (``GET /v1/model`` shows it): its standard metrics
    on dev and, when the run has a test split, on test, as the tables score it (the image model on
    the comments that have a sticker, mean over their stickers), its epoch kept and training time."""
    parts = {"dev": splits.dev.records} | ({"test": splits.test.records} if scored == "test" else {})
    metrics: dict[str, dict[str, Any]] = {}
    for folder, (row, clf) in saved_models(systems).items():
        scored_on = f"the {' and '.join(parts)} comments of this run (data/*.jsonl)"
        if clf is systems.image:
            scored_on += " that have a sticker, mean probability over their stickers"
        entry: dict[str, Any] = {"best_epoch": clf.history_.best_epoch, "train_seconds": systems.seconds.get(row), "scored_on": scored_on}
        for name, records in parts.items():
            if clf is systems.image:
                records = [r for r in records if r.images]
                proba, kept = image_only_proba(clf, records, np.full(len(classes), 1 / len(classes))), list(range(len(records)))
            elif any(clf is text for text in systems.text_models()):  # the comments with text, read as in training
                with_text = [i for i, r in enumerate(records) if r.text]  # (a text without words is not refused)
                proba, found = clf.predict_records([records[i] for i in with_text]) if with_text else (np.empty((0, len(classes))), [])
                kept = [with_text[j] for j in found]
            else:
                proba, kept = clf.predict_records(records)
            if kept:
                entry[name] = classification_metrics([records[i].label for i in kept], proba, classes)
                entry[name]["n_unscored"] = len(records) - len(kept)
        metrics[folder] = entry
    return metrics


def save_systems(systems: TrainedSystems, out: Path, metrics: dict[str, dict[str, Any]]) -> None:
    """Every model bundle with its metrics in the manifest, and its training history."""
    for folder, (_, clf) in saved_models(systems).items():
        clf.save(out / folder, metrics=metrics.get(folder))
        write_json(out / folder / "history.json", clf.history_.to_dict())


def score_systems(systems: TrainedSystems, splits: Splits, classes: list[str]) -> dict[str, np.ndarray]:
    """Test-set probabilities of every system, baselines first (rows follow the test records)."""
    test, train = splits.test.records, splits.train.records
    prior = training_prior(train, classes)
    tfidf = TfidfLogisticRegression(systems.text.text_.tokenizer).fit([r.text or "" for r in train], [r.label for r in train])
    probabilities = {
        "majority class": majority_proba(prior, len(test)),
        "TF-IDF + LR (text only)": align_columns(tfidf.predict_proba([r.text or "" for r in test]), tfidf.classes_, classes),
        TEXT_ROW: text_only_proba(systems.text, test, prior),
        IMAGE_ROW: image_only_proba(systems.image, test, prior),
    }
    probabilities.update({f"{ENCODER_ROWS[v]} (text only)": text_only_proba(clf, test, prior) for v, clf in systems.encoders.items()})
    fusions = {FUSION_ROWS[m]: clf for m, clf in systems.fused.items()}
    fusions.update({encoder_fusion_row(v, m): clf for (v, m), clf in systems.encoder_fused.items()})
    for row, clf in fusions.items():
        proba, kept = clf.predict_records(test)
        if len(kept) != len(test):
            raise ValueError(f"{len(test) - len(kept)} test comment(s) had neither readable text nor image")
        probabilities[row] = proba
    return probabilities


def run_fused_job(config: ExperimentConfig, out: Path, argv: list[str] | None, progress: bool) -> JobResults:
    """Record the run, export its data to ``out/data``, train and save every system into ``out``,
    and score them all on test (dev when the data has no test split)."""
    if config.train.threads:  # the whole job (conv-feature cache, predictions) on the configured threads, not only the fits
        torch.set_num_threads(config.train.threads)
    _, splits = start_run(config, out, argv, progress)
    if not splits.dev.records:
        raise ValueError("the multimodal job needs a dev split (data.dev or split_fractions)")
    scored, splits = scored_split(splits)
    export_splits({"train": splits.train.records, "dev": splits.dev.records, "test": splits.test.records},
                  out / "data", copy_from=[default_cache_dir()])
    write_json(out / "data.json", splits.summary())
    systems = train_systems(config, splits, progress)
    classes = list(systems.text.classes_)
    test = splits.test.records
    y_true = [r.label for r in test]
    probabilities = score_systems(systems, splits, classes)
    save_systems(systems, out, model_metrics(systems, splits, classes, scored))
    models = {row: clf for row, clf in saved_models(systems).values()}
    results = [
        system(name, proba, classes, y_true, seconds=systems.seconds.get(name), ours=name in models,
               model=models.get(name), roc=name != "majority class")
        for name, proba in probabilities.items()
    ]
    histories = {TEXT_ROW: systems.text.history_, IMAGE_ROW: systems.image.history_}
    histories.update({FUSION_ROWS[m]: c.history_ for m, c in systems.fused.items() if m != "late"})
    histories.update({f"{ENCODER_ROWS[v]} (text only)": c.history_ for v, c in systems.encoders.items()})
    histories.update({encoder_fusion_row(v, m): c.history_ for (v, m), c in systems.encoder_fused.items() if m != "late"})
    return JobResults("fused", config, splits, scored, test, classes, results, histories)
