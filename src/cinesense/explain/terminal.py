"""Words shaded by attention in a terminal (24-bit ANSI background colours)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TextIO

from cinesense.explain.highlight import Segment, shaded

RESET = "\x1b[0m"


def shade(segments: Sequence[Segment], *, color: bool = True) -> str:
    """The text with each token's background shaded by its attention (plain text without colour)."""
    if not color:
        return "".join(s.text for s in segments)
    return "".join(
        text if rgb is None else f"\x1b[38;2;0;0;0;48;2;{rgb[0]};{rgb[1]};{rgb[2]}m{text}{RESET}" for text, rgb in shaded(segments)
    )


def use_color(stream: TextIO, choice: str = "auto") -> bool:
    """Colour for "always", none for "never"; for "auto", colour on a terminal unless $NO_COLOR is set."""
    if choice == "always":
        return True
    if choice == "never" or os.environ.get("NO_COLOR"):
        return False
    return bool(getattr(stream, "isatty", lambda: False)())
