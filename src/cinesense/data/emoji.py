"""Build a real, labelled emoji-image corpus (image-only positive/negative examples).

Labels come from the Emoji Sentiment Ranking (see :mod:`cinesense.data.emoji_ranking` for the
thresholds and their rationale); images are renderings of each emoji in one or two colour fonts
(see :mod:`cinesense.data.emoji_render`). Layout of ``out_dir``::

    images/{style}/{codepoints}.png
    identity/{train,dev,test}.jsonl   split by emoji identity, stratified by label
    style/{train,dev,test}.jsonl      train/dev: OpenMoji, test: Noto (only if Noto is installed)
    summary.json                      parameters, class counts per split, skipped emoji

Records follow the shared JSONL format, without ``"text"``::

    {"id": "emoji-openmoji-1f602", "image": "../images/openmoji/1f602.png", "label": "positive",
     "emoji": "😂", "style": "openmoji", "score": 0.2214}

``image`` is relative to the JSONL file's folder, hence the leading ``../``.

Protocols: *identity* assigns whole emoji to train/dev/test (seeded, stratified by label), and every
rendering of an emoji (any style) goes to its emoji's split, so no test or dev emoji is seen in
training in any style. *style* trains on OpenMoji renderings and tests on all Noto renderings (the
same emoji drawn differently); its dev split is a stratified identity split carved out of the
OpenMoji emoji. Builds are deterministic; a build whose parameters match ``summary.json`` and whose
files all exist is skipped. Rebuilding deletes ``images/``, ``identity/`` and ``style/`` first.
Run ``python -m cinesense.data.emoji OUT_DIR`` to build by hand.
"""

from __future__ import annotations

import json
import random
import shutil
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from cinesense.data.emoji_ranking import (
    EmojiSentiment,
    PolarityThresholds,
    load_emoji_sentiment,
)
from cinesense.data.emoji_render import Background, EmojiRenderer, RenderError, font_path_for

__all__ = [
    "EmojiSentiment",
    "PolarityThresholds",
    "build_emoji_corpus",
    "is_face",
    "load_emoji_sentiment",
    "stratified_identity_split",
]

FORMAT_VERSION = 1
LABELS = ("negative", "positive")
_MANAGED = ("images", "identity", "style")
FACE_RANGES = ((0x1F600, 0x1F64F), (0x1F910, 0x1F92F), (0x1F970, 0x1F97A), (0x263A, 0x263A), (0x2639, 0x2639))


def is_face(emoji: str) -> bool:
    """Whether an emoji is a face / gesture emoji (Emoticons block, supplemental faces, ☺ ☹): the
    reaction stickers (``data.emoji_subset = "faces"``, ``data.multimodal.stickers = "faces"``)."""
    code = ord(emoji[0])
    return any(low <= code <= high for low, high in FACE_RANGES)


def stratified_identity_split(
    labels: dict[str, str], *, seed: int, test_fraction: float, dev_fraction: float
) -> dict[str, str]:
    """Assign each key (an emoji's code points) to ``train``, ``dev`` or ``test``.

    Within each label the keys are sorted, shuffled with a generator seeded by ``seed`` and the
    label, and cut: the first ``round(n * test_fraction)`` go to test, the next
    ``round(n * dev_fraction)`` to dev, the rest to train (at least one key stays in train).

    Args:
        labels: Key -> label.
        seed: Random seed.
        test_fraction: Share of each label's keys for test.
        dev_fraction: Share of each label's keys for dev.

    Returns:
        Key -> split name.
    """
    if test_fraction < 0 or dev_fraction < 0 or test_fraction + dev_fraction >= 1:
        raise ValueError("need 0 <= test_fraction, dev_fraction and their sum < 1")
    assignment: dict[str, str] = {}
    for label in sorted(set(labels.values())):
        keys = sorted(k for k, v in labels.items() if v == label)
        random.Random(f"{seed}:{label}").shuffle(keys)
        n_test = min(round(len(keys) * test_fraction), max(len(keys) - 1, 0))
        n_dev = min(round(len(keys) * dev_fraction), max(len(keys) - 1 - n_test, 0))
        for i, key in enumerate(keys):
            assignment[key] = "test" if i < n_test else "dev" if i < n_test + n_dev else "train"
    return assignment


def _record(row: EmojiSentiment, style: str) -> dict[str, Any]:
    cps = row.codepoints
    return {"id": f"emoji-{style}-{cps}", "image": f"../images/{style}/{cps}.png",
            "label": row.polarity, "emoji": row.char, "style": style, "score": round(row.score, 4)}


def _counts(records: Iterable[dict[str, Any]]) -> dict[str, Any]:
    records = list(records)
    by_style: dict[str, Counter[str]] = {}
    for r in records:
        by_style.setdefault(r["style"], Counter())[r["label"]] += 1
    total = Counter(r["label"] for r in records)
    return {
        "total": len(records),
        **{label: total[label] for label in LABELS},
        "by_style": {s: {label: c[label] for label in LABELS} for s, c in sorted(by_style.items())},
    }


def _select(rows: Sequence[EmojiSentiment], limit: int | None) -> list[EmojiSentiment]:
    """Keep labelled emoji; with ``limit``, only the first ``limit`` of each class (CSV order)."""
    taken: Counter[str] = Counter()
    selected = []
    for row in rows:
        if row.polarity in LABELS and (limit is None or taken[row.polarity] < limit):
            taken[row.polarity] += 1
            selected.append(row)
    return selected


def _is_current(out: Path, params: dict[str, Any]) -> dict[str, Any] | None:
    """Return the stored summary if ``out`` holds a complete build with ``params``."""
    try:
        summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if summary.get("params") != params:
        return None
    for name in summary.get("splits", {}):
        jsonl = out / f"{name}.jsonl"
        if not jsonl.is_file():
            return None
        for line in jsonl.read_text(encoding="utf-8").splitlines():
            if not (jsonl.parent / json.loads(line)["image"]).is_file():
                return None
    return summary


def build_emoji_corpus(
    out_dir: str | Path,
    *,
    styles: Sequence[str] = ("openmoji", "noto"),
    size: int = 128,
    margin: int = 8,
    background: Background = "white",
    seed: int = 0,
    test_fraction: float = 0.2,
    dev_fraction: float = 0.1,
    thresholds: PolarityThresholds | None = None,
    limit: int | None = None,
    force: bool = False,
) -> dict[str, Any]:
    """Render the labelled emoji and write the split JSONL files (see the module docstring).

    Args:
        out_dir: Output folder (created if needed).
        styles: Styles to render (see :data:`~cinesense.data.emoji_render.STYLES`); styles whose
            font or images are not installed are skipped and listed under ``styles_unavailable``.
        size: Side of the square images in pixels.
        margin: Empty border around each glyph in pixels.
        background: ``"white"`` (RGB PNG) or ``"transparent"`` (RGBA PNG).
        seed: Seed of the identity splits.
        test_fraction: Share of each class's emoji held out for test (identity protocol).
        dev_fraction: Share of each class's emoji held out for dev (both protocols).
        thresholds: Polarity rules; defaults to :class:`PolarityThresholds`.
        limit: Use only the first ``limit`` emoji of each class (ranking order); for tests.
        force: Rebuild even if an up-to-date build exists.

    Returns:
        The summary written to ``summary.json``, plus ``rebuilt`` (bool) and ``build_seconds``
        (neither stored, so that rebuilds give identical files).

    Raises:
        RuntimeError: If none of the requested styles has a font installed.
    """
    start = time.perf_counter()
    out = Path(out_dir)
    thresholds = thresholds or PolarityThresholds()
    fonts = {s: font_path_for(s) for s in dict.fromkeys(styles)}
    available = [s for s, p in fonts.items() if p is not None]
    if not available:
        raise RuntimeError(f"no font installed for any of the styles {list(styles)}")
    params = {
        "format_version": FORMAT_VERSION,
        "styles": available,
        "fonts": {s: {"file": p.name, "bytes": p.stat().st_size} for s, p in fonts.items() if p},
        "size": size,
        "margin": margin,
        "background": background,
        "seed": seed,
        "test_fraction": test_fraction,
        "dev_fraction": dev_fraction,
        "thresholds": asdict(thresholds),
        "limit": limit,
    }
    if not force and (existing := _is_current(out, params)) is not None:
        return {**existing, "rebuilt": False, "build_seconds": time.perf_counter() - start}

    rows = load_emoji_sentiment(thresholds=thresholds)
    selected = _select(rows, limit)
    for name in _MANAGED:
        shutil.rmtree(out / name, ignore_errors=True)
    (out / "summary.json").unlink(missing_ok=True)
    rendered: dict[str, list[EmojiSentiment]] = {}
    skipped: dict[str, list[dict[str, str]]] = {}
    for style in available:
        renderer = EmojiRenderer(style, fonts[style])
        (out / "images" / style).mkdir(parents=True, exist_ok=True)
        rendered[style], skipped[style] = [], []
        for row in selected:
            try:
                image = renderer.render(row.char, size, margin=margin, background=background)
            except RenderError as err:
                skipped[style].append(
                    {"codepoints": row.codepoints, "emoji": row.char, "name": row.name,
                     "label": str(row.polarity), "reason": str(err)}
                )
                continue
            image.save(out / "images" / style / f"{row.codepoints}.png", optimize=False)
            rendered[style].append(row)

    splits: dict[str, list[dict[str, Any]]] = {}
    seen = {r.codepoints: r for style in available for r in rendered[style]}
    identity = stratified_identity_split(
        {cp: str(r.polarity) for cp, r in seen.items()},
        seed=seed, test_fraction=test_fraction, dev_fraction=dev_fraction,
    )
    for part in ("train", "dev", "test"):
        splits[f"identity/{part}"] = [
            _record(r, s) for s in available for r in rendered[s] if identity[r.codepoints] == part
        ]
    if "openmoji" in available and "noto" in available:
        carve = stratified_identity_split(
            {r.codepoints: str(r.polarity) for r in rendered["openmoji"]},
            seed=seed, test_fraction=0.0, dev_fraction=dev_fraction,
        )
        for part in ("train", "dev"):
            splits[f"style/{part}"] = [
                _record(r, "openmoji") for r in rendered["openmoji"] if carve[r.codepoints] == part
            ]
        splits["style/test"] = [_record(r, "noto") for r in rendered["noto"]]

    for name, records in splits.items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        records.sort(key=lambda r: str(r["id"]))
        lines = [json.dumps(r, ensure_ascii=False) + "\n" for r in records]
        (out / f"{name}.jsonl").write_text("".join(lines), encoding="utf-8", newline="\n")
    summary = {
        "params": params,
        "styles_unavailable": [s for s, p in fonts.items() if p is None],
        "emoji": {
            "in_ranking": len(rows),
            "polarity": dict(sorted(Counter(str(r.polarity) for r in rows).items())),
            "selected": dict(sorted(Counter(str(r.polarity) for r in selected).items())),
        },
        "rendered": {s: _counts(_record(r, s) for r in rendered[s]) for s in available},
        "skipped": {
            s: {"count": len(v), "reasons": dict(sorted(Counter(x["reason"] for x in v).items())),
                "emoji": v}
            for s, v in skipped.items()
        },
        "splits": {name: _counts(records) for name, records in splits.items()},
    }
    text = json.dumps(summary, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    (out / "summary.json").write_text(text, encoding="utf-8")
    return {**summary, "rebuilt": True, "build_seconds": time.perf_counter() - start}
