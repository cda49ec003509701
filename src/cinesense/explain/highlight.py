"""Lay the model's tokens back onto the text people wrote, so the words can be shaded by attention.

The tokenizer normalises (NFKC, lower case) and drops punctuation, so tokens are searched in a
normalised copy of the text, in order, and mapped back to the original characters. Text between
tokens (punctuation, spaces) becomes a segment without a weight.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass


#: Below this share of the strongest weight a word is left unshaded.
FLOOR = 0.1


@dataclass(frozen=True)
class Segment:
    """A piece of the original text and the attention weight of the token it is (None: no token)."""

    text: str
    weight: float | None = None


def relative(values: Sequence[float]) -> list[float]:
    """Values divided by their maximum (all 0 when the maximum is not positive)."""
    peak = max(values, default=0.0)
    return [float(v) / peak if peak > 0 else 0.0 for v in values]


def _normalised(text: str) -> tuple[str, list[int]]:
    """The text as the tokenizer sees it (per character NFKC + lower case), and for each character of
    that copy the index of the original character it came from."""
    pieces, origin = [], []
    for index, char in enumerate(text):
        normal = unicodedata.normalize("NFKC", char).lower()
        pieces.append(normal)
        origin.extend([index] * len(normal))
    return "".join(pieces), origin


def align_tokens(text: str, tokens: Sequence[str], weights: Sequence[float]) -> list[Segment]:
    """Segments covering ``text`` exactly, the tokens found in it carrying their weight.

    A token that cannot be found after the previous one (e.g. ``<empty>``) is left out.
    """
    normal, origin = _normalised(text)
    segments: list[Segment] = []
    cursor = 0  # in the original text
    search = 0  # in the normalised copy
    for token, weight in zip(tokens, weights):
        found = normal.find(token, search) if token else -1
        if found < 0:
            continue
        start, end = origin[found], origin[found + len(token) - 1] + 1
        if start < cursor:
            continue
        if start > cursor:
            segments.append(Segment(text[cursor:start]))
        segments.append(Segment(text[start:end], float(weight)))
        cursor, search = end, found + len(token)
    if cursor < len(text):
        segments.append(Segment(text[cursor:]))
    return segments


def shade_colour(strength: float) -> tuple[int, int, int]:
    """Pale yellow (weak) to red (strongest) for ``strength`` in [0, 1]; the web page uses the same ramp."""
    s = min(max(strength, 0.0), 1.0)
    return 255, round(235 - 175 * s), round(150 - 150 * s)


def shaded(segments: Sequence[Segment]) -> list[tuple[str, tuple[int, int, int] | None]]:
    """Each segment's text and its background colour (None: left unshaded), by attention relative
    to the strongest token."""
    strengths = iter(relative([s.weight for s in segments if s.weight is not None]))
    out = []
    for segment in segments:
        strength = next(strengths) if segment.weight is not None else 0.0
        out.append((segment.text, shade_colour(strength) if strength >= FLOOR else None))
    return out
