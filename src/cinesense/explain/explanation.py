"""``Explanation``: what ``Classifier.explain`` returns (the verdict and the attention behind it)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Explanation:
    """Why the model decided: the tokens it read and the attention weight of each, and/or the
    attention map over each image's spatial grid (rows x columns, summing to 1).

    ``image_attentions`` holds one grid per image, in the order the images were given;
    ``image_attention`` is the first of them (None without an image), kept for compatibility.
    """

    label: str
    probabilities: dict[str, float]
    tokens: list[str] = field(default_factory=list)
    weights: list[float] = field(default_factory=list)
    image_attention: list[list[float]] | None = None
    image_attentions: list[list[list[float]]] = field(default_factory=list)
    read_text: str | None = None  # the text the model read, when it is not the comment's own (its stickers' captions joined)

    def top_tokens(self, k: int = 5) -> list[tuple[str, float]]:
        order = np.argsort(self.weights)[::-1][:k]
        return [(self.tokens[i], float(self.weights[i])) for i in order]
