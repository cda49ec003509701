"""Explanations people look at: words shaded by attention (terminal, HTML) and image heat maps."""

from cinesense.explain.heatmap import heatmap_png, overlay, save_heatmap
from cinesense.explain.highlight import Segment, align_tokens, relative, shaded
from cinesense.explain.page import Example, explain_records, render_page, write_page
from cinesense.explain.terminal import shade, use_color

__all__ = [
    "Example",
    "Segment",
    "align_tokens",
    "explain_records",
    "heatmap_png",
    "overlay",
    "relative",
    "render_page",
    "save_heatmap",
    "shade",
    "shaded",
    "use_color",
    "write_page",
]
