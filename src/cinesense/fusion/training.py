"""Training the fused model from its two trained (or fresh) branches.

Both start from the two branches trained alone. ``late`` (the paper's decision-level fusion): the
branches are frozen and only W_t, W_i, W_s, b_s are fitted, on the branches' probabilities over dev
by default (fitting them on train would trust whichever branch memorised its own training data
best). ``feature`` and ``gated``: the whole model (branches included) trains end to end on train
for ``fusion.epochs``, the epoch chosen on dev; their text encoder starts from the trained text
branch (``fusion.text_init = "branch"``, fast) or afresh from the Word2Vec vectors ("word2vec"), so
that a text branch that has fitted its training labels — irony pairs included — does not leave the
fusion nothing to learn from the image.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Sequence
from typing import Any

import torch

from cinesense.config import ExperimentConfig
from cinesense.fusion.model import FusedModel, FusionModelConfig, collate_comments
from cinesense.train import History, fit

Comment = tuple[list[int], list[torch.Tensor]]  # token ids ([] = no text), image stem outputs


def new_fused_model(
    config: ExperimentConfig, num_classes: int, text_classifier: Any, image_classifier: Any
) -> FusedModel:
    """The fused model for ``config.fusion.method``, its branches copied from the trained branch
    classifiers (or a fresh text encoder, see the module docstring)."""
    fusion = FusionModelConfig(
        method=config.fusion.method, num_classes=num_classes,
        hidden_dim=config.fusion.hidden_dim, dropout=config.fusion.dropout,
    )
    if config.fusion.text_init not in ("branch", "word2vec"):
        raise ValueError(f"fusion.text_init must be 'branch' or 'word2vec', got {config.fusion.text_init!r}")
    fresh = fusion.method != "late" and config.fusion.text_init == "word2vec"
    if fresh and text_classifier.text_.vectors is None:
        raise ValueError("fusion.text_init = 'word2vec' needs a text branch trained in this process (with its Word2Vec vectors)")
    text = text_classifier.text_.new_model(config.text_model, num_classes, config.seed) if fresh else copy.deepcopy(text_classifier.model_)
    torch.manual_seed(config.seed)
    return FusedModel(text, copy.deepcopy(image_classifier.model_), fusion)


def fit_fused(
    model: FusedModel,
    config: ExperimentConfig,
    classes: Sequence[str],
    train: tuple[list[Comment], list[int]],
    dev: tuple[list[Comment], list[int]] | None,
    progress: bool = True,
) -> History:
    """Train ``model`` in place as its method requires (module docstring)."""
    if model.config.method != "late":
        lengths = [len(ids) for ids, _ in train[0]]
        joint = dataclasses.replace(config.train, epochs=config.fusion.epochs or config.train.epochs)
        return fit(model, train, dev, collate_comments, classes, joint, config.seed, progress, lengths=lengths)
    for parameter in model.branch_parameters():
        parameter.requires_grad_(False)
    if config.fusion.late_fit == "dev":
        if dev is None or not dev[0]:
            raise ValueError("late fusion fitted on dev (fusion.late_fit = 'dev') needs a dev split")
        fit_on, select_on = dev, None
    elif config.fusion.late_fit == "train":
        fit_on, select_on = train, dev
    else:
        raise ValueError(f"fusion.late_fit must be 'dev' or 'train', got {config.fusion.late_fit!r}")
    late_train = dataclasses.replace(
        config.train, epochs=config.fusion.late_epochs, learning_rate=config.fusion.late_learning_rate,
        patience=config.fusion.late_epochs, class_weights="none",
    )
    encoded_fit = (branch_outputs(model, fit_on[0]), fit_on[1])
    encoded_select = (branch_outputs(model, select_on[0]), select_on[1]) if select_on else None
    return fit(model.late, encoded_fit, encoded_select, collate_branch_outputs, classes, late_train, config.seed, progress)


@torch.no_grad()  # not inference_mode: late fusion trains on these tensors
def branch_outputs(model: FusedModel, comments: Sequence[Comment], batch_size: int = 256) -> list[dict[str, torch.Tensor]]:
    """Each comment's branch probabilities and modality flags (what late fusion reads)."""
    model.eval()
    rows: list[dict[str, torch.Tensor]] = []
    for start in range(0, len(comments), batch_size):
        encoded = model.encode(**collate_comments(list(comments[start : start + batch_size])))
        for i in range(encoded["p_text"].shape[0]):
            rows.append({key: encoded[key][i] for key in ("p_text", "p_image", "has_text", "has_image")})
    return rows


def collate_branch_outputs(batch: Sequence[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    return {key: torch.stack([row[key] for row in batch]) for key in ("p_text", "p_image", "has_text", "has_image")}
