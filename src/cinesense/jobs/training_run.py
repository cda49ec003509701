"""What every run does first: record the run, load the data, and decide the split the tables score;
and ``cinesense train``: one model of a config trained on its data, saved with its run record."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cinesense.classifier import Classifier
from cinesense.config import ExperimentConfig
from cinesense.data.splits import Splits, emoji_splits, load_extra_texts, load_splits
from cinesense.evaluate.plots import plot_training_loss
from cinesense.evaluate.scoring import evaluate
from cinesense.progress import say
from cinesense.rundir import record_run, write_json
from cinesense.text.word2vec import save_vectors


def start_run(config: ExperimentConfig, out: Path, argv: list[str] | None, progress: bool) -> tuple[dict[str, str], Splits]:
    """Write the run record (config, command, git revision) into ``out`` and load the config's data;
    returns the provenance and the splits."""
    provenance = record_run(out, config, argv)
    splits = load_splits(config.data)
    say(progress, f"data: train {len(splits.train)}, dev {len(splits.dev)}, test {len(splits.test)}")
    return provenance, splits


def scored_split(splits: Splits) -> tuple[str, Splits]:
    """The split a job's tables score: "test", or "dev" when the data has no test split (e.g. Douban,
    MVSA-Single, whose test split is held back; the report says so). Returns its name and the splits
    with that part as ``test``."""
    if splits.test.records:
        return "test", splits
    if not splits.dev.records:
        raise ValueError("reproduce needs a test or dev split: set data.test / data.dev or split_fractions")
    return "dev", dataclasses.replace(splits, test=splits.dev)


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
    train, dev, _ = emoji_splits(emoji_data)
    image_config = dataclasses.replace(config.branch_config("image"), data=emoji_data)
    say(progress, f"image branch: trained on the emoji sticker corpus ({len(train)} images, dev {len(dev)})")
    return {"image": Classifier(image_config).fit(train.records, dev.records, progress=progress)}


MODEL_NAMES = {"text": "Att-BiLSTM", "image": "Att-VGG16", "fused": "fused", "encoder": "E5 model", "distilled": "distilled Att-BiLSTM"}  # loss-figure names


@dataclass
class TrainedRun:
    classifier: Classifier
    splits: Splits
    metrics: dict[str, Any]
    seconds: float


def train_run(config: ExperimentConfig, out: str | Path, argv: list[str] | None = None, progress: bool = True) -> TrainedRun:
    """Train on the config's data, save the model bundle and the run record into ``out``."""
    out = Path(out)
    provenance, splits = start_run(config, out, argv, progress)
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
    histories = {f"{name} branch": branch.history_ for name, branch in getattr(classifier, "branches_", {}).items()}
    histories[f"{config.fusion.method} fusion" if classifier.modality_ == "fused" else MODEL_NAMES[classifier.modality_]] = classifier.history_
    plot_training_loss(histories, out / "loss.png")
    if classifier.modality_ != "image" and classifier.text_.vectors is not None:
        save_vectors(classifier.text_.vectors, out / "word2vec.bin")
    if classifier.skipped_:
        write_json(out / "skipped_images.json", classifier.skipped_)
        say(progress, f"{len(classifier.skipped_)} unreadable image(s) left out: see skipped_images.json in the run folder")
    classifier.save(out, metrics=metrics, provenance={**provenance, "data": splits.summary()})
    return TrainedRun(classifier, splits, metrics, seconds)
