"""The image model's adapter (:mod:`cinesense.adapter`): how images become Att-VGG16 inputs
(through the conv feature cache when training), how the model is built, trained, explained and saved
in a model bundle."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from cinesense.adapter import Adapter, ImageInput, ImageSource, InputError
from cinesense.config import ExperimentConfig, ImageAugmentConfig, ImageModelConfig
from cinesense.data.schema import Record, one_record_per_image
from cinesense.image.augment import training_variants
from cinesense.image.features import FeatureCache, stem_batch_size, state_dict_sha256
from cinesense.image.loading import as_rgb
from cinesense.image.model import AttVGG16, AttVGG16Config, collate_stem_outputs
from cinesense.image.weights import Preprocessing, load_vgg16_weights, preprocess_image
from cinesense.train import fit

__all__ = ["ImageBranch", "ImageSource"]


class ImageBranch(Adapter):
    """Turns images into the frozen VGG16 stem's output for the Att-VGG16 head."""

    kind, reads_image, images_per_comment = "image", True, 1
    manifest_fields = ("preprocessing",)
    collate = staticmethod(collate_stem_outputs)
    stem_cache: Any = None  # a StemCache (cinesense.image.stem_cache.attach_sticker_cache), or None: no cache

    def __init__(self, preprocessing: Preprocessing, feature_cache: str = "", augment: ImageAugmentConfig | None = None) -> None:
        self.preprocessing = preprocessing
        self.feature_cache = feature_cache
        self.augment = augment or ImageAugmentConfig()

    @classmethod
    def from_config(cls, config: ImageModelConfig) -> "ImageBranch":
        return cls(Preprocessing(input_size=config.input_size), config.feature_cache, config.augment)

    @classmethod
    def create(cls, config: ExperimentConfig, num_classes: int, train: Sequence[Record], **_: Any) -> tuple["ImageBranch", AttVGG16]:
        """The adapter and a fresh model for training."""
        branch = cls.from_config(config.image_model)
        return branch, branch.new_model(config.image_model, num_classes, config.seed)

    def train(self, model: AttVGG16, config: ExperimentConfig, classes: Sequence[str], train: tuple, dev: tuple | None, progress: bool):
        return fit(model, train, dev, self.collate, classes, config.train, config.seed, progress)

    def new_model(self, config: ImageModelConfig, num_classes: int, seed: int = 0) -> AttVGG16:
        """A fresh Att-VGG16 with ImageNet conv weights (or random ones only if asked explicitly)."""
        torch.manual_seed(seed)
        model = AttVGG16(AttVGG16Config.from_config(config, num_classes=num_classes))
        if config.weights != "random":
            path = None if config.weights == "imagenet" else Path(config.weights)
            load_vgg16_weights(model.backbone, path)
        return model

    def cached_stem_outputs(
        self, model: AttVGG16, paths: Sequence[Path], progress: bool = True
    ) -> tuple[list[torch.Tensor | None], list[tuple[Path, str]]]:
        """Stem output of each image (None where it failed to load) via the on-disk feature cache."""
        weights = self._weights_id(model)
        cache = FeatureCache(self.feature_cache or None, model.stem, self.preprocessing, weights, model.stem_name, progress=progress)
        unique = list(dict.fromkeys(paths))
        stacked, failures = cache.get(unique)
        failed = {Path(p) for p, _ in failures}
        good = [p for p in unique if Path(p) not in failed]
        by_path = {p: stacked[i] for i, p in enumerate(good)}
        return [by_path.get(p) for p in paths], failures

    def encode_records(self, model: AttVGG16, records: Sequence[Record], split: str, progress: bool = False) -> tuple[list, list[int], list]:
        """Stem outputs of labelled records through the feature cache, the positions of the records
        whose image could be read, and the images that could not (path, reason).

        With ``split == "train"`` and ``augment.variants``, the restyled copies of each readable
        training image follow (:func:`~cinesense.image.augment.training_variants`), each with its
        record's position again (so its record's label)."""
        missing = [r.id for r in records if r.image is None]
        if missing:
            raise ValueError(f"{split}: {len(missing)} record(s) have no image (e.g. {missing[0]!r}); the image model needs one")
        outputs, failures = self.cached_stem_outputs(model, [r.image for r in records], progress)  # type: ignore[misc]
        kept = [i for i, o in enumerate(outputs) if o is not None]
        examples = [outputs[i] for i in kept]
        if split == "train" and self.augment.variants:
            copies = training_variants([records[i].image for i in kept], self.augment.variants,  # type: ignore[misc]
                                       seed=self.augment.seed, strength=self.augment.strength)
            owners = [i for i, paths in zip(kept, copies) for _ in paths]
            extra, _ = self.cached_stem_outputs(model, [p for paths in copies for p in paths], progress)
            kept += [i for i, o in zip(owners, extra) if o is not None]
            examples += [o for o in extra if o is not None]
        return examples, kept, failures

    @staticmethod
    def branch_records(records: Sequence[Record]) -> list[Record]:
        """What the image branch of a fused model trains on: every image, with its comment's label."""
        return one_record_per_image(records)

    def inputs(self, model: AttVGG16, tokens: Sequence[Any], images: Sequence[ImageInput], batch_size: int) -> list[torch.Tensor]:
        """Model inputs of checked requests (one image each), ``batch_size`` images at a time."""
        chunks = [self.stem_outputs(model, images[i : i + batch_size]) for i in range(0, len(images), batch_size)]  # type: ignore[arg-type]
        return [o for chunk in chunks for o in chunk]

    @classmethod
    def check_explained(cls, image: ImageInput) -> None:
        if isinstance(image, (list, tuple)):
            raise InputError("argument 'image': an image model explains one image at a time, not a list", "image")

    def explain(self, model: AttVGG16, tokens: Any, image: ImageSource) -> tuple[torch.Tensor, dict[str, Any]]:
        """Logits of one checked image and its attention map."""
        features, attention = model.forward_features(self.stem_outputs(model, [image]))
        grid = attention[0].tolist()
        return model.forward_head(features), {"image_attention": grid, "image_attentions": [attention[0].tolist()]}

    def stem_outputs(self, model: AttVGG16, images: Sequence[ImageSource]) -> torch.Tensor:
        """Stem outputs (N, 512, h, w) of images given as paths, bytes or PIL images (no cache), run
        ``stem_batch_size`` images at a time (one on a CPU: fastest there, and memory stays flat).
        An image already decoded by ``load_image`` is used as it is. With a ``stem_cache``
        (:mod:`cinesense.image.stem_cache`), each distinct image content runs the stem once."""
        decoded = [as_rgb(image) for image in images]
        if self.stem_cache is None:
            return self._run_stem(model, decoded)
        namespace = self.stem_cache.namespace(model.stem, model.stem_name, self.preprocessing.to_dict())
        return self.stem_cache.outputs(namespace, decoded, lambda todo: self._run_stem(model, todo), next(model.parameters()).device)

    def _run_stem(self, model: AttVGG16, decoded: Sequence[Any]) -> torch.Tensor:
        tensors = [preprocess_image(image, self.preprocessing) for image in decoded]
        step = stem_batch_size(next(model.parameters()).device)
        with torch.inference_mode():
            return torch.cat([model.forward_stem(torch.stack(tensors[i : i + step])) for i in range(0, len(tensors), step)])

    @staticmethod
    def _weights_id(model: AttVGG16) -> str:
        """Identifies the frozen stem's weights (its registered conv layers only)."""
        return state_dict_sha256(model.stem)

    def save(self, directory: Path, model: AttVGG16) -> tuple[dict[str, Any], dict[str, Any]]:
        """The manifest sections and the model section."""
        return self.save_files(directory), model.config.to_dict()

    @classmethod
    def load(cls, directory: Path, manifest: dict[str, Any]) -> tuple["ImageBranch", AttVGG16]:
        """Inverse of ``save``: the adapter and the (untrained) model the manifest describes."""
        config = AttVGG16Config(**manifest["model"])
        return cls.load_files(directory, manifest), AttVGG16(config)

    def save_files(self, directory: Path) -> dict[str, Any]:
        return {"preprocessing": self.preprocessing.to_dict()}

    @classmethod
    def load_files(cls, directory: Path, section: dict[str, Any]) -> "ImageBranch":
        return cls(Preprocessing.from_dict(section["preprocessing"]))
