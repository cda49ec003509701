"""The "encoder" kind's model: a frozen pretrained sentence vector (E5, :mod:`cinesense.text.encoder`)
standardised and read by a linear (or one-hidden-layer) head — the "probe" — or concatenated with the
Att-BiLSTM's attended vector and trained together ("bilstm"). Returns logits."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from cinesense.text.model import AttBiLSTM, AttBiLSTMConfig, collate_token_ids


@dataclass
class SentenceModelConfig:
    """Everything needed to rebuild the module (saved with every model)."""

    sentence_dim: int
    num_classes: int
    hidden_dim: int = 0
    dropout: float = 0.1
    text: dict[str, Any] | None = None  # the Att-BiLSTM's config ("bilstm"), None for the probe

    def __post_init__(self) -> None:
        if isinstance(self.text, dict):
            AttBiLSTMConfig(**self.text)  # a bad section fails here, naming the field

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class SentenceModel(nn.Module):
    """``forward(sentence, token_ids=None, lengths=None)`` -> logits. ``sentence`` (B, D) are the
    encoder's vectors; they are standardised with the training set's mean and standard deviation
    (buffers, set by :meth:`set_standardisation`)."""

    def __init__(self, config: SentenceModelConfig) -> None:
        super().__init__()
        self.config = config
        self.register_buffer("mean", torch.zeros(config.sentence_dim))
        self.register_buffer("std", torch.ones(config.sentence_dim))
        self.bilstm = AttBiLSTM(AttBiLSTMConfig(**config.text)) if config.text else None
        width = config.sentence_dim + (self.bilstm.feature_dim if self.bilstm is not None else 0)
        self.dropout = nn.Dropout(config.dropout)
        layers: list[nn.Module] = []
        if config.hidden_dim:
            layers += [nn.Linear(width, config.hidden_dim), nn.ReLU(), nn.Dropout(config.dropout)]
            width = config.hidden_dim
        self.head = nn.Sequential(*layers, nn.Linear(width, config.num_classes))

    @property
    def feature_dim(self) -> int:
        """Width of the vector the head reads (what a fused model takes from this text branch)."""
        return self.config.sentence_dim + (self.bilstm.feature_dim if self.bilstm is not None else 0)

    def set_standardisation(self, vectors: np.ndarray) -> None:
        """Standardise inputs with the mean and standard deviation of ``vectors`` (the training set's)."""
        with torch.no_grad():
            data = torch.from_numpy(np.asarray(vectors, dtype=np.float32))
            self.mean.copy_(data.mean(dim=0))
            self.std.copy_(data.std(dim=0).clamp(min=1e-6))

    def forward_features(self, sentence: torch.Tensor, token_ids: torch.Tensor | None = None, lengths: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The vector the head reads (B, D [+ 2H]) and the Att-BiLSTM's token weights (B, T) or None."""
        features = (sentence - self.mean) / self.std
        if self.bilstm is None:
            return features, None
        pooled, weights = self.bilstm.forward_features(token_ids, lengths)
        return torch.cat([features, pooled], dim=-1), weights

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(features))

    def forward(self, sentence: torch.Tensor, token_ids: torch.Tensor | None = None, lengths: torch.Tensor | None = None) -> torch.Tensor:
        features, _ = self.forward_features(sentence, token_ids, lengths)
        return self.forward_head(features)


def collate_sentences(batch: list[tuple[np.ndarray, list[int] | None]]) -> dict[str, torch.Tensor]:
    """Examples (sentence vector, token ids or None) into ``sentence`` (B, D) [+ ``token_ids``, ``lengths``]."""
    sentence = torch.from_numpy(np.stack([vector for vector, _ in batch])) if batch else torch.empty(0, 0)
    inputs = {"sentence": sentence}
    if batch and batch[0][1] is not None:
        inputs.update(collate_token_ids([ids for _, ids in batch]))  # type: ignore[misc]
    return inputs


def collate_optional_sentences(batch: list[tuple[np.ndarray, list[int] | None] | None], dim: int, with_tokens: bool) -> dict[str, torch.Tensor]:
    """:func:`collate_sentences` where a comment without text (None) is a zero vector and no tokens:
    the text inputs of a fused model's comments (its ``has_text`` says which have a text)."""
    blank = (np.zeros(dim, dtype=np.float32), [] if with_tokens else None)
    return collate_sentences([example if example is not None else blank for example in batch])
