"""The public object: ``Classifier`` with ``fit / predict / predict_proba / explain / save / load``.

    >>> from cinesense import Classifier
    >>> clf = Classifier.load("runs/douban")
    >>> clf.predict(["这部电影太好看了"])
"""

from __future__ import annotations

import dataclasses
import platform
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from gensim.models import KeyedVectors

from cinesense import __version__, bundle
from cinesense.config import ConfigError, ExperimentConfig, from_dict
from cinesense.data.schema import Record
from cinesense.text.model import AttBiLSTM, AttBiLSTMConfig, collate_token_ids
from cinesense.text.tokenize import Tokenizer
from cinesense.text.vocab import Vocabulary
from cinesense.text.word2vec import embedding_matrix, train_word2vec
from cinesense.train import History, fit, predict_logits


@dataclass
class Explanation:
    """Why the model decided: the tokens it read and the attention weight of each."""

    label: str
    probabilities: dict[str, float]
    tokens: list[str]
    weights: list[float]

    def top_tokens(self, k: int = 5) -> list[tuple[str, float]]:
        order = np.argsort(self.weights)[::-1][:k]
        return [(self.tokens[i], float(self.weights[i])) for i in order]


class Classifier:
    """Sentiment classifier of comments (text branch: Word2Vec + Att-BiLSTM).

    ``__init__`` only stores the config; ``fit`` sets ``classes_``, ``tokenizer_``, ``vocabulary_``,
    ``model_``, ``word_vectors_`` and ``history_``.
    """

    def __init__(self, config: ExperimentConfig | None = None) -> None:
        self.config = config if config is not None else ExperimentConfig()

    # ------------------------------------------------------------------ training
    def fit(
        self,
        train: Sequence[Record],
        dev: Sequence[Record] | None = None,
        *,
        extra_texts: Sequence[str] = (),
        word_vectors: KeyedVectors | None = None,
        progress: bool = True,
    ) -> "Classifier":
        """Train Word2Vec on train (+ ``extra_texts``) text, then the Att-BiLSTM, selecting on ``dev``."""
        cfg = self.config
        self.classes_ = sorted(set(cfg.data.labels))
        _check_labels(train, self.classes_, "train")
        if dev is not None:
            _check_labels(dev, self.classes_, "dev")
        self.tokenizer_ = Tokenizer(**dataclasses.asdict(cfg.text))
        train_tokens = self.tokenizer_.tokenize_all(_texts(train, "train"))
        if word_vectors is None:
            extra_tokens = self.tokenizer_.tokenize_all(extra_texts)
            word_vectors = train_word2vec(train_tokens + extra_tokens, cfg.word2vec, seed=cfg.seed)
        self.word_vectors_ = word_vectors
        self.vocabulary_ = Vocabulary(word_vectors.index_to_key)
        matrix, self.embeddings_found_ = embedding_matrix(self.vocabulary_, word_vectors, seed=cfg.seed)
        model_config = AttBiLSTMConfig(
            vocab_size=len(self.vocabulary_),
            embedding_dim=word_vectors.vector_size,
            num_classes=len(self.classes_),
            **dataclasses.asdict(cfg.text_model),
        )
        torch.manual_seed(cfg.seed)
        self.model_ = AttBiLSTM(model_config)
        self.model_.load_embeddings(torch.from_numpy(matrix))
        index = {c: i for i, c in enumerate(self.classes_)}
        train_data = ([self.vocabulary_.encode(t) for t in train_tokens], [index[r.label] for r in train])
        dev_data = None
        if dev is not None:
            dev_ids = [self.vocabulary_.encode(t) for t in self.tokenizer_.tokenize_all(_texts(dev, "dev"))]
            dev_data = (dev_ids, [index[r.label] for r in dev])
        self.history_: History = fit(
            self.model_, train_data, dev_data, collate_token_ids, self.classes_, cfg.train, cfg.seed, progress
        )
        self.model_.eval()
        return self

    # ---------------------------------------------------------------- inference
    def _encode(self, texts: Sequence[str]) -> list[list[int]]:
        self._check_fitted()
        if isinstance(texts, str):
            raise TypeError("pass a list of texts, not a single string")
        return [self.vocabulary_.encode(self.tokenizer_(t)) for t in texts]

    def predict_proba(self, texts: Sequence[str], batch_size: int = 256) -> np.ndarray:
        """Class probabilities (n, C); columns follow ``classes_``; rows sum to 1."""
        ids = self._encode(texts)
        order = np.argsort([len(x) for x in ids], kind="stable")  # batch similar lengths together
        logits = predict_logits(self.model_, [ids[i] for i in order], collate_token_ids, batch_size)
        proba = np.empty((len(ids), len(self.classes_)), dtype=np.float64)
        if len(ids):
            proba[order] = torch.softmax(logits.double(), dim=-1).numpy()
        return proba

    def predict(self, texts: Sequence[str]) -> list[str]:
        """Predicted label of each text."""
        proba = self.predict_proba(texts)
        return [self.classes_[i] for i in proba.argmax(axis=1)]

    @torch.inference_mode()
    def explain(self, text: str) -> Explanation:
        """Prediction with the attention weight of every token."""
        self._check_fitted()
        tokens = self.tokenizer_(text)
        inputs = collate_token_ids([self.vocabulary_.encode(tokens)])
        self.model_.eval()
        features, weights = self.model_.forward_features(**inputs)
        proba = torch.softmax(self.model_.forward_head(features).double(), dim=-1)[0].numpy()
        shown = tokens if tokens else ["<empty>"]
        return Explanation(
            label=self.classes_[int(proba.argmax())],
            probabilities={c: float(p) for c, p in zip(self.classes_, proba)},
            tokens=shown,
            weights=weights[0, : len(shown)].tolist(),
        )

    # --------------------------------------------------------------- persistence
    def save(self, directory: str | Path, *, metrics: dict[str, Any] | None = None, provenance: dict[str, Any] | None = None) -> Path:
        """Write the model bundle (manifest, vocabulary, safetensors weights) to ``directory``."""
        self._check_fitted()
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.vocabulary_.save(directory / bundle.VOCABULARY)
        manifest = {
            "cinesense_version": __version__,
            "classes": self.classes_,
            "tokenizer": _bundle_tokenizer_files(self.tokenizer_, directory),
            "model": self.model_.config.to_dict(),
            "vocabulary": {"file": bundle.VOCABULARY, "size": len(self.vocabulary_)},
            "config": self.config.to_dict(),
            "metrics": metrics or {},
            "provenance": {"python": platform.python_version(), "torch": torch.__version__, **(provenance or {})},
        }
        return bundle.write_bundle(directory, manifest, self.model_.state_dict())

    @classmethod
    def load(cls, directory: str | Path) -> "Classifier":
        """Load a bundle written by ``save``, validating everything; nothing is unpickled."""
        directory = Path(directory)
        manifest = bundle.read_manifest(directory)
        source = str(directory / bundle.MANIFEST)
        try:
            model_config = AttBiLSTMConfig(**manifest["model"])
            settings = dict(manifest["tokenizer"])
            for key in TOKENIZER_FILES:
                if settings.get(key):
                    settings[key] = str(directory / settings[key])
            tokenizer = Tokenizer(**settings)
        except (TypeError, ValueError, OSError) as error:
            raise bundle.BundleError(f"{source}: invalid model or tokenizer settings ({error})") from None
        try:
            vocabulary = Vocabulary.load(directory / bundle.VOCABULARY)
        except (FileNotFoundError, ValueError) as error:
            raise bundle.BundleError(str(error)) from None
        if len(vocabulary) != model_config.vocab_size:
            raise bundle.BundleError(f"{source}: vocabulary has {len(vocabulary)} tokens, the model expects {model_config.vocab_size}")
        classes = manifest["classes"]
        if not isinstance(classes, list) or len(classes) != model_config.num_classes:
            raise bundle.BundleError(f"{source}: 'classes' must list {model_config.num_classes} labels")
        model = AttBiLSTM(model_config)
        bundle.load_state_checked(model, bundle.read_weights(directory, manifest), str(directory / bundle.WEIGHTS))
        model.eval()
        config = ExperimentConfig()
        if isinstance(manifest.get("config"), dict):
            try:
                config = from_dict(ExperimentConfig, manifest["config"])
            except ConfigError as error:
                raise bundle.BundleError(f"{source}: invalid 'config' section ({error})") from None
        clf = cls(config)
        clf.classes_, clf.tokenizer_, clf.vocabulary_, clf.model_ = list(classes), tokenizer, vocabulary, model
        clf.manifest_ = manifest
        return clf

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise RuntimeError("this Classifier is not fitted: call fit() or Classifier.load()")


TOKENIZER_FILES = {"stopwords": "stopwords.txt", "user_dict": "user_dict.txt"}


def _bundle_tokenizer_files(tokenizer: Tokenizer, directory: Path) -> dict[str, Any]:
    """Copy the tokenizer's stop-word list and user dictionary into the bundle; the manifest
    names the copies relative to the bundle, so a saved model never depends on outside files."""
    settings = tokenizer.to_dict()
    for key, name in TOKENIZER_FILES.items():
        if settings.get(key):
            shutil.copyfile(settings[key], directory / name)
            settings[key] = name
    return settings


def _texts(records: Sequence[Record], split: str) -> list[str]:
    missing = [r.id for r in records if not r.text]
    if missing:
        raise ValueError(f"{split}: {len(missing)} record(s) have no text (e.g. {missing[0]!r}); the text model needs text")
    return [r.text for r in records]  # type: ignore[misc]


def _check_labels(records: Sequence[Record], classes: list[str], split: str) -> None:
    unknown = sorted({str(r.label) for r in records if r.label not in classes})
    if unknown:
        raise ValueError(f"{split}: labels {unknown} are not in the configured labels {classes}")
