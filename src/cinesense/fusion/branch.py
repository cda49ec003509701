"""The fused model's adapter (:mod:`cinesense.adapter`), made of the text and image adapters: a
comment is (token ids, the stem output of each of its images); a comment may have text, images or
both."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from cinesense.adapter import Adapter, ImageInput, image_list
from cinesense.config import ExperimentConfig
from cinesense.data.schema import Record
from cinesense.fusion.model import FusedModel, FusionModelConfig, collate_comments
from cinesense.fusion.training import Comment, fit_fused, new_fused_model
from cinesense.image.branch import ImageBranch
from cinesense.image.model import AttVGG16, AttVGG16Config
from cinesense.progress import say
from cinesense.text.branch import TextBranch
from cinesense.text.model import AttBiLSTM


class FusedBranch(Adapter):
    """The text branch's tokenizer and vocabulary and the image branch's preprocessing, for the
    fused model (:class:`~cinesense.fusion.model.FusedModel`)."""

    kind, reads_text, reads_image = "fused", True, True
    manifest_fields = ("tokenizer", "vocabulary", "preprocessing")
    branch_kinds = ("text", "image")
    collate = staticmethod(collate_comments)

    def __init__(self, text: TextBranch, image: ImageBranch) -> None:
        self.text, self.image = text, image

    def branch(self, kind: str) -> Any:
        return {"text": self.text, "image": self.image}.get(kind)

    # ------------------------------------------------------------------ training
    @classmethod
    def create(
        cls, config: ExperimentConfig, num_classes: int, train: Sequence[Record], *, branches: dict[str, Any], progress: bool = True, **_: Any
    ) -> tuple["FusedBranch", FusedModel]:
        """The adapter and the fused model built from the trained branch classifiers ``branches``."""
        text, image = branches["text"], branches["image"]
        adapter = cls(text.text_, image.image_)
        model = new_fused_model(config.fusion, num_classes, adapter.text, text.model_, image.model_, text_config=config.text_model, seed=config.seed)
        say(progress, f"fused model: {config.fusion.method} fusion")
        return adapter, model

    def train(self, model: FusedModel, config: ExperimentConfig, classes: Sequence[str], train: tuple, dev: tuple | None, progress: bool):
        return fit_fused(model, config.fusion, config.train, config.seed, classes, train, dev, progress)

    def encode_records(self, model: FusedModel, records: Sequence[Record], split: str, progress: bool = False) -> tuple[list, list[int], list]:
        """Fused-model inputs (token ids, stem outputs) through the feature cache; an unreadable
        image is dropped from its comment, a comment left with neither text nor image is left out."""
        paths = [p for r in records for p in r.images]
        outputs, failures = self.image.cached_stem_outputs(model.image, paths, progress) if paths else ([], [])
        stems = iter(outputs)
        examples = []
        for r in records:
            images = [o for o in (next(stems) for _ in r.images) if o is not None]
            examples.append((self.text.encode([r.text])[0] if r.text else [], images))  # an empty text still gives <unk>
        kept = [i for i, (ids, images) in enumerate(examples) if ids or images]
        return [examples[i] for i in kept], kept, failures

    # ---------------------------------------------------------------- inference
    def words(self, text: Any) -> list[str] | None:
        return self.text.words(text)

    def inputs(self, model: FusedModel, tokens: Sequence[list[str] | None], images: Sequence[ImageInput], batch_size: int) -> list[Comment]:
        """Fused-model inputs of checked comments: the words of each text (None: read as no text)
        and aligned image entries (no cache: images are read each time)."""
        comments = []
        for start in range(0, len(images), batch_size):
            chunk = [image_list(entry) for entry in images[start : start + batch_size]]
            flat = [image for entry in chunk for image in entry]
            stems = iter(self.image.stem_outputs(model.image, flat) if flat else [])
            for offset, entry in enumerate(chunk):
                comments.append((self.text.token_ids(tokens[start + offset]), [next(stems) for _ in entry]))
        return comments

    def length(self, example: Comment) -> int:
        return len(example[0])

    def explain(self, model: FusedModel, tokens: list[str] | None, image: ImageInput) -> tuple[torch.Tensor, dict[str, Any]]:
        """Logits of one checked comment, its tokens' weights (if it has words) and one attention map
        per image, in the order given."""
        (comment,) = self.inputs(model, [tokens], [image], 1)
        encoded = model.encode(**collate_comments([comment]))
        extra: dict[str, Any] = {}
        if tokens:
            extra.update(tokens=tokens, weights=encoded["token_weights"][0, : len(tokens)].tolist())
        if comment[1]:
            grids = [grid.tolist() for grid in encoded["image_attention"]]
            extra.update(image_attention=grids[0], image_attentions=grids)
        return model.fuse(encoded), extra

    # --------------------------------------------------------------- persistence
    def save(self, directory: Path, model: FusedModel) -> tuple[dict[str, Any], dict[str, Any]]:
        sections = {**self.text.save_files(directory), **self.image.save_files(directory)}
        if model.config.method == "late":
            w_text, w_image = model.late.modality_weights().tolist()
            sections["fusion_weights"] = {"text": w_text, "image": w_image}
        return sections, {"fusion": model.config.to_dict(), "text": model.text.config.to_dict(), "image": model.image.config.to_dict()}

    @classmethod
    def load(cls, directory: Path, manifest: dict[str, Any]) -> tuple["FusedBranch", FusedModel]:
        sections = manifest["model"]
        text, text_config = TextBranch.load_checked(directory, manifest, sections["text"])
        image_config = AttVGG16Config(**sections["image"])
        adapter = cls(text, ImageBranch.load_files(directory, manifest))
        return adapter, FusedModel(AttBiLSTM(text_config), AttVGG16(image_config), FusionModelConfig(**sections["fusion"]))
