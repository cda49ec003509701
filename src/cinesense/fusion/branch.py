"""The fused model's adapter (:mod:`cinesense.adapter`), made of the text and image adapters: a
comment is (its text branch's example, the stem output of each of its images); a comment may have
text, images or both. The text branch is the Att-BiLSTM (``fusion.text_branch = "text"``: token ids,
[] for no text) or an E5 model ("encoder", :mod:`cinesense.text.encoder_branch`: (sentence vector,
token ids or None), None for no text)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

import torch

from cinesense.adapter import Adapter, ImageInput, image_list
from cinesense.bundle import MANIFEST, BundleError
from cinesense.config import ExperimentConfig
from cinesense.data.schema import Record
from cinesense.fusion.model import FusedModel, FusionModelConfig, collate_comments
from cinesense.fusion.training import Comment, fit_fused, new_fused_model
from cinesense.image.branch import ImageBranch
from cinesense.image.model import AttVGG16, AttVGG16Config
from cinesense.progress import say
from cinesense.text.branch import TextBranch
from cinesense.text.encoder_branch import EncoderBranch
from cinesense.text.encoder_model import collate_optional_sentences
from cinesense.text.model import AttBiLSTM


class FusedBranch(Adapter):
    """The text branch's tokenizer and vocabulary (and, for an E5 text branch, its encoder) and the
    image branch's preprocessing, for the fused model (:class:`~cinesense.fusion.model.FusedModel`)."""

    kind, reads_text, reads_image = "fused", True, True
    manifest_fields = ("tokenizer", "vocabulary", "preprocessing")
    branch_kinds = ("text", "image")

    def __init__(self, text: TextBranch | EncoderBranch, image: ImageBranch) -> None:
        self.encoder = text if isinstance(text, EncoderBranch) else None  # the E5 text branch, or None (the Att-BiLSTM)
        self.text = text.text if self.encoder is not None else text  # tokenizer and vocabulary
        self.image = image
        self.collate = partial(collate_comments, text_collate=None if self.encoder is None else partial(
            collate_optional_sentences, dim=self.encoder.encoder.dim, with_tokens=self.encoder.with_tokens))

    @classmethod
    def branches_for(cls, config: ExperimentConfig) -> tuple[str, ...]:
        return (config.fusion.text_branch, "image")

    def branch(self, kind: str) -> Any:
        return {"text": self.text, "image": self.image, "encoder": self.encoder}.get(kind)

    # ------------------------------------------------------------------ training
    @classmethod
    def create(
        cls, config: ExperimentConfig, num_classes: int, train: Sequence[Record], *, branches: dict[str, Any], progress: bool = True, **_: Any
    ) -> tuple["FusedBranch", FusedModel]:
        """The adapter and the fused model built from the trained branch classifiers ``branches``."""
        text, image = branches[config.fusion.text_branch], branches["image"]
        adapter = cls(text.adapter, image.image_)
        model = new_fused_model(config.fusion, num_classes, adapter.text, text.model_, image.model_, text_config=config.text_model, seed=config.seed)
        say(progress, f"fused model: {config.fusion.method} fusion")
        return adapter, model

    def train(self, model: FusedModel, config: ExperimentConfig, classes: Sequence[str], train: tuple, dev: tuple | None, progress: bool):
        lengths = [self.length(example) for example in train[0]]
        return fit_fused(model, config.fusion, config.train, config.seed, classes, train, dev, progress, collate=self.collate, lengths=lengths)

    def encode_records(self, model: FusedModel, records: Sequence[Record], split: str, progress: bool = False) -> tuple[list, list[int], list]:
        """Fused-model inputs (token ids, stem outputs) through the feature cache; an unreadable
        image is dropped from its comment, a comment left with neither text nor image is left out."""
        paths = [p for r in records for p in r.images]
        outputs, failures = self.image.cached_stem_outputs(model.image, paths, progress) if paths else ([], [])
        stems = iter(outputs)
        texts = self._record_texts(records, split, progress)
        examples = []
        for r, text in zip(records, texts):
            examples.append((text, [o for o in (next(stems) for _ in r.images) if o is not None]))
        kept = [i for i, (text, images) in enumerate(examples) if self._has_text(text) or images]
        return [examples[i] for i in kept], kept, failures

    def _record_texts(self, records: Sequence[Record], split: str, progress: bool) -> list[Any]:
        """The text branch's example of each record's text (no text: [] for the Att-BiLSTM, None for E5)."""
        if self.encoder is None:
            return [self.text.encode([r.text])[0] if r.text else [] for r in records]  # an empty text still gives <unk>
        with_text = [i for i, r in enumerate(records) if r.text]
        found = self.encoder.encode_records(None, [records[i] for i in with_text], split, progress)[0] if with_text else []
        return _placed(len(records), with_text, found)

    def _has_text(self, text: Any) -> bool:
        return text is not None and (self.encoder is not None or bool(text))

    def _texts(self, tokens: Sequence[list[str] | None]) -> list[Any]:
        """The text branch's example of each checked request's words (None: no text)."""
        if self.encoder is None:
            return [self.text.token_ids(words) for words in tokens]
        with_text = [i for i, words in enumerate(tokens) if words is not None]
        found = self.encoder.inputs(None, [tokens[i] for i in with_text], [], len(with_text)) if with_text else []
        return _placed(len(tokens), with_text, found)

    # ---------------------------------------------------------------- inference
    def words(self, text: Any) -> list[str] | None:
        return (self.encoder or self.text).words(text)

    def inputs(self, model: FusedModel, tokens: Sequence[list[str] | None], images: Sequence[ImageInput], batch_size: int) -> list[Comment]:
        """Fused-model inputs of checked comments: the words of each text (None: read as no text)
        and aligned image entries (no cache: images are read each time)."""
        comments = []
        for start in range(0, len(images), batch_size):
            chunk = [image_list(entry) for entry in images[start : start + batch_size]]
            flat = [image for entry in chunk for image in entry]
            stems = iter(self.image.stem_outputs(model.image, flat) if flat else [])
            texts = self._texts(tokens[start : start + len(chunk)])
            for text, entry in zip(texts, chunk):
                comments.append((text, [next(stems) for _ in entry]))
        return comments

    def length(self, example: Comment) -> int:
        text = example[0]
        if self.encoder is None:
            return len(text)
        return len(text[1]) if text is not None and text[1] is not None else 0

    def explain(self, model: FusedModel, tokens: list[str] | None, image: ImageInput) -> tuple[torch.Tensor, dict[str, Any]]:
        """Logits of one checked comment, its tokens' weights (if it has words) and one attention map
        per image, in the order given."""
        (comment,) = self.inputs(model, [tokens], [image], 1)
        encoded = model.encode(**self.collate([comment]))
        extra: dict[str, Any] = {}
        if tokens and encoded["token_weights"] is not None:  # an E5 probe reads the whole text as one vector: no word weights
            extra.update(tokens=list(tokens), weights=encoded["token_weights"][0, : len(tokens)].tolist())
        if comment[1]:
            grids = [grid.tolist() for grid in encoded["image_attention"]]
            extra.update(image_attention=grids[0], image_attentions=grids)
        return model.fuse(encoded), extra

    # --------------------------------------------------------------- persistence
    def save(self, directory: Path, model: FusedModel) -> tuple[dict[str, Any], dict[str, Any]]:
        sections = {**self.text.save_files(directory), **self.image.save_files(directory)}
        if self.encoder is not None:
            sections["text_encoder"] = self.encoder.encoder.to_dict()
        if model.config.method == "late":
            w_text, w_image = model.late.modality_weights().tolist()
            sections["fusion_weights"] = {"text": w_text, "image": w_image}
        return sections, {"fusion": model.config.to_dict(), "text": model.text.config.to_dict(), "image": model.image.config.to_dict()}

    @classmethod
    def load(cls, directory: Path, manifest: dict[str, Any]) -> tuple["FusedBranch", FusedModel]:
        sections = manifest["model"]
        fusion = FusionModelConfig(**sections["fusion"])
        image_config = AttVGG16Config(**sections["image"])
        text: TextBranch | EncoderBranch
        if fusion.text_kind == "encoder":
            if not isinstance(sections.get("text"), dict):
                raise BundleError(f"{directory / MANIFEST}: field 'model.text' must be an object (the E5 text branch's config)")
            text, text_model = EncoderBranch.load_section(directory, manifest, sections["text"])
        else:
            text, text_config = TextBranch.load_checked(directory, manifest, sections["text"])
            text_model = AttBiLSTM(text_config)
        adapter = cls(text, ImageBranch.load_files(directory, manifest))
        return adapter, FusedModel(text_model, AttVGG16(image_config), fusion)


def _placed(n: int, positions: Sequence[int], values: Sequence[Any]) -> list[Any]:
    """``n`` entries: ``values`` at ``positions``, None elsewhere (the comments without text)."""
    placed: list[Any] = [None] * n
    for i, value in zip(positions, values, strict=True):
        placed[i] = value
    return placed
