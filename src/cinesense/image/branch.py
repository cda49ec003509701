"""The image branch's preprocessing state: how images become Att-VGG16 inputs (through the conv
feature cache when training), and how the branch is saved in a model bundle."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Union

import torch
from PIL import Image

from cinesense.config import ImageModelConfig
from cinesense.image.features import FeatureCache, stem_batch_size, state_dict_sha256
from cinesense.image.loading import load_image
from cinesense.image.model import AttVGG16, AttVGG16Config, collate_stem_outputs
from cinesense.image.weights import Preprocessing, load_vgg16_weights, preprocess_image

ImageSource = Union[str, Path, bytes, Image.Image]


class ImageBranch:
    """Turns images into the frozen VGG16 stem's output for the Att-VGG16 head."""

    collate = staticmethod(collate_stem_outputs)

    def __init__(self, preprocessing: Preprocessing, feature_cache: str = "") -> None:
        self.preprocessing = preprocessing
        self.feature_cache = feature_cache

    @classmethod
    def from_config(cls, config: ImageModelConfig) -> "ImageBranch":
        return cls(Preprocessing(input_size=config.input_size), config.feature_cache)

    def new_model(self, config: ImageModelConfig, num_classes: int, seed: int = 0) -> AttVGG16:
        """A fresh Att-VGG16 with ImageNet conv weights (or random ones only if asked explicitly)."""
        torch.manual_seed(seed)
        model = AttVGG16(
            AttVGG16Config(
                num_classes=num_classes,
                attention_dim=config.attention_dim,
                dropout=config.dropout,
                trainable_blocks=config.trainable_blocks,
                final_pool=config.final_pool,
                projection_dim=config.projection_dim or None,
                feature_scale=config.feature_scale,
            )
        )
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

    def stem_outputs(self, model: AttVGG16, images: Sequence[ImageSource]) -> torch.Tensor:
        """Stem outputs (N, 512, h, w) of images given as paths, bytes or PIL images (no cache), run
        ``stem_batch_size`` images at a time (one on a CPU: fastest there, and memory stays flat)."""
        tensors = [preprocess_image(load_image(image), self.preprocessing) for image in images]
        step = stem_batch_size(next(model.parameters()).device)
        with torch.inference_mode():
            return torch.cat([model.forward_stem(torch.stack(tensors[i : i + step])) for i in range(0, len(tensors), step)])

    @staticmethod
    def _weights_id(model: AttVGG16) -> str:
        """Identifies the frozen stem's weights (its registered conv layers only)."""
        return state_dict_sha256(model.stem)

    def save(self) -> dict[str, Any]:
        return {"preprocessing": self.preprocessing.to_dict()}

    @classmethod
    def load(cls, section: dict[str, Any]) -> "ImageBranch":
        return cls(Preprocessing.from_dict(section["preprocessing"]))
