"""The report's "What the attention looked at" table: the first scored comments, what a model
predicted and the words (and, for a fused model, the sticker regions) it attended to most."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from cinesense.classifier import Classifier
from cinesense.data.schema import Record
from cinesense.evaluate.plots import plot_word_attention
from cinesense.explain.heatmap import save_heatmap

PAIR_KINDS = ("irony", "mockery", "congruent", "none", "all")  # the fused table shows two of each, in this order


def _cells(record: Record, explanation, width: int, no_words: str = "") -> list[str]:
    """The comment (cut to ``width``), its label, the prediction and the most attended words."""
    e = explanation
    words = ", ".join(f"{t} ({w:.2f})" for t, w in e.top_tokens(4)) if e.tokens else no_words
    text = (record.text or "").replace("|", "/")[:width]
    return [text, str(record.label), f"{e.label} ({e.probabilities[e.label]:.2f})", words]


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def text_examples(classifier: Classifier, records: Sequence[Record], k: int = 6) -> str:
    """The first ``k`` records as the text model read them."""
    rows = ["| text | true | predicted (p) | most attended words |", "|---|---|---|---|"]
    for record in records[:k]:
        rows.append(_row(_cells(record, classifier.explain(record.text or ""), 60)))
    return "\n".join(rows)


def fused_examples(clf: Classifier, test: Sequence[Record], figures: Path) -> str:
    """Two comments of each pair kind as the fused model read them, with a heatmap of its attention
    over each sticker, and a figure of the word attention of the first four."""
    chosen: list[Record] = []
    for kind in PAIR_KINDS:
        chosen.extend([r for r in test if r.meta.get("pair", "all") == kind][:2])
    words_plot: list[tuple[str, list[str], list[float]]] = []
    rows = [f"Model: {clf.config.fusion.method} fusion.\n", "| comment | pair | true | predicted (p) | most attended words | sticker attention |",
            "|---|---|---|---|---|---|"]
    for i, record in enumerate(chosen[:8]):
        image = record.images[0] if record.images else None
        e = clf.explain(record.text, image)
        picture = "—"
        if image is not None and e.image_attention is not None:
            save_heatmap(image, e.image_attention, figures / f"attention_{i}.png", size=160)
            picture = f"![attention](figures/attention_{i}.png)"
        text, label, predicted, words = _cells(record, e, 50, no_words="—")
        pair = f"{record.meta.get('pair', '')} {record.meta.get('emoji', '')}".strip()
        rows.append(_row([text, pair, label, predicted, words, picture]))
        if e.tokens and len(words_plot) < 4:
            stickers = "/".join(record.meta.get("sticker_labels") or []) or "no"
            title = (f"{record.meta.get('pair', 'comment')} ({stickers} sticker): true {record.label}, "
                     f"predicted {e.label} ({e.probabilities[e.label]:.2f})")
            words_plot.append((title, list(e.tokens), list(e.weights)))
    if words_plot:
        plot_word_attention(words_plot, figures / "word_attention.png")
        rows.append("\n![word attention of the first examples](figures/word_attention.png)")
    return "\n".join(rows)
