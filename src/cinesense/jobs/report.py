"""The parts of a job's report that every job has: the heading of its results table, the data
lines, the note when the tables score dev, the figures (training loss, ROC curves, a confusion
matrix per model of ours) and the line that says how to reproduce the run."""

from __future__ import annotations

import re
from pathlib import Path

from cinesense.data.splits import Splits
from cinesense.evaluate.metrics import positive_class
from cinesense.evaluate.plots import plot_confusion, plot_roc_curves, plot_training_loss
from cinesense.jobs.results import JobResults

TABLE_HEADINGS = {
    "text": "Results on the {scored} split (standard metrics, %)",
    "image": "Sticker polarity on the {scored} split (standard metrics, %)",
    "fused": "Table 2: text, image and fused on the {scored} split (standard metrics, %)",
}
DEV_SCORED = {  # what scoring dev means for each job: the text job says it before its data, the fused job after
    "text": (
        "**Scored on dev**: this data has no test split here, so the tables score dev, which also selected the "
        "Att-BiLSTM's epoch: its figures are slightly optimistic.\n\n"
    ),
    "image": (
        "**Scored on dev**: this data has no test split here, so the tables score dev, which also selected the "
        "Att-VGG16's epoch: its figures are slightly optimistic.\n\n"
    ),
    "fused": (
        "\n\n**Scored on dev.** This data set has no test split here, so the tables score the dev split, which also "
        "selected every model's epochs (and, with `fusion.late_fit = \"dev\"`, fitted the late-fusion weights): the "
        "figures are optimistic. Give a held-out file as `data.test` for a clean estimate."
    ),
}


def table_heading(job: JobResults) -> str:
    return TABLE_HEADINGS[job.kind].format(scored=job.scored)


def dev_scored_note(job: JobResults) -> str:
    """The note a report carries when its tables score dev (empty when they score test)."""
    return DEV_SCORED[job.kind] if job.scored == "dev" else ""


def split_lines(splits: Splits, noun: str, sources: bool) -> str:
    """One line per split: its size and classes (and, with ``sources``, where it came from)."""
    return "\n".join(
        f"- **{name}**: {part['n']} {noun} {part['classes']}" + (f" — {part['source']}" if sources else "")
        for name, part in splits.summary().items()
    )


def reproduce_line(argv: list[str] | None, seconds: float) -> str:
    return f"`{' '.join(argv) if argv else 'cinesense reproduce'}` — whole job {seconds:.0f} s on this machine."


def plot_figures(job: JobResults, figures: Path) -> list[tuple[str, str]]:
    """``figures/training_loss.png`` (every history of the job), ``figures/roc.png`` and a confusion
    matrix per model of ours; returns (system, figure path relative to the report) of the matrices."""
    figures.mkdir(parents=True, exist_ok=True)
    plot_training_loss(job.histories, figures / "training_loss.png")
    pos = positive_class(job.classes)
    k = job.classes.index(pos)
    plot_roc_curves(job.y_true, {s.name: s.proba[:, k] for s in job.systems if s.roc}, pos, figures / "roc.png")
    matrices = []
    for s in job.ours():
        name = re.sub(r"[^a-z0-9]+", "_", s.name.lower()).strip("_")
        title = s.name if job.kind == "fused" else f"{s.name} ({job.scored})"
        plot_confusion(s.metrics["confusion_matrix"], job.classes, title, figures / f"confusion_{name}.png")
        matrices.append((s.name, f"figures/confusion_{name}.png"))
    return matrices
