"""The "encoder" kind's model: a frozen pretrained sentence vector (E5, :mod:`cinesense.text.encoder`)
standardised and read by a linear (or one-hidden-layer) head — the "probe" — or concatenated with the
Att-BiLSTM's attended vector and trained together ("bilstm"), or ("linear") read by a linear head
beside a second linear head over the text's TF-IDF word n-grams (:mod:`cinesense.text.tfidf`), both
fitted as logistic regressions, their probabilities averaged. Returns logits (for "linear": the log
of the averaged probabilities)."""

from __future__ import annotations

import math
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
    words: int = 0  # "linear": rows of the TF-IDF n-gram head (0: no such head)

    def __post_init__(self) -> None:
        if isinstance(self.text, dict):
            AttBiLSTMConfig(**self.text)  # a bad section fails here, naming the field
        if not isinstance(self.words, int) or self.words < 0:
            raise ValueError(f"words must be a non-negative integer, got {self.words!r}")
        if self.words and (self.text is not None or self.hidden_dim):
            raise ValueError("the TF-IDF head (words > 0) goes with a linear sentence head only (no Att-BiLSTM, hidden_dim 0)")

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
        if config.words:  # row 0: padding; the logistic regression's coefficients, one row an n-gram
            self.word_head = nn.EmbeddingBag(config.words + 1, config.num_classes, mode="sum", padding_idx=0)
            self.word_bias = nn.Parameter(torch.zeros(config.num_classes))

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

    def word_logits(self, word_ids: torch.Tensor, word_weights: torch.Tensor) -> torch.Tensor:
        """The TF-IDF head's logits (B, C) from padded n-gram ids and weights (B, K)."""
        return self.word_head(word_ids, per_sample_weights=word_weights) + self.word_bias

    def forward(
        self, sentence: torch.Tensor, token_ids: torch.Tensor | None = None, lengths: torch.Tensor | None = None,
        word_ids: torch.Tensor | None = None, word_weights: torch.Tensor | None = None,
    ) -> torch.Tensor:
        features, _ = self.forward_features(sentence, token_ids, lengths)
        logits = self.forward_head(features)
        if not self.config.words:
            return logits
        if word_ids is None or word_weights is None:
            raise ValueError("this model has a TF-IDF head: pass word_ids and word_weights")
        both = torch.stack([torch.log_softmax(logits, dim=-1), torch.log_softmax(self.word_logits(word_ids, word_weights), dim=-1)])
        return torch.logsumexp(both, dim=0) - math.log(2.0)  # log of the mean of the two heads' probabilities


def collate_sentences(batch: list[tuple]) -> dict[str, torch.Tensor]:
    """Examples (sentence vector, token ids or None[, (n-gram ids, weights)]) into ``sentence`` (B, D)
    [+ ``token_ids``, ``lengths``] [+ ``word_ids``, ``word_weights`` (B, K), padded with id 0, weight 0]."""
    sentence = torch.from_numpy(np.stack([example[0] for example in batch])) if batch else torch.empty(0, 0)
    inputs = {"sentence": sentence}
    if batch and batch[0][1] is not None:
        inputs.update(collate_token_ids([example[1] for example in batch]))  # type: ignore[misc]
    if batch and len(batch[0]) > 2:
        width = max(1, max(len(example[2][0]) for example in batch))
        ids, weights = torch.zeros(len(batch), width, dtype=torch.long), torch.zeros(len(batch), width)
        for row, (_, _, (feature_ids, feature_weights)) in enumerate(batch):
            ids[row, : len(feature_ids)] = torch.tensor(feature_ids, dtype=torch.long)
            weights[row, : len(feature_ids)] = torch.tensor(feature_weights, dtype=torch.float32)
        inputs.update(word_ids=ids, word_weights=weights)
    return inputs


def collate_optional_sentences(batch: list[tuple[np.ndarray, list[int] | None] | None], dim: int, with_tokens: bool) -> dict[str, torch.Tensor]:
    """:func:`collate_sentences` where a comment without text (None) is a zero vector and no tokens:
    the text inputs of a fused model's comments (its ``has_text`` says which have a text)."""
    blank = (np.zeros(dim, dtype=np.float32), [] if with_tokens else None)
    return collate_sentences([example if example is not None else blank for example in batch])
