"""Figures for run directories and reports (matplotlib, no display needed).

Chinese text (words, comments, Chinese class names) is drawn with the first installed font of
:data:`CJK_FONTS`, Latin text falling back to DejaVu Sans (matplotlib's own); ``make run`` installs
Debian's ``fonts-noto-cjk``. Without any CJK font, Chinese characters come out as empty boxes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib import font_manager  # noqa: E402
from sklearn.metrics import roc_curve  # noqa: E402

from cinesense.train import History  # noqa: E402

CJK_FONTS = (
    "Noto Sans CJK SC", "Noto Sans CJK JP", "Source Han Sans SC", "Source Han Sans CN", "Noto Sans SC",
    "WenQuanYi Zen Hei", "WenQuanYi Micro Hei", "Microsoft YaHei", "PingFang SC", "SimHei",
)
"""Fonts with Chinese glyphs, in order of preference (Linux, then Windows and macOS names)."""
FALLBACK_FONT = "DejaVu Sans"
_CJK_FILE_HINTS = ("cjk", "sourcehan", "wqy", "msyh", "pingfang", "simhei", "notosanssc")


def font_stack() -> list[str]:
    """The installed fonts of :data:`CJK_FONTS`, in order, then DejaVu Sans.

    Matplotlib's font list is cached on first use; a CJK font installed afterwards (``make run``
    installs one on a machine whose virtual environment already drew a figure) is found by
    scanning the system's font files for the known CJK families."""
    known = {f.name for f in font_manager.fontManager.ttflist}
    if not known.intersection(CJK_FONTS):
        for path in font_manager.findSystemFonts():
            if any(hint in Path(path).name.lower() for hint in _CJK_FILE_HINTS):
                try:
                    font_manager.fontManager.addfont(path)
                except (OSError, RuntimeError, ValueError):  # an unreadable font file: skip it
                    continue
        known = {f.name for f in font_manager.fontManager.ttflist}
    return [name for name in CJK_FONTS if name in known] + [FALLBACK_FONT]


matplotlib.rcParams["font.family"] = font_stack()


def plot_training_loss(histories: Mapping[str, History], path: str | Path) -> Path:
    """The paper's Fig. 6: training loss per step (smoothed) and per epoch, with dev loss."""
    fig, (steps_ax, epochs_ax) = plt.subplots(1, 2, figsize=(10, 3.6))
    for name, history in histories.items():
        losses = np.asarray(history.step_losses)
        if len(losses):
            window = max(1, len(losses) // 50)
            smooth = np.convolve(losses, np.ones(window) / window, mode="valid")
            steps_ax.plot(np.arange(len(smooth)) + window, smooth, label=name)
        epochs = [e.epoch for e in history.epochs]
        line = epochs_ax.plot(epochs, [e.train_loss for e in history.epochs], marker="o", label=f"{name} train")
        dev = [e.dev_loss for e in history.epochs]
        if all(d is not None for d in dev):
            epochs_ax.plot(epochs, dev, marker="s", linestyle="--", color=line[0].get_color(), label=f"{name} dev")
        if history.best_epoch:
            epochs_ax.axvline(history.best_epoch, color=line[0].get_color(), alpha=0.3)
    steps_ax.set(title="training loss per step (moving average)", xlabel="step", ylabel="cross-entropy")
    epochs_ax.set(title="loss per epoch (line: epoch kept)", xlabel="epoch", ylabel="cross-entropy")
    for ax in (steps_ax, epochs_ax):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return _save(fig, path)


def plot_roc_curves(
    y_true: Sequence[str], scores: Mapping[str, np.ndarray], positive: str, path: str | Path
) -> Path:
    """ROC curves of several systems' P(positive) on the same examples."""
    fig, ax = plt.subplots(figsize=(4.8, 4.4))
    truth = np.asarray([y == positive for y in y_true])
    for name, score in scores.items():
        if truth.all() or not truth.any():
            break
        fpr, tpr, _ = roc_curve(truth, score)
        ax.plot(fpr, tpr, label=name)
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    ax.set(title=f"ROC ({positive!r} vs rest)", xlabel="false positive rate", ylabel="true positive rate")
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(alpha=0.3)
    return _save(fig, path)


def plot_confusion(matrix: Sequence[Sequence[int]], classes: Sequence[str], title: str, path: str | Path) -> Path:
    """A confusion matrix, rows = true class, columns = predicted class."""
    values = np.asarray(matrix)
    fig, ax = plt.subplots(figsize=(3.8, 3.4))
    ax.imshow(values, cmap="Blues")
    for (i, j), v in np.ndenumerate(values):
        ax.text(j, i, str(v), ha="center", va="center", color="white" if v > values.max() / 2 else "black")
    ax.set_xticks(range(len(classes)), classes, rotation=30)
    ax.set_yticks(range(len(classes)), classes)
    ax.set(title=title, xlabel="predicted", ylabel="true")
    return _save(fig, path)


def plot_word_attention(examples: Sequence[tuple[str, Sequence[str], Sequence[float]]], path: str | Path,
                        max_tokens: int = 30) -> Path:
    """The attention over the words of a few comments: one row each, ``(title, tokens, weights)``,
    the first ``max_tokens`` words of a comment."""
    rows = max(1, len(examples))
    fig, axes = plt.subplots(rows, 1, figsize=(10, 2.4 * rows), squeeze=False)
    for ax, (title, tokens, weights) in zip(axes[:, 0], examples):
        tokens, weights = list(tokens)[:max_tokens], np.asarray(weights, dtype=float)[:max_tokens]
        ax.bar(range(len(tokens)), weights, color=plt.cm.Reds(0.3 + 0.7 * weights / max(weights.max(initial=0), 1e-12)))
        ax.set_xticks(range(len(tokens)), tokens, fontsize=9, rotation=90 if len(tokens) > 16 else 0)
        ax.set_xlim(-0.6, max(len(tokens), 8) - 0.4)
        ax.set_ylabel("attention")
        ax.set_title(title, fontsize=9, loc="left")
        ax.grid(alpha=0.3, axis="y")
    for ax in axes[len(examples):, 0]:
        ax.axis("off")
    return _save(fig, path)


def _save(fig: plt.Figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
