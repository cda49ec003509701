"""The Markdown report of the main job: data, the comparison table, the paper's numbers, figures."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cinesense.evaluate.metrics import binary_counts, paper_formula_metrics

#: The paper's Table 2 (%, its private Tencent Video crawl; split and sizes not given).
PAPER_TABLE_2 = {
    "BiLSTM": {"accuracy": 78.69, "recall": 76.73, "f": 75.86, "auc": 73.37},
    "VGG16": {"accuracy": 79.91, "recall": 81.77, "f": 75.93, "auc": 75.18},
    "BiLSTM-VGG16": {"accuracy": 85.37, "recall": 87.53, "f": 85.41, "auc": 86.07},
}

COLUMNS = (
    ("accuracy", "accuracy"),
    ("precision", "precision (pos)"),
    ("recall", "recall (pos)"),
    ("f1", "F1 (pos)"),
    ("macro_f1", "macro-F1"),
    ("weighted_f1", "weighted-F1"),
    ("balanced_accuracy", "balanced acc."),
    ("roc_auc", "ROC-AUC"),
)


@dataclass
class SystemResult:
    """One row of the comparison: a system's metrics and predictions on the test split."""

    name: str
    metrics: dict[str, Any]
    predictions: list[str] = field(default_factory=list)
    seconds: float | None = None
    ours: bool = False
    per_second: float | None = None  # comments scored a second (the scored split, one process)


def percent(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.2f}"


def results_table(results: Sequence[SystemResult]) -> str:
    """Markdown table of standard metrics (%), best value of each column in bold."""
    best = {key: max((r.metrics.get(key) or -1 for r in results), default=None) for key, _ in COLUMNS}
    speed = any(r.per_second is not None for r in results)
    labels = [label for _, label in COLUMNS] + (["comments/s"] if speed else [])
    lines = ["| system | " + " | ".join(labels) + " |", "|---" * (len(labels) + 1) + "|"]
    for r in results:
        cells = []
        for key, _ in COLUMNS:
            value = r.metrics.get(key)
            text = percent(value)
            cells.append(f"**{text}**" if value is not None and value == best[key] else text)
        if speed:
            cells.append("n/a" if r.per_second is None else f"{r.per_second:,.0f}")
        name = f"**{r.name}** (ours)" if r.ours else r.name
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def summary_table(results: Mapping[str, Mapping[str, Any]]) -> str:
    """A run's ``results.json`` ({system: {"metrics": ...}}) as a short table (%)."""
    keys = (("accuracy", "accuracy"), ("macro_f1", "macro-F1"), ("weighted_f1", "weighted-F1"), ("roc_auc", "ROC-AUC"))
    lines = ["| system | n | " + " | ".join(label for _, label in keys) + " |", "|---" * (len(keys) + 2) + "|"]
    for name, result in results.items():
        metrics = result["metrics"]
        lines.append(f"| {name} | {metrics.get('n', '')} | " + " | ".join(percent(metrics.get(k)) for k, _ in keys) + " |")
    return "\n".join(lines)


def paper_comparison(results: Sequence[SystemResult], y_true: Sequence[str], mapping: Mapping[str, str]) -> str:
    """The paper's Table 2 beside our systems scored both ways: standard and with its eq. 10-13."""
    lines = [
        "| paper row | paper: acc / \"recall\" / F / \"AUC\" | ours: the paper's formulas applied | ours: standard acc / recall / F1 / ROC-AUC |",
        "|---|---|---|---|",
    ]
    by_name = {r.name: r for r in results}
    for paper_row, our_name in mapping.items():
        ref = PAPER_TABLE_2[paper_row]
        paper = f"{ref['accuracy']:.2f} / {ref['recall']:.2f} / {ref['f']:.2f} / {ref['auc']:.2f}"
        ours = by_name.get(our_name)
        if ours is None or not ours.predictions:
            lines.append(f"| {paper_row} | {paper} | not run | not run |")
            continue
        formula = paper_formula_metrics(**binary_counts(y_true, ours.predictions))
        as_paper = " / ".join(percent(formula[k]) for k in ("accuracy", "recall", "f", "auc"))
        standard = " / ".join(percent(ours.metrics.get(k)) for k in ("accuracy", "recall", "f1", "roc_auc"))
        lines.append(f"| {paper_row} | {paper} | {as_paper} ({our_name}) | {standard} |")
    return "\n".join(lines)


def write_report(path: str | Path, title: str, sections: Sequence[tuple[str, str]]) -> Path:
    """Write ``# title`` then each ``(heading, body)`` section."""
    path = Path(path)
    parts = [f"# {title}\n"]
    for heading, body in sections:
        parts.append(f"## {heading}\n\n{body.strip()}\n")
    path.write_text("\n".join(parts), encoding="utf-8")
    return path
