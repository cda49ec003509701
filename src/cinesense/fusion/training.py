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
from collections.abc import Callable, Sequence
from typing import Any

import torch

from cinesense.config import FusionConfig, TextModelConfig, TrainConfig
from cinesense.fusion.model import FusedModel, FusionModelConfig, collate_comments
from cinesense.image.model import AttVGG16
from cinesense.text.branch import TextBranch
from cinesense.text.model import AttBiLSTM
from cinesense.train import History, fit

Comment = tuple[Any, list[torch.Tensor]]  # the text branch's example (token ids, [] = no text), image stem outputs


def new_fused_model(
    fusion: FusionConfig, num_classes: int, text_branch: TextBranch, text_model: AttBiLSTM, image_model: AttVGG16,
    *, text_config: TextModelConfig, seed: int,
) -> FusedModel:
    """The fused model for ``fusion.method``, its branches copied from the trained branch models
    (or a fresh text encoder from ``text_config`` and the branch's Word2Vec vectors, see the module
    docstring)."""
    model_config = FusionModelConfig.from_config(fusion, num_classes=num_classes)
    if fusion.text_init not in ("branch", "word2vec"):
        raise ValueError(f"fusion.text_init must be 'branch' or 'word2vec', got {fusion.text_init!r}")
    fresh = model_config.method != "late" and fusion.text_init == "word2vec"
    if fresh and text_branch.vectors is None:
        raise ValueError("fusion.text_init = 'word2vec' needs a text branch trained in this process (with its Word2Vec vectors)")
    text = text_branch.new_model(text_config, num_classes, seed) if fresh else copy.deepcopy(text_model)
    torch.manual_seed(seed)
    return FusedModel(text, copy.deepcopy(image_model), model_config)


def fit_fused(
    model: FusedModel,
    fusion: FusionConfig,
    train_config: TrainConfig,
    seed: int,
    classes: Sequence[str],
    train: tuple[list[Comment], list[int]],
    dev: tuple[list[Comment], list[int]] | None,
    progress: bool = True,
    *,
    collate: Callable[[list[Comment]], dict[str, Any]] = collate_comments,
    lengths: Sequence[int] | None = None,
) -> History:
    """Train ``model`` in place as its method requires (module docstring), optimising as
    ``train_config`` says (with ``fusion``'s epochs and learning rates). ``collate``: the comments'
    collate (the adapter's; the default reads token ids); ``lengths``: each training comment's text
    length (for ``bucket_by_length``; None = the token ids' lengths)."""
    if model.config.method != "late":
        lengths = list(lengths) if lengths is not None else [len(ids) for ids, _ in train[0]]
        joint = dataclasses.replace(train_config, epochs=fusion.epochs or train_config.epochs)
        return fit(model, train, dev, collate, classes, joint, seed, progress, lengths=lengths)
    for parameter in model.branch_parameters():
        parameter.requires_grad_(False)
    if fusion.late_fit == "dev":
        if dev is None or not dev[0]:
            raise ValueError("late fusion fitted on dev (fusion.late_fit = 'dev') needs a dev split")
        fit_on, select_on = dev, None
    elif fusion.late_fit == "train":
        fit_on, select_on = train, dev
    else:
        raise ValueError(f"fusion.late_fit must be 'dev' or 'train', got {fusion.late_fit!r}")
    late_train = dataclasses.replace(
        train_config, epochs=fusion.late_epochs, learning_rate=fusion.late_learning_rate,
        patience=fusion.late_epochs, class_weights="none",
    )
    encoded_fit = (branch_outputs(model, fit_on[0], collate=collate), fit_on[1])
    encoded_select = (branch_outputs(model, select_on[0], collate=collate), select_on[1]) if select_on else None
    return fit(model.late, encoded_fit, encoded_select, collate_branch_outputs, classes, late_train, seed, progress)


@torch.no_grad()  # not inference_mode: late fusion trains on these tensors
def branch_outputs(model: FusedModel, comments: Sequence[Comment], batch_size: int = 256, *,
                   collate: Callable[[list[Comment]], dict[str, Any]] = collate_comments) -> list[dict[str, torch.Tensor]]:
    """Each comment's branch probabilities and modality flags (what late fusion reads)."""
    model.eval()
    rows: list[dict[str, torch.Tensor]] = []
    for start in range(0, len(comments), batch_size):
        encoded = model.encode(**collate(list(comments[start : start + batch_size])))
        for i in range(encoded["p_text"].shape[0]):
            rows.append({key: encoded[key][i] for key in ("p_text", "p_image", "has_text", "has_image")})
    return rows


def collate_branch_outputs(batch: Sequence[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    return {key: torch.stack([row[key] for row in batch]) for key in ("p_text", "p_image", "has_text", "has_image")}
