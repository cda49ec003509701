"""Leave-one-style-out cross-validation of the sticker (image) model: does the polarity it learnt
from some art styles carry over to a style it has never seen? (``[style_cv]``,
:class:`~cinesense.config.StyleCVConfig`; a section of the image job's report, and
``bench/sticker_styles.py`` for comparing variants.)

The emoji corpus is rendered in every installed style (:data:`cinesense.data.emoji_render.STYLES`;
the npm ones after ``python -m cinesense.data.emoji_render fetch``) into
``$CINESENSE_CACHE/emoji_corpus_styles``, and only the face / gesture emoji of its identity **train
and dev** parts are read: test is never read, so the cross-validation does not touch the emoji an
image or fused job is tested on. For each style S, a model trains on the train-part emoji of every
other style (epochs selected on their dev-part emoji) and scores every emoji of style S: the style is
unseen, the emoji concept is not (except the dev-part ones).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.metrics import balanced_accuracy_score

from cinesense.cache import default_cache_dir
from cinesense.classifier import Classifier
from cinesense.config import ExperimentConfig
from cinesense.data.emoji import build_emoji_corpus, is_face
from cinesense.data.emoji_render import STYLES
from cinesense.data.jsonl import load_jsonl
from cinesense.data.schema import Record

MIN_STYLES = 3


@dataclass
class StyleRecords:
    """The face / gesture emoji of the identity train and dev parts, in ``styles``."""

    train: list[Record]
    dev: list[Record]
    styles: list[str]
    unavailable: list[str]


def style_records(labels: Sequence[str], seed: int, styles: Sequence[str] = ()) -> StyleRecords:
    """Build (or reuse) the every-style emoji corpus (identity split ``seed``) and read its face /
    gesture emoji of train and dev. Raises ValueError naming ``style_cv.styles`` for an unknown style,
    or when fewer than three styles are installed."""
    unknown = [s for s in styles if s not in STYLES]
    if unknown:
        raise ValueError(f"style_cv.styles: unknown style(s) {', '.join(unknown)} (known: {', '.join(STYLES)})")
    corpus = default_cache_dir() / "emoji_corpus_styles"
    summary = build_emoji_corpus(corpus, styles=list(styles) or list(STYLES), seed=seed)
    installed = list(summary["params"]["styles"])
    if len(installed) < MIN_STYLES:
        raise ValueError(f"style_cv: needs at least {MIN_STYLES} installed emoji styles, has {installed} (unavailable: "
                         f"{', '.join(summary['styles_unavailable'])}; `python -m cinesense.data.emoji_render fetch` adds four)")
    train, dev = ([r for r in load_jsonl(corpus / "identity" / f"{part}.jsonl", labels=list(labels)).records if is_face(r.meta["emoji"])]
                  for part in ("train", "dev"))
    return StyleRecords(train, dev, installed, list(summary["styles_unavailable"]))


def leave_one_style_out(config: ExperimentConfig, train: Sequence[Record], dev: Sequence[Record], styles: Sequence[str]) -> dict[str, float]:
    """Balanced accuracy on each style of a model of ``config`` trained on the others (records carry
    their style in ``meta["style"]``)."""
    out = {}
    for style in styles:
        fit_on = [r for r in train if r.meta["style"] != style]
        select_on = [r for r in dev if r.meta["style"] != style]
        scored = [r for r in (*train, *dev) if r.meta["style"] == style]
        classifier = Classifier(config).fit(fit_on, select_on or None, progress=False)
        proba, kept = classifier.predict_records(scored)
        predicted = np.asarray(classifier.classes_)[proba.argmax(axis=1)]
        out[style] = float(balanced_accuracy_score([scored[i].label for i in kept], predicted))
    return out


def style_cv(config: ExperimentConfig, records: StyleRecords, seeds: int) -> dict[str, Any]:
    """:func:`leave_one_style_out` with model seeds ``config.seed .. config.seed + seeds - 1``:
    ``{"styles", "runs" (per seed: each style then the mean), "mean", "sd", "train_images", "dev_images"}``."""
    if seeds < 1:
        raise ValueError(f"style_cv.seeds: needs at least 1 seed, got {seeds}")
    runs = []
    for offset in range(seeds):
        seeded = dataclasses.replace(config, seed=config.seed + offset)
        per_style = leave_one_style_out(seeded, records.train, records.dev, records.styles)
        runs.append([per_style[s] for s in records.styles] + [float(np.mean(list(per_style.values())))])
    table = np.array(runs)
    return {"styles": records.styles, "unavailable": records.unavailable, "runs": runs, "mean": table.mean(axis=0).tolist(),
            "sd": table.std(axis=0).tolist(), "train_images": len(records.train), "dev_images": len(records.dev)}


def style_cv_header(styles: Sequence[str]) -> str:
    """The head of a markdown table of :func:`style_cv` results: a column per left-out style, then the mean."""
    return f"| system | {' | '.join(styles)} | mean |\n" + "|---|" + "---|" * (len(styles) + 1)


def style_cv_row(result: dict[str, Any], name: str) -> str:
    """One row ``name`` of that table: mean ± sd of each style and of the mean."""
    return f"| {name} | " + " | ".join(f"{m:.3f} ± {d:.3f}" for m, d in zip(result["mean"], result["sd"])) + " |"


def style_cv_table(result: dict[str, Any], name: str) -> str:
    """A markdown table of :func:`style_cv`'s result with one row, ``name``."""
    return style_cv_header(result["styles"]) + "\n" + style_cv_row(result, name)
