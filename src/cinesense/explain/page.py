"""One self-contained HTML page explaining a batch of comments: verdict, probabilities, the words
shaded by attention and each image's heat map (embedded PNG), for ``cinesense explain``."""

from __future__ import annotations

import base64
import html
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cinesense.data.schema import Record
from cinesense.explain.heatmap import heatmap_png
from cinesense.explain.highlight import align_tokens, shaded


@dataclass
class Example:
    """A record and the model's explanation of it (or why there is none)."""

    record: Record
    explanation: Any = None  # cinesense.classifier.Explanation
    error: str | None = None


def explain_records(classifier: Any, records: Iterable[Record]) -> Iterator[Example]:
    """Explain each record (a fused model: with every one of its images); a record the model cannot
    read gets its error instead of stopping the batch."""
    from cinesense.classifier import adapter_for  # torch: only when explaining

    adapter = adapter_for(classifier.modality_)
    for record in records:
        text, image = adapter.record_inputs(record.text, record.images)
        try:
            adapter.check(record.text, image, strict=False)
            explanation = classifier.explain(text=text, image=image)
        except ValueError as error:
            yield Example(record, error=str(error))
        else:
            yield Example(record, explanation)


STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", "Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC",
  "Microsoft YaHei", "WenQuanYi Micro Hei", sans-serif, "Noto Color Emoji", "Apple Color Emoji", "Segoe UI Emoji";
  margin: 2rem auto; max-width: 60rem; color: #222; }
.example { border: 1px solid #ddd; border-radius: 8px; padding: 1rem; margin: 1rem 0; display: flex; gap: 1rem; }
.example .body { flex: 1; }
.meta { color: #666; font-size: 0.85rem; }
.verdict { font-weight: 600; font-size: 1.1rem; }
.wrong { color: #b00020; }
.text { font-size: 1.2rem; line-height: 2; margin: 0.5rem 0; }
.text span.tok { border-radius: 3px; padding: 0.1rem 0.05rem; margin: 0 1px; }
.error { color: #b00020; }
.pictures { display: flex; flex-direction: column; gap: 0.5rem; }
img.heatmap { width: 224px; height: 224px; border-radius: 4px; }
table.proba td { padding: 0 0.5rem 0 0; }
"""


def _text_html(text: str, explanation: Any) -> str:
    if not explanation.tokens:
        return html.escape(text)
    pieces = []
    for piece, rgb in shaded(align_tokens(text, explanation.tokens, explanation.weights)):
        escaped = html.escape(piece)
        pieces.append(escaped if rgb is None else f'<span class="tok" style="background: rgb{rgb}">{escaped}</span>')
    return "".join(pieces)


def _heatmaps_html(record: Record, explanation: Any) -> str:
    """One heat map per image the model explained (``image_attentions``, in the record's order)."""
    grids = list(getattr(explanation, "image_attentions", None) or [])
    if not grids and explanation.image_attention is not None:
        grids = [explanation.image_attention]
    pictures = []
    for path, grid in zip(record.images, grids):
        png = base64.b64encode(heatmap_png(path, grid, size=224)).decode("ascii")
        pictures.append(f'<img class="heatmap" alt="attention heat map of {html.escape(path.name)}" src="data:image/png;base64,{png}">')
    return f'<div class="pictures">{"".join(pictures)}</div>' if pictures else ""


def _example_html(example: Example) -> str:
    record, explanation = example.record, example.explanation
    meta = f"id {html.escape(record.id)}"
    if record.label is not None:
        meta += f" · labelled {html.escape(record.label)}"
    body = [f'<div class="meta">{meta}</div>']
    picture = ""
    if example.error is not None:
        body.append(f'<div class="error">{html.escape(example.error)}</div>')
    else:
        probability = explanation.probabilities[explanation.label]
        wrong = " wrong" if record.label is not None and record.label != explanation.label else ""
        body.append(f'<div class="verdict{wrong}">{html.escape(explanation.label)} {probability:.1%}</div>')
        rows = "".join(f"<tr><td>{html.escape(c)}</td><td>{p:.3f}</td></tr>" for c, p in explanation.probabilities.items())
        body.append(f'<table class="proba">{rows}</table>')
        picture = _heatmaps_html(record, explanation)
    if record.text is not None:
        text = _text_html(record.text, explanation) if explanation is not None else html.escape(record.text)
        body.insert(1, f'<div class="text">{text}</div>')
    return f'<div class="example">{picture}<div class="body">{"".join(body)}</div></div>'


def render_page(examples: Iterable[Example], *, title: str, subtitle: str = "") -> str:
    """The HTML page for ``examples``."""
    examples = list(examples)
    labelled = [e for e in examples if e.explanation is not None and e.record.label is not None]
    summary = f"{len(examples)} comments"
    if labelled:
        correct = sum(e.explanation.label == e.record.label for e in labelled)
        summary += f"; {correct} of {len(labelled)} labelled ones predicted correctly"
    failed = sum(e.error is not None for e in examples)
    if failed:
        summary += f"; {failed} could not be read"
    cards = "\n".join(_example_html(e) for e in examples)
    return f"""<!doctype html>
<html lang="zh">
<head><meta charset="utf-8"><title>{html.escape(title)}</title><style>{STYLE}</style></head>
<body>
<h1>{html.escape(title)}</h1>
<p class="meta">{html.escape(subtitle)}</p>
<p>{summary}. Words are shaded by the attention the model paid to them (strongest red); images show
the attention map over the part of the image the model sees.</p>
{cards}
</body>
</html>
"""


def write_page(examples: Iterable[Example], path: str | Path, *, title: str, subtitle: str = "") -> Path:
    """Write :func:`render_page` to ``path`` (parent folders created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_page(examples, title=title, subtitle=subtitle), encoding="utf-8")
    return path
