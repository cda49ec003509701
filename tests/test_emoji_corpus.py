"""Tests of the emoji sentiment labels, emoji rendering and the emoji-image corpus builder."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cinesense.cli import main
from cinesense.data.emoji import build_emoji_corpus, is_face, stratified_identity_split
from cinesense.data.emoji_ranking import PolarityThresholds, codepoints_of, load_emoji_sentiment
from cinesense.data.emoji_render import EmojiRenderer, RenderError, font_path_for

HAS_NOTO = font_path_for("noto") is not None


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _write_ranking(path: Path, rows: list[tuple[str, int, int, int]]) -> Path:
    lines = ["Emoji,Unicode codepoint,Occurrences,Position,Negative,Neutral,Positive,"
             "Unicode name,Unicode block"]
    for char, neg, neu, pos in rows:
        lines.append(f"{char},0x{ord(char):x},{neg + neu + pos},0.5,{neg},{neu},{pos},NAME,Block")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_thresholds_on_fake_rows(tmp_path: Path) -> None:
    csv_path = _write_ranking(tmp_path / "ranking.csv", [
        ("😂", 10, 20, 70),  # score 0.6 -> positive
        ("😢", 40, 30, 30),  # score -0.1 -> negative
        ("😐", 20, 50, 30),  # score 0.1 -> negative (boundary is inclusive)
        ("🙂", 20, 40, 40),  # score 0.2 -> neutral band
        ("😍", 10, 40, 50),  # score 0.4 -> positive (boundary is inclusive)
        ("🥳", 0, 0, 19),  # 19 occurrences -> too rare
    ])
    rows = load_emoji_sentiment(csv_path)
    assert [r.polarity for r in rows] == [
        "positive", "negative", "negative", "neutral", "positive", None]
    assert rows[1].score == pytest.approx(-0.1)
    assert rows[0].codepoints == "1f602" and rows[0].occurrences == 100
    strict = PolarityThresholds(min_occurrences=5, negative_max=0.0, positive_min=0.5)
    assert [r.polarity for r in load_emoji_sentiment(csv_path, strict)] == [
        "positive", "negative", "neutral", "neutral", "neutral", "positive"]
    with pytest.raises(ValueError):
        PolarityThresholds(negative_max=0.5, positive_min=0.4)


def test_shipped_ranking_has_both_classes() -> None:
    rows = load_emoji_sentiment()
    assert len(rows) == 969
    polarity = {r.char: r.polarity for r in rows}
    assert polarity["😍"] == "positive" and polarity["😢"] == "negative"
    assert sum(r.polarity == "negative" for r in rows) >= 60
    assert codepoints_of("👍🏽") == "1f44d-1f3fd"


def test_openmoji_renders_a_coloured_emoji() -> None:
    image = EmojiRenderer("openmoji").render("😂", 96, margin=6)
    assert image.mode == "RGB" and image.size == (96, 96)
    pixels = np.asarray(image).astype(int)
    non_white = (pixels < 250).any(axis=2)
    assert 0.2 < non_white.mean() < 0.95
    saturation = pixels.max(axis=2) - pixels.min(axis=2)
    assert (saturation > 100).mean() > 0.1  # yellow face, not a grey outline
    assert not non_white[:3].any() and not non_white[:, :3].any()  # margin stays blank
    rgba = EmojiRenderer("openmoji").render("😂", 96, background="transparent")
    assert rgba.mode == "RGBA" and np.asarray(rgba)[0, 0, 3] == 0


def test_missing_glyph_is_reported() -> None:
    with pytest.raises(RenderError, match="notdef"):
        EmojiRenderer("openmoji").render("\u2550")  # box drawing: no OpenMoji glyph


@pytest.mark.skipif(not HAS_NOTO, reason="fonts-noto-color-emoji is not installed")
def test_noto_renders_at_any_size() -> None:
    image = EmojiRenderer("noto").render("😂", 64)
    assert image.size == (64, 64)
    assert (np.asarray(image) < 250).any()
    with pytest.raises(RenderError, match="blank"):
        EmojiRenderer("noto").render("\u2550")


def test_stratified_identity_split() -> None:
    labels = {f"p{i}": "positive" for i in range(20)} | {f"n{i}": "negative" for i in range(10)}
    split = stratified_identity_split(labels, seed=3, test_fraction=0.2, dev_fraction=0.1)
    assert split == stratified_identity_split(labels, seed=3, test_fraction=0.2, dev_fraction=0.1)
    count = Counter((part, labels[key]) for key, part in split.items())
    assert count[("test", "positive")] == 4 and count[("test", "negative")] == 2
    assert count[("dev", "positive")] == 2 and count[("dev", "negative")] == 1
    assert split != stratified_identity_split(labels, seed=4, test_fraction=0.2, dev_fraction=0.1)


def _ids_by_emoji(records: list[dict]) -> set[str]:
    return {r["id"].rsplit("-", 1)[-1] for r in records}


def test_small_corpus(tmp_path: Path) -> None:
    out = tmp_path / "corpus"
    summary = build_emoji_corpus(out, styles=("openmoji", "noto"), size=48, limit=12, seed=1)
    assert summary["rebuilt"] is True
    splits = {p: _read(out / "identity" / f"{p}.jsonl") for p in ("train", "dev", "test")}
    emoji = {p: {r["emoji"] for r in recs} for p, recs in splits.items()}
    assert not emoji["train"] & emoji["test"]
    assert not emoji["train"] & emoji["dev"] and not emoji["dev"] & emoji["test"]
    for part, recs in splits.items():
        labels = {r["label"] for r in recs}
        assert labels == {"positive", "negative"}, part
        for rec in recs:
            assert set(rec) == {"id", "image", "label", "emoji", "style", "score"}
            assert not Path(rec["image"]).is_absolute()
            image_path = out / "identity" / rec["image"]
            assert image_path.is_file()
            assert Image.open(image_path).size == (48, 48)
            assert rec["id"] == f"emoji-{rec['style']}-{codepoints_of(rec['emoji'])}"
            assert (rec["label"] == "positive") == (rec["score"] >= 0.4)
    test_ids = _ids_by_emoji(splits["test"])
    n_test = {lab: len({r["emoji"] for r in splits["test"] if r["label"] == lab})
              for lab in ("positive", "negative")}
    assert len(test_ids) == sum(n_test.values())
    assert 2 <= n_test["positive"] <= 3 and 2 <= n_test["negative"] <= 3  # 20 % of <= 12 each
    stored = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert stored["splits"]["identity/test"]["total"] == len(splits["test"])
    if HAS_NOTO:
        style_train = _read(out / "style" / "train.jsonl")
        style_dev = _read(out / "style" / "dev.jsonl")
        style_test = _read(out / "style" / "test.jsonl")
        assert {r["style"] for r in style_train + style_dev} == {"openmoji"}
        assert {r["style"] for r in style_test} == {"noto"}
        assert not _ids_by_emoji(style_train) & _ids_by_emoji(style_dev)
    else:
        assert stored["styles_unavailable"] == ["noto"]


def test_rebuild_is_deterministic_and_skipped(tmp_path: Path) -> None:
    kwargs = {"styles": ("openmoji",), "size": 32, "limit": 8, "seed": 0}
    first = tmp_path / "a"
    build_emoji_corpus(first, **kwargs)
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    snapshot = {p: (first / p).read_bytes() for p in files}
    again = build_emoji_corpus(first, **kwargs)
    assert again["rebuilt"] is False
    assert build_emoji_corpus(first, **kwargs, force=True)["rebuilt"] is True
    second = tmp_path / "b"
    build_emoji_corpus(second, **kwargs)
    for root in (first, second):
        now = sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file())
        assert now == files
        assert all((root / p).read_bytes() == snapshot[p] for p in files)
    changed = build_emoji_corpus(first, **{**kwargs, "seed": 5})
    assert changed["rebuilt"] is True and changed["params"]["seed"] == 5
    assert not (first / "style").exists()  # style protocol needs both fonts


def test_main_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "emoji", "--out", str(tmp_path), "--styles", "openmoji", "--size", "24", "--limit", "5"]) == 0
    assert "identity/train" in capsys.readouterr().out
    assert (tmp_path / "identity" / "test.jsonl").is_file()


def test_face_subset_keeps_only_face_emoji_in_every_split(monkeypatch: pytest.MonkeyPatch) -> None:
    """data.emoji_subset = "faces": the identity split's own parts, filtered to face / gesture emoji."""
    import cinesense.data.splits as splits
    from cinesense.config import DataConfig

    small = lambda root, seed: build_emoji_corpus(root, styles=("openmoji",), size=24, limit=40, seed=seed)  # noqa: E731
    monkeypatch.setattr(splits, "build_emoji_corpus", small)
    every = splits.load_splits(DataConfig(source="emoji", split_seed=0))
    faces = splits.load_splits(DataConfig(source="emoji", split_seed=0, emoji_subset="faces"))
    for name in ("train", "dev", "test"):
        all_part, face_part = getattr(every, name).records, getattr(faces, name).records
        assert [r.id for r in face_part] == [r.id for r in all_part if is_face(r.meta["emoji"])]
    assert faces.train.records and len(faces.train) < len(every.train)
    assert "face / gesture" in faces.train.source
    with pytest.raises(ValueError, match="emoji_subset"):
        splits.load_splits(DataConfig(source="emoji", emoji_subset="hearts"))


def test_image_folder_style_renders_by_code_points(tmp_path: Path) -> None:
    """An npm image style (e.g. fluent3d) is a folder of images named by code points, FE0F optional."""
    from PIL import Image

    Image.new("RGBA", (40, 20), (250, 30, 30, 255)).save(tmp_path / "1f602.png")
    Image.new("RGBA", (30, 30), (30, 30, 250, 255)).save(tmp_path / "263a-fe0f.png")
    renderer = EmojiRenderer("fluent3d", font_path=tmp_path)
    wide = np.asarray(renderer.render("😂", 64, margin=4))
    assert wide.shape == (64, 64, 3) and tuple(wide[32, 32]) == (250, 30, 30)
    assert (wide[:14] == 255).all()  # a 2:1 image keeps its aspect ratio, centred
    assert tuple(np.asarray(renderer.render("☺", 64))[32, 32]) == (30, 30, 250)
    with pytest.raises(RenderError, match="blank"):
        renderer.render("😡")


def test_unfetched_npm_styles_are_unavailable_and_unknown_styles_refused() -> None:
    from cinesense.data.emoji_render import NPM_STYLES, STYLES

    assert set(NPM_STYLES) <= set(STYLES)
    assert all(font_path_for(s) is None for s in NPM_STYLES)  # the test cache has fetched none
    with pytest.raises(ValueError, match="unknown emoji style"):
        font_path_for("apple")


@pytest.mark.skipif(font_path_for("symbola") is None, reason="fonts-symbola is not installed")
def test_monochrome_font_draws_black_lines() -> None:
    pixels = np.asarray(EmojiRenderer("symbola").render("😂", 64)).astype(int)
    assert (pixels.max(axis=2) < 60).mean() > 0.05
