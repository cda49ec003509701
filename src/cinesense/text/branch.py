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

from cinesense.bundle import BundleError, bundle_file, check_sha256
from cinesense.config import TextConfig, TextModelConfig, Word2VecConfig
from cinesense.hashing import sha256_file
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
        """Write the vocabulary and the tokenizer's files; return the manifest sections, with the
        SHA-256 of each file written (checked by ``load``)."""
        self.vocabulary.save(directory / VOCABULARY_FILE)
        settings = self.tokenizer.to_dict()
        digests = {}
        for key, name in TOKENIZER_FILES.items():
            if settings.get(key):
                shutil.copyfile(settings[key], directory / name)
                settings[key] = name
                digests[key] = sha256_file(directory / name)
        vocabulary = {"file": VOCABULARY_FILE, "size": len(self.vocabulary), "sha256": sha256_file(directory / VOCABULARY_FILE)}
        return {"tokenizer": settings, "tokenizer_sha256": digests, "vocabulary": vocabulary}

    @classmethod
    def load(cls, directory: Path, section: dict[str, Any]) -> "TextBranch":
        """Inverse of ``save``: the vocabulary from the file the manifest names (a plain file name in
        ``directory``), each file checked against its recorded SHA-256 (bundles written before the
        digests were recorded skip that check). Raises ``BundleError`` (or ValueError / OSError)
        naming the file on a bad bundle."""
        settings = dict(section["tokenizer"])
        settings.setdefault("segmenter", "jieba")  # bundles written before rjieba was an option
        digests = section.get("tokenizer_sha256") or {}
        if not isinstance(digests, dict):
            raise BundleError(f"{directory / 'manifest.json'}: field 'tokenizer_sha256' must be an object")
        for key in TOKENIZER_FILES:
            if settings.get(key):
                path = bundle_file(directory, settings[key], f"tokenizer.{key}")
                check_sha256(path, digests.get(key), f"tokenizer_sha256.{key}")
                settings[key] = str(path)
        vocabulary_section = section["vocabulary"]
        if not isinstance(vocabulary_section, dict):
            raise BundleError(f"{directory / 'manifest.json'}: field 'vocabulary' must be an object")
        path = bundle_file(directory, vocabulary_section.get("file", VOCABULARY_FILE), "vocabulary.file")
        check_sha256(path, vocabulary_section.get("sha256"), "vocabulary.sha256")
        vocabulary = Vocabulary.load(path)
        size = vocabulary_section.get("size")
        if size is not None and size != len(vocabulary):
            raise BundleError(f"{path}: vocabulary has {len(vocabulary)} tokens, the manifest's 'vocabulary.size' says {size}")
        return cls(Tokenizer(**settings), vocabulary)
