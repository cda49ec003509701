"""The text model's adapter (:mod:`cinesense.adapter`): tokenizer + vocabulary (+ the Word2Vec
vectors it was built from), how texts become Att-BiLSTM inputs, how the model is built, trained,
explained and saved in a model bundle."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from gensim.models import KeyedVectors

from cinesense.adapter import Adapter
from cinesense.bundle import MANIFEST, BundleError, bundle_file, check_sha256
from cinesense.config import ExperimentConfig, TextConfig, TextModelConfig, Word2VecConfig
from cinesense.data.schema import Record
from cinesense.hashing import sha256_file
from cinesense.text.model import AttBiLSTM, AttBiLSTMConfig, collate_token_ids
from cinesense.text.tokenize import Tokenizer
from cinesense.text.vocab import Vocabulary
from cinesense.text.word2vec import embedding_matrix, train_word2vec
from cinesense.train import fit

VOCABULARY_FILE = "vocab.json"
TOKENIZER_FILES = {"stopwords": "stopwords.txt", "user_dict": "user_dict.txt"}


class TextBranch(Adapter):
    """Turns texts into token-id lists for the Att-BiLSTM."""

    kind, reads_text = "text", True
    manifest_fields = ("tokenizer", "vocabulary")
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
        tokenizer = Tokenizer.from_config(text_config)
        if vectors is None:
            sentences = tokenizer.tokenize_all(texts) + tokenizer.tokenize_all(extra_texts)
            vectors = train_word2vec(sentences, word2vec_config, seed=seed)
        return cls(tokenizer, Vocabulary(vectors.index_to_key), vectors)

    @classmethod
    def create(
        cls, config: ExperimentConfig, num_classes: int, train: Sequence[Record], *, extra_texts: Sequence[str] = (),
        word_vectors: KeyedVectors | None = None, **_: Any,
    ) -> tuple["TextBranch", AttBiLSTM]:
        """The adapter and a fresh model for training on ``train`` (Word2Vec unless ``word_vectors``)."""
        branch = cls.build(record_texts(train, "train"), config.text, config.word2vec, extra_texts=extra_texts, vectors=word_vectors, seed=config.seed)
        return branch, branch.new_model(config.text_model, num_classes, config.seed)

    def train(self, model: AttBiLSTM, config: ExperimentConfig, classes: Sequence[str], train: tuple, dev: tuple | None, progress: bool):
        return fit(model, train, dev, self.collate, classes, config.train, config.seed, progress, lengths=[len(x) for x in train[0]])

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        return [self.vocabulary.encode(self.tokenizer(t)) for t in texts]

    def encode_records(self, model: Any, records: Sequence[Record], split: str, progress: bool = False) -> tuple[list, list[int], list]:
        """Model inputs of labelled records, their positions (all), and no unreadable images."""
        return self.encode(record_texts(records, split)), list(range(len(records))), []

    @staticmethod
    def branch_records(records: Sequence[Record]) -> list[Record]:
        """What the text branch of a fused model trains on: every comment with text."""
        return [r for r in records if r.text]

    def words(self, text: Any) -> list[str] | None:
        return self.tokenizer(text) if isinstance(text, str) and text.strip() else None

    def token_ids(self, words: list[str] | None) -> list[int]:
        """Token ids of checked words; [] for no text."""
        return self.vocabulary.encode(words) if words else []

    def inputs(self, model: AttBiLSTM, tokens: Sequence[list[str] | None], images: Sequence[Any], batch_size: int) -> list[list[int]]:
        """Model inputs of checked requests (their words)."""
        return [self.vocabulary.encode(words) for words in tokens]  # type: ignore[arg-type]

    def length(self, example: list[int]) -> int:
        return len(example)

    def explain(self, model: AttBiLSTM, tokens: list[str] | None, image: Any) -> tuple[torch.Tensor, dict[str, Any]]:
        """Logits of one checked comment and the attention weight of each token."""
        assert tokens  # the check refused a text without words
        features, weights = model.forward_features(**collate_token_ids([self.vocabulary.encode(tokens)]))
        return model.forward_head(features), {"tokens": tokens, "weights": weights[0, : len(tokens)].tolist()}

    def new_model(self, config: TextModelConfig, num_classes: int, seed: int = 0) -> AttBiLSTM:
        """A fresh Att-BiLSTM whose embeddings start from the Word2Vec vectors."""
        if self.vectors is None:
            raise RuntimeError("this text branch has no Word2Vec vectors to initialise a model from")
        model_config = AttBiLSTMConfig.from_config(
            config, vocab_size=len(self.vocabulary), embedding_dim=self.vectors.vector_size, num_classes=num_classes
        )
        torch.manual_seed(seed)
        model = AttBiLSTM(model_config)
        matrix, _ = embedding_matrix(self.vocabulary, self.vectors, seed=seed)
        model.load_embeddings(torch.from_numpy(matrix))
        return model

    def save(self, directory: Path, model: AttBiLSTM) -> tuple[dict[str, Any], dict[str, Any]]:
        """The manifest sections (files written into ``directory``) and the model section."""
        return self.save_files(directory), model.config.to_dict()

    @classmethod
    def load(cls, directory: Path, manifest: dict[str, Any]) -> tuple["TextBranch", AttBiLSTM]:
        """Inverse of ``save``: the adapter and the (untrained) model the manifest describes."""
        branch, config = cls.load_checked(directory, manifest, manifest["model"])
        return branch, AttBiLSTM(config)

    @classmethod
    def load_checked(cls, directory: Path, manifest: dict[str, Any], section: dict[str, Any]) -> tuple["TextBranch", AttBiLSTMConfig]:
        """The branch's files and the Att-BiLSTM config of a model section, checked to agree."""
        config = AttBiLSTMConfig(**section)
        branch = cls.load_files(directory, manifest)
        if len(branch.vocabulary) != config.vocab_size:
            raise BundleError(f"{directory / MANIFEST}: vocabulary has {len(branch.vocabulary)} tokens, the model expects {config.vocab_size}")
        return branch, config

    def save_files(self, directory: Path) -> dict[str, Any]:
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
    def load_files(cls, directory: Path, section: dict[str, Any]) -> "TextBranch":
        """Inverse of ``save_files``: the vocabulary from the file the manifest names (a plain file name in
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


def record_texts(records: Sequence[Record], split: str) -> list[str]:
    missing = [r.id for r in records if not r.text]
    if missing:
        raise ValueError(f"{split}: {len(missing)} record(s) have no text (e.g. {missing[0]!r}); the text model needs text")
    return [r.text for r in records]  # type: ignore[misc]
