"""Att-BiLSTM: word vectors (+ the lexicon channel) -> packed BiLSTM -> masked additive attention -> logits.

The lexicon channel (Fu et al. 2018's lexicon-enhanced BiLSTM; ``text_model.lexicon``): the model
holds a fixed, non-trainable table ``lexicon_features`` (vocabulary x ``lexicon_dim``, the
:data:`cinesense.text.lexicon.FEATURES` of each token; padding and ``<unk>`` rows are zeros), saved
with the weights; each token's row is concatenated to its word vector before the LSTM. Word
dropout replaces a token's word vector by ``<unk>``'s but keeps its lexicon row, so the model
learns to read the lexicon for words whose vectors say little (those never seen in training).
``lexicon_dim = 0`` (every bundle written before the channel) is the plain Att-BiLSTM.

The n-gram bag (``text_model.ngram_dim``; fastText's bag of n-grams, Joulin et al. 2017, as the wide
part of a wide-and-deep model): the mean of learnt ``ngram_dim``-wide vectors of the text's words and
of its word bigrams (hashed into ``ngram_buckets`` rows) is concatenated to the attended vector, so
the head (and a fused model reading this branch's features) also sees which words and word pairs
occur, wherever they are. ``ngram_dim = 0`` is no bag."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from cinesense.attention import AdditiveAttentionPooling
from cinesense.config import TextModelConfig
from cinesense.text.lexicon import FEATURES


@dataclass
class AttBiLSTMConfig:
    """Everything needed to rebuild the module (saved with every model). The hyper-parameters'
    defaults are those of ``TextModelConfig`` (the TOML section): build it with ``from_config``."""

    vocab_size: int
    embedding_dim: int
    num_classes: int
    hidden_size: int = TextModelConfig.hidden_size
    num_layers: int = TextModelConfig.num_layers
    attention_dim: int = TextModelConfig.attention_dim
    dropout: float = TextModelConfig.dropout
    token_dropout: float = TextModelConfig.token_dropout
    freeze_embeddings: bool = TextModelConfig.freeze_embeddings
    lexicon_dim: int = 0  # features a token in the lexicon channel (0 = no channel)
    ngram_dim: int = TextModelConfig.ngram_dim
    ngram_buckets: int = TextModelConfig.ngram_buckets

    @classmethod
    def from_config(cls, section: TextModelConfig, *, vocab_size: int, embedding_dim: int, num_classes: int) -> "AttBiLSTMConfig":
        fields = asdict(section)
        for training_only in ("span_copies", "span_max", "lexicon_examples"):  # data augmentation (text/branch.py), not the module
            fields.pop(training_only)
        lexicon_dim = len(FEATURES) if fields.pop("lexicon") else 0
        return cls(vocab_size=vocab_size, embedding_dim=embedding_dim, num_classes=num_classes, lexicon_dim=lexicon_dim, **fields)

    def to_dict(self) -> dict:
        return asdict(self)


class AttBiLSTM(nn.Module):
    """The paper's text branch. ``forward`` returns logits; ``forward_features`` the attended
    sentence vector (2H) and the per-token attention weights."""

    def __init__(self, config: AttBiLSTMConfig) -> None:
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.embedding_dim, padding_idx=0)
        self.embedding.weight.requires_grad = not config.freeze_embeddings
        if config.lexicon_dim:
            self.register_buffer("lexicon_features", torch.zeros(config.vocab_size, config.lexicon_dim))
        self.dropout = nn.Dropout(config.dropout)
        self.lstm = nn.LSTM(
            config.embedding_dim + config.lexicon_dim,
            config.hidden_size,
            num_layers=config.num_layers,
            batch_first=True,
            bidirectional=True,
            dropout=config.dropout if config.num_layers > 1 else 0.0,
        )
        self.attention = AdditiveAttentionPooling(2 * config.hidden_size, config.attention_dim)
        if config.ngram_dim:  # rows: the vocabulary's words, then the bigram buckets; row 0 (padding) stays zero
            self.ngrams = nn.EmbeddingBag(config.vocab_size + config.ngram_buckets, config.ngram_dim, mode="mean", padding_idx=0)
            nn.init.normal_(self.ngrams.weight, std=0.1)
            with torch.no_grad():
                self.ngrams.weight[0].zero_()
        self.head = nn.Linear(self.feature_dim, config.num_classes)

    @property
    def feature_dim(self) -> int:
        return 2 * self.config.hidden_size + self.config.ngram_dim

    def ngram_ids(self, token_ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(B, 2T - 1) rows of the n-gram table: each token's word id (padding: 0), then each pair of
        neighbours' hashed bigram row (0, the zero padding row, where either is padding)."""
        bigrams = (token_ids[:, :-1] * 1_000_003 + token_ids[:, 1:]) % self.config.ngram_buckets + self.config.vocab_size
        return torch.cat([token_ids, bigrams.masked_fill(~(mask[:, :-1] & mask[:, 1:]), 0)], dim=1)

    def ngram_bag(self, words: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(B, ngram_dim): the mean of the vectors of the text's words and word bigrams (the bag's
        mean leaves padding rows out)."""
        return self.ngrams(self.ngram_ids(words, mask))

    def load_embeddings(self, matrix: torch.Tensor) -> None:
        """Initialise the embedding table (e.g. from Word2Vec)."""
        if tuple(matrix.shape) != tuple(self.embedding.weight.shape):
            raise ValueError(f"embedding matrix shape {tuple(matrix.shape)} != {tuple(self.embedding.weight.shape)}")
        with torch.no_grad():
            self.embedding.weight.copy_(matrix)

    def load_lexicon_features(self, matrix: torch.Tensor) -> None:
        """Set the lexicon channel's table (vocabulary x ``lexicon_dim``; rows 0 and 1 must be zeros)."""
        expected = (self.config.vocab_size, self.config.lexicon_dim)
        if not self.config.lexicon_dim or tuple(matrix.shape) != expected:
            raise ValueError(f"lexicon feature shape {tuple(matrix.shape)} != {expected} of a model with a lexicon channel")
        if matrix[:2].any():
            raise ValueError("the lexicon features of <pad> and <unk> (rows 0 and 1) must be zeros")
        self.lexicon_features.copy_(matrix)

    def forward_features(self, token_ids: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Args: token_ids (B, T) padded with 0; lengths (B,). Returns features (B, 2H [+ N]), weights (B, T)."""
        lengths = lengths.clamp(min=1).cpu()
        total = token_ids.shape[1]
        words = token_ids
        if self.training and self.config.token_dropout > 0:  # word dropout: replace word vectors by <unk>'s
            drop = torch.rand(token_ids.shape, device=token_ids.device) < self.config.token_dropout
            words = token_ids.masked_fill(drop & (token_ids > 0), 1)
        embedded = self.dropout(self.embedding(words))  # (B, T, E)
        if self.config.lexicon_dim:  # the lexicon channel of the tokens themselves (padding: zeros)
            embedded = torch.cat([embedded, self.lexicon_features[token_ids]], dim=-1)  # (B, T, E + K)
        if bool((lengths == total).all()):  # no padding (e.g. one review): packing would change nothing
            states, _ = self.lstm(embedded)  # (B, T, 2H)
        else:
            packed = pack_padded_sequence(embedded, lengths, batch_first=True, enforce_sorted=False)
            states, _ = self.lstm(packed)
            states, _ = pad_packed_sequence(states, batch_first=True, total_length=total)  # (B, T, 2H)
        mask = torch.arange(total).unsqueeze(0) < lengths.unsqueeze(1)  # (B, T)
        mask = mask.to(states.device)
        pooled, weights = self.attention(states, mask)  # (B, 2H), (B, T)
        if self.config.ngram_dim:
            pooled = torch.cat([pooled, self.ngram_bag(words, mask)], dim=-1)  # (B, 2H + N)
        return pooled, weights

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(features))  # (B, C)

    def forward(self, token_ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        features, _ = self.forward_features(token_ids, lengths)
        return self.forward_head(features)


def collate_token_ids(batch: list[list[int]]) -> dict[str, torch.Tensor]:
    """Pad token-id lists with 0 into ``token_ids`` (B, T) and ``lengths`` (B,)."""
    lengths = torch.tensor([len(ids) for ids in batch], dtype=torch.long)
    token_ids = torch.zeros(len(batch), max(1, int(lengths.max())) if len(batch) else 0, dtype=torch.long)
    for row, ids in enumerate(batch):
        token_ids[row, : len(ids)] = torch.as_tensor(ids, dtype=torch.long)
    return {"token_ids": token_ids, "lengths": lengths}
