"""The text branch's preprocessing state: tokenizer + vocabulary (+ the Word2Vec vectors it was
built from), how texts become model inputs, and how the branch is saved in a model bundle."""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from gensim.models import KeyedVectors

from cinesense.config import TextConfig, TextModelConfig, Word2VecConfig
from cinesense.text.model import AttBiLSTM, AttBiLSTMConfig, collate_token_ids
from cinesense.text.tokenize import Tokenizer
from cinesense.text.vocab import Vocabulary
from cinesense.text.word2vec import embedding_matrix, train_word2vec

VOCABULARY_FILE = "vocab.json"
TOKENIZER_FILES = {"stopwords": "stopwords.txt", "user_dict": "user_dict.txt"}


class TextBranch:
    """Turns texts into token-id lists for the Att-BiLSTM."""

    collate = staticmethod(collate_token_ids)

    def __init__(self, tokenizer: Tokenizer, vocabulary: Vocabulary, vectors: KeyedVectors | None = None) -> None:
        self.tokenizer = tokenizer
        self.vocabulary = vocabulary
        self.vectors = vectors

    @classmethod
    def build(
        cls,
        texts: Sequence[str],
        text_config: TextConfig,
        word2vec_config: Word2VecConfig,
        *,
        extra_texts: Sequence[str] = (),
        vectors: KeyedVectors | None = None,
        seed: int = 0,
    ) -> "TextBranch":
        """Tokenizer from the config; Word2Vec on ``texts`` + ``extra_texts`` (unless ``vectors``
        are given); the vocabulary is the Word2Vec vocabulary."""
        tokenizer = Tokenizer(**dataclasses.asdict(text_config))
        if vectors is None:
            sentences = tokenizer.tokenize_all(texts) + tokenizer.tokenize_all(extra_texts)
            vectors = train_word2vec(sentences, word2vec_config, seed=seed)
        return cls(tokenizer, Vocabulary(vectors.index_to_key), vectors)

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        return [self.vocabulary.encode(self.tokenizer(t)) for t in texts]

    def new_model(self, config: TextModelConfig, num_classes: int, seed: int = 0) -> AttBiLSTM:
        """A fresh Att-BiLSTM whose embeddings start from the Word2Vec vectors."""
        if self.vectors is None:
            raise RuntimeError("this text branch has no Word2Vec vectors to initialise a model from")
        model_config = AttBiLSTMConfig(
            vocab_size=len(self.vocabulary), embedding_dim=self.vectors.vector_size, num_classes=num_classes,
            **dataclasses.asdict(config),
        )
        torch.manual_seed(seed)
        model = AttBiLSTM(model_config)
        matrix, _ = embedding_matrix(self.vocabulary, self.vectors, seed=seed)
        model.load_embeddings(torch.from_numpy(matrix))
        return model

    def save(self, directory: Path) -> dict[str, Any]:
        """Write the vocabulary and the tokenizer's files; return the manifest section."""
        self.vocabulary.save(directory / VOCABULARY_FILE)
        settings = self.tokenizer.to_dict()
        for key, name in TOKENIZER_FILES.items():
            if settings.get(key):
                shutil.copyfile(settings[key], directory / name)
                settings[key] = name
        return {"tokenizer": settings, "vocabulary": {"file": VOCABULARY_FILE, "size": len(self.vocabulary)}}

    @classmethod
    def load(cls, directory: Path, section: dict[str, Any]) -> "TextBranch":
        """Inverse of ``save``; raises ValueError / OSError naming the file on a bad bundle."""
        settings = dict(section["tokenizer"])
        settings.setdefault("segmenter", "jieba")  # bundles written before rjieba was an option
        for key in TOKENIZER_FILES:
            if settings.get(key):
                settings[key] = str(directory / settings[key])
        return cls(Tokenizer(**settings), Vocabulary.load(directory / VOCABULARY_FILE))
