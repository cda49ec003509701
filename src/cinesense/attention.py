"""Masked additive attention pooling: the one attention module shared by the text and image branches.

Scores each position with the additive (Bahdanau) function ``v^T tanh(W h + b)`` against a learned
query vector ``v``, normalises the scores over the valid positions with a softmax, and returns the
weighted average of the inputs together with the weights (for explanation).
"""

from __future__ import annotations

import torch
from torch import nn


class AdditiveAttentionPooling(nn.Module):
    """Pool a sequence (tokens, or spatial positions of a feature map) into one vector.

    Args:
        input_dim: size of each position's feature vector.
        attention_dim: size of the hidden scoring layer.
    """

    def __init__(self, input_dim: int, attention_dim: int) -> None:
        super().__init__()
        self.projection = nn.Linear(input_dim, attention_dim)
        self.query = nn.Linear(attention_dim, 1, bias=False)

    def forward(self, inputs: torch.Tensor, mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Pool ``inputs`` (B, T, D) over T.

        Args:
            inputs: (B, T, D) features.
            mask: (B, T) bool, True at valid positions; None means all positions are valid.
                Every row must have at least one valid position.

        Returns:
            pooled (B, D) and weights (B, T): weights sum to 1 over valid positions and are 0 on padding.
        """
        scores = self.query(torch.tanh(self.projection(inputs))).squeeze(-1)  # (B, T)
        if mask is not None:
            scores = scores.masked_fill(~mask, float("-inf"))
        weights = torch.softmax(scores, dim=-1)  # (B, T)
        pooled = torch.bmm(weights.unsqueeze(1), inputs).squeeze(1)  # (B, D)
        return pooled, weights
