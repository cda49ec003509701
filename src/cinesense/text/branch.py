"""The text model's adapter (:mod:`cinesense.adapter`): tokenizer + vocabulary (+ the Word2Vec
vectors it was built from), how texts become Att-BiLSTM inputs, how the model is built, trained,
explained and saved in a model bundle.

With the lexicon channel (``text_model.lexicon``, :mod:`cinesense.text.model`) the vocabulary is the
Word2Vec vocabulary plus every lexicon word and common emoticon code (``resources/emoticon_codes.txt``)
that the tokenizer reads as one token, so that sentiment words and codes never seen in training
still have their lexicon row; their first vectors come from their characters
(:func:`cinesense.text.word2vec.word_vector`). Such a branch also reads an emoticon code that is not
in its vocabulary as the words of its name ("[太开心了]" -> 太 开心 了) instead of ``<unk>``; a branch
without the channel (and every bundle written before it) reads it as ``<unk>``. Other unknown words
stay ``<unk>`` at inference: the bundle carries no FastText n-gram table."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from gensim.models import KeyedVectors

from cinesense import distributed
from cinesense.adapter import Adapter
from cinesense.bundle import MANIFEST, BundleError, bundle_file, check_sha256, saved_tensor_names
from cinesense.config import ExperimentConfig, TextConfig, TextModelConfig, Word2VecConfig
from cinesense.data.schema import Record
from cinesense.hashing import sha256_file
from cinesense.text.lexicon import lexicon_features, lexicon_words, load_lexicon
from cinesense.text.model import AttBiLSTM, AttBiLSTMConfig, collate_token_ids
from cinesense.text.tokenize import Tokenizer, common_emoticon_codes, emoticon_name
from cinesense.text.vocab import UNK, Vocabulary
from cinesense.text.word2vec import cached_word2vec, embedding_matrix
from cinesense.train import fit

VOCABULARY_FILE = "vocab.json"
TOKENIZER_FILES = {"stopwords": "stopwords.txt", "user_dict": "user_dict.txt"}
CODE_WORDS = "name"  # manifest vocabulary.unknown_codes of a branch reading unknown codes as their name's words


class TextBranch(Adapter):
    """Turns texts into token-id lists for the Att-BiLSTM."""

    kind, reads_text = "text", True
    manifest_fields = ("tokenizer", "vocabulary")
    collate = staticmethod(collate_token_ids)

    def __init__(
        self, tokenizer: Tokenizer, vocabulary: Vocabulary, vectors: KeyedVectors | None = None, *, code_words: bool = False
    ) -> None:
        self.tokenizer = tokenizer
        self.vocabulary = vocabulary
        self.vectors = vectors
        self.code_words = code_words  # read an emoticon code missing from the vocabulary as its name's words

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
        lexicon: bool = False,
    ) -> "TextBranch":
        """Tokenizer from the config; Word2Vec on ``texts`` + ``extra_texts`` (unless ``vectors``
        are given); the vocabulary is the Word2Vec vocabulary (with ``lexicon``: plus the lexicon's
        words and common emoticon codes, see the module docstring)."""
        tokenizer = Tokenizer.from_config(text_config)
        if vectors is None:
            sentences = tokenizer.tokenize_all(texts) + tokenizer.tokenize_all(extra_texts)
            with distributed.rank_zero_first():  # under torchrun: trained once, the other ranks read it from the cache
                vectors = cached_word2vec(sentences, word2vec_config, seed=seed)
        words = [*vectors.index_to_key, *lexicon_vocabulary(tokenizer)] if lexicon else vectors.index_to_key
        return cls(tokenizer, Vocabulary(words), vectors, code_words=lexicon)

    @classmethod
    def create(
        cls, config: ExperimentConfig, num_classes: int, train: Sequence[Record], *, extra_texts: Sequence[str] = (),
        word_vectors: KeyedVectors | None = None, **_: Any,
    ) -> tuple["TextBranch", AttBiLSTM]:
        """The adapter and a fresh model for training on ``train`` (Word2Vec unless ``word_vectors``)."""
        branch = cls.build(
            record_texts(train, "train"), config.text, config.word2vec, extra_texts=extra_texts, vectors=word_vectors,
            seed=config.seed, lexicon=config.text_model.lexicon,
        )
        return branch, branch.new_model(config.text_model, num_classes, config.seed)

    def train(self, model: AttBiLSTM, config: ExperimentConfig, classes: Sequence[str], train: tuple, dev: tuple | None, progress: bool):
        section = config.text_model
        if section.span_copies:
            train = with_spans(train, section.span_copies, section.span_max, config.seed)
        if section.lexicon_examples:
            train = with_lexicon_words(train, self.lexicon_examples(section.lexicon_examples, classes, config.seed))
        return fit(model, train, dev, self.collate, classes, config.train, config.seed, progress, lengths=[len(x) for x in train[0]])

    def lexicon_examples(self, count: int, classes: Sequence[str], seed: int) -> tuple[list[list[int]], list[int]]:
        """Up to ``count`` one-word examples (half positive, half negative, drawn from ``seed``): the
        HowNet / DUTIR sentiment words that this branch reads as one token it knows (not ``<unk>``),
        each labelled with its polarity. Lexicon knowledge as data: the model learns each word's
        polarity alone, not only where the training reviews happen to use it."""
        missing = [c for c in ("negative", "positive") if c not in classes]
        if missing:
            raise ValueError(f"text_model.lexicon_examples needs the labels 'negative' and 'positive'; this data has {list(classes)}")
        lexicon, generator = load_lexicon(), np.random.default_rng(seed)
        examples: list[list[int]] = []
        targets: list[int] = []
        for polarity in ("positive", "negative"):
            ids = sorted({ids[0] for ids in self.encode(sorted(getattr(lexicon, polarity)))
                          if len(ids) == 1 and ids[0] != self.vocabulary.stoi[UNK]})
            chosen = generator.permutation(ids)[: count // 2] if len(ids) > count // 2 else ids
            examples += [[int(i)] for i in chosen]
            targets += [classes.index(polarity)] * len(chosen)
        return examples, targets

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        return [self.vocabulary.encode(self.read(t)) for t in texts]

    def read(self, text: str) -> list[str]:
        """The tokens of ``text``, an unknown emoticon code read as its name's words when ``code_words``."""
        tokens = self.tokenizer(text)
        if not self.code_words:
            return tokens
        words: list[str] = []
        for token in tokens:
            expanded = None if token in self.vocabulary else self.name_words(token)
            words.extend(expanded or [token])
        return words

    def name_words(self, token: str) -> list[str] | None:
        """The words of an emoticon code's name ("[快哭了]" -> 快 哭 了); None for any other token."""
        name = emoticon_name(token)
        return None if name is None else self.tokenizer.segment(name)

    def encode_records(self, model: Any, records: Sequence[Record], split: str, progress: bool = False) -> tuple[list, list[int], list]:
        """Model inputs of labelled records, their positions (all), and no unreadable images."""
        return self.encode(record_texts(records, split)), list(range(len(records))), []

    @staticmethod
    def branch_records(records: Sequence[Record]) -> list[Record]:
        """What the text branch of a fused model trains on: every comment with text."""
        return [r for r in records if r.text]

    def words(self, text: Any) -> list[str] | None:
        return self.read(text) if isinstance(text, str) and text.strip() else None

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
        """A fresh Att-BiLSTM whose embeddings start from the Word2Vec vectors (and, with
        ``config.lexicon``, whose lexicon channel holds the vocabulary's lexicon features)."""
        if self.vectors is None:
            raise RuntimeError("this text branch has no Word2Vec vectors to initialise a model from")
        model_config = AttBiLSTMConfig.from_config(
            config, vocab_size=len(self.vocabulary), embedding_dim=self.vectors.vector_size, num_classes=num_classes
        )
        torch.manual_seed(seed)
        model = AttBiLSTM(model_config)
        matrix, _ = embedding_matrix(self.vocabulary, self.vectors, seed=seed)
        model.load_embeddings(torch.from_numpy(matrix))
        if config.lexicon:
            features = lexicon_features(self.vocabulary.itos, load_lexicon(), self.name_words)
            features[:2] = 0.0  # <pad>, <unk>
            model.load_lexicon_features(torch.from_numpy(features))
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
        names = saved_tensor_names(directory)  # before the model is built: nn.LSTM builds num_layers layers, however many
        layers = None if names is None else sum(name.endswith("lstm.weight_ih_l" + str(k)) for name in names for k in range(len(names)))
        if layers is not None and config.num_layers != layers:
            raise BundleError(f"{directory / MANIFEST}: model.num_layers is {config.num_layers!r}, the weights hold {layers} LSTM layer(s)")
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
        if self.code_words:
            vocabulary["unknown_codes"] = CODE_WORDS
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
        codes = vocabulary_section.get("unknown_codes", "unk")  # "unk": bundles written before the lexicon channel
        if codes not in ("unk", CODE_WORDS):
            raise BundleError(f"{directory / 'manifest.json'}: field 'vocabulary.unknown_codes' must be 'unk' or {CODE_WORDS!r}, got {codes!r}")
        return cls(Tokenizer(**settings), vocabulary, code_words=codes == CODE_WORDS)


def lexicon_vocabulary(tokenizer: Tokenizer) -> list[str]:
    """The lexicon's words and the common emoticon codes, as ``tokenizer`` reads them, that it reads
    as one token (a phrase jieba splits would never be looked up)."""
    candidates = [*sorted(lexicon_words(load_lexicon())), *common_emoticon_codes()]
    return [words[0] for words in map(tokenizer.segment, candidates) if len(words) == 1]


def record_texts(records: Sequence[Record], split: str) -> list[str]:
    missing = [r.id for r in records if not r.text]
    if missing:
        raise ValueError(f"{split}: {len(missing)} record(s) have no text (e.g. {missing[0]!r}); the text model needs text")
    return [r.text for r in records]  # type: ignore[misc]


def extended(train: tuple[Sequence[list[int]], Any], examples: list[list[int]], targets: Any) -> tuple[list[list[int]], Any]:
    """``train`` (examples, targets) followed by more ``examples`` and their ``targets``: class
    indices, or soft-target rows when ``train``'s targets are an (n, C) array (distillation); class
    indices given for soft targets become one-hot rows."""
    old_examples, old_targets = train
    if not isinstance(old_targets, (np.ndarray, torch.Tensor)):
        return [*old_examples, *examples], [*old_targets, *targets]
    old = np.asarray(old_targets)
    new = np.asarray(targets, dtype=old.dtype)
    if new.ndim == 1:
        new = np.eye(old.shape[1], dtype=old.dtype)[new.astype(np.int64)]
    return [*old_examples, *examples], np.concatenate([old, new.reshape(len(examples), old.shape[1])])


def with_lexicon_words(train: tuple[Sequence[list[int]], Any], words: tuple[list[list[int]], list[int]]) -> tuple[list[list[int]], Any]:
    """The training examples followed by the one-word lexicon examples (``TextBranch.lexicon_examples``);
    with soft targets (distillation) a word's target is its one-hot polarity row."""
    return extended(train, *words)


def with_spans(train: tuple[Sequence[list[int]], Any], copies: int, longest: int, seed: int) -> tuple[list[list[int]], Any]:
    """Short-text augmentation (``text_model.span_copies``): the training examples, then ``copies``
    random contiguous spans (2 .. ``longest`` tokens) of every example longer than ``longest``, each
    with its text's target (a class index, or a soft target row), drawn from ``seed``. Short comments
    are rare in long-review corpora; the spans teach the model to read a few words alone."""
    examples, targets = train
    generator = np.random.default_rng(seed)
    spans, parents = [], []
    for position, ids in enumerate(examples):
        if len(ids) <= longest:
            continue
        for _ in range(copies):
            size = int(generator.integers(2, longest + 1))
            start = int(generator.integers(0, len(ids) - size + 1))
            spans.append(list(ids[start : start + size]))
            parents.append(position)
    soft = isinstance(targets, (np.ndarray, torch.Tensor))
    return extended(train, spans, np.asarray(targets)[parents] if soft else [targets[i] for i in parents])
