"""BiLSTM-VGG16: the text branch (Att-BiLSTM, or an E5 model of the "encoder" kind) and the image
branch (Att-VGG16) fused.

One comment = text (possibly missing) + zero or more images. Each image goes through the image
branch on its own; a comment's images are pooled (mean of their attended vectors, or of their class
probabilities for late fusion). Three fusions, all returning logits:

- ``late`` — the paper's decision-level fusion. P_c = (W_t P_t + W_i P_i) / (W_t + W_i) (eq. 7, with
  W_t, W_i > 0 scalars, renormalised so that a comment without an image is classified from its
  text alone and one without text from its images alone), then logits = W_s P_c + b_s (eq. 8).
- ``feature`` — intermediate fusion (the paper's Fig. 3): [h_t, h_i, has_text, has_image] ->
  dropout -> linear, with h = 0 for a missing modality.
- ``gated`` — a gated multimodal unit (Arevalo et al., 2017): z = sigmoid(W_z [h_t, h_i, flags]),
  h = z * tanh(U_t h_t) + (1 - z) * tanh(U_i h_i) (z forced to 1 / 0 when a modality is missing),
  then dropout -> linear.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from cinesense.config import FusionConfig
from cinesense.image.model import AttVGG16
from cinesense.text.model import collate_token_ids

METHODS = ("late", "feature", "gated")
TEXT_KINDS = ("text", "encoder")  # the text branch: the Att-BiLSTM, or an E5 model (text.encoder_model.SentenceModel)


@dataclass
class FusionModelConfig:
    """Everything needed to rebuild the fusion (saved with every fused model); the defaults are
    those of ``FusionConfig`` (the TOML section): build it with ``from_config``."""

    method: str = FusionConfig.method
    num_classes: int = 2
    hidden_dim: int = FusionConfig.hidden_dim
    dropout: float = FusionConfig.dropout
    text_kind: str = "text"  # the text branch's kind (FusionConfig.text_branch)

    @classmethod
    def from_config(cls, section: FusionConfig, *, num_classes: int) -> "FusionModelConfig":
        return cls(method=section.method, num_classes=num_classes, hidden_dim=section.hidden_dim, dropout=section.dropout,
                   text_kind=section.text_branch)

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"fusion method must be one of {', '.join(METHODS)}, got {self.method!r}")
        if self.text_kind not in TEXT_KINDS:
            raise ValueError(f"fusion text_kind must be one of {', '.join(TEXT_KINDS)}, got {self.text_kind!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class LateFusion(nn.Module):
    """Eq. 7-8 on branch probabilities: logits = W_s P_c + b_s, P_c the renormalised weighted mean."""

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        self.raw_weights = nn.Parameter(torch.zeros(2))  # softplus -> (W_t, W_i) > 0; start equal
        self.classifier = nn.Linear(num_classes, num_classes)  # W_s, b_s
        with torch.no_grad():
            self.classifier.weight.copy_(torch.eye(num_classes) * 4.0)  # start as argmax of P_c
            self.classifier.bias.zero_()

    def modality_weights(self) -> torch.Tensor:
        """(W_t, W_i)."""
        return nn.functional.softplus(self.raw_weights)

    def forward(self, p_text: torch.Tensor, p_image: torch.Tensor, has_text: torch.Tensor, has_image: torch.Tensor) -> torch.Tensor:
        """p_text, p_image (B, C) probabilities (any values where the modality is missing);
        has_text, has_image (B,) bool, at least one True per row. Returns logits (B, C)."""
        w_text, w_image = self.modality_weights()
        a = w_text * has_text.float()  # (B,)
        b = w_image * has_image.float()  # (B,)
        fused = (a[:, None] * p_text + b[:, None] * p_image) / (a + b).clamp(min=1e-12)[:, None]  # (B, C)
        return self.classifier(fused)


class FusedModel(nn.Module):
    """Text branch + image branch + one fusion; ``forward`` returns logits (B, C).

    The text branch is any module with ``forward_features(**text_inputs) -> (features (B, Dt), token
    weights (B, T) or None)``, ``forward_head(features) -> logits`` and ``feature_dim``: the
    Att-BiLSTM (inputs ``token_ids``, ``lengths``) or an E5 model (``sentence`` [+ ``token_ids``,
    ``lengths``])."""

    skips_parameters = True  # a batch without images (or texts) leaves a branch unused: DDP must look for that

    def __init__(self, text: nn.Module, image: AttVGG16, config: FusionModelConfig) -> None:
        super().__init__()
        self.config = config
        self.text = text
        self.image = image
        d_text, d_image = text.feature_dim, image.feature_dim
        self.dropout = nn.Dropout(config.dropout)
        if config.method == "late":
            self.late = LateFusion(config.num_classes)
        elif config.method == "feature":
            self.classifier = nn.Linear(d_text + d_image + 2, config.num_classes)
        else:
            self.text_projection = nn.Linear(d_text, config.hidden_dim)
            self.image_projection = nn.Linear(d_image, config.hidden_dim)
            self.gate = nn.Linear(d_text + d_image + 2, config.hidden_dim)
            self.classifier = nn.Linear(config.hidden_dim, config.num_classes)

    def branch_parameters(self) -> list[nn.Parameter]:
        return list(self.text.parameters()) + list(self.image.parameters())

    def fusion_parameters(self) -> list[nn.Parameter]:
        branch = {id(p) for p in self.branch_parameters()}
        return [p for p in self.parameters() if id(p) not in branch]

    def encode(
        self,
        stem_output: torch.Tensor | None = None,
        image_owner: torch.Tensor | None = None,
        has_text: torch.Tensor | None = None,
        **text_inputs: torch.Tensor,
    ) -> dict[str, torch.Tensor]:
        """Both branches on a batch.

        Args:
            stem_output (M, 512, h, w) or None: every image of the batch; image_owner (M,) the row
                each belongs to.
            has_text (B,) bool: which rows have a text; None: those whose ``lengths`` (B,) > 0.
            text_inputs: the text branch's inputs, e.g. ``token_ids`` (B, T) and ``lengths`` (B,)
                (length 0 = no text); see :func:`collate_comments`.

        Returns: ``text`` (B, Dt) and ``image`` (B, Di) features (image: mean over the row's images,
        0 without one), ``p_text``/``p_image`` (B, C) branch probabilities, ``has_text``/``has_image``
        (B,) bool, ``token_weights`` (B, T) (None for a text branch without word attention) and
        ``image_attention`` (M, h, w).
        """
        if has_text is None:
            has_text = text_inputs["lengths"] > 0
        if image_owner is None:
            image_owner = torch.zeros(0, dtype=torch.long)
        text_features, token_weights = self.text.forward_features(**text_inputs)  # (B, Dt), (B, T) or None
        batch = text_features.shape[0]
        p_text = torch.softmax(self.text.forward_head(text_features), dim=-1)  # (B, C)
        counts = text_features.new_zeros(batch)
        image_features = text_features.new_zeros(batch, self.image.feature_dim)  # (B, Di)
        p_image = torch.zeros_like(p_text)  # (B, C)
        attention = text_features.new_zeros(0, 1, 1)
        if stem_output is not None and stem_output.shape[0]:
            features, attention = self.image.forward_features(stem_output)  # (M, Di), (M, h, w)
            probabilities = torch.softmax(self.image.forward_head(features), dim=-1)  # (M, C)
            counts = counts.index_add(0, image_owner, counts.new_ones(len(image_owner)))  # (B,)
            denominator = counts.clamp(min=1)[:, None]
            image_features = image_features.index_add(0, image_owner, features) / denominator
            p_image = p_image.index_add(0, image_owner, probabilities) / denominator
        return {
            "text": text_features * has_text[:, None],
            "image": image_features,
            "p_text": p_text,
            "p_image": p_image,
            "has_text": has_text,
            "has_image": counts > 0,
            "token_weights": token_weights,
            "image_attention": attention,
        }

    def fuse(self, encoded: dict[str, torch.Tensor]) -> torch.Tensor:
        """Logits (B, C) from :meth:`encode`'s output."""
        has_text, has_image = encoded["has_text"], encoded["has_image"]
        if not bool((has_text | has_image).all()):
            raise ValueError("every comment needs text or at least one image")
        if self.config.method == "late":
            return self.late(encoded["p_text"], encoded["p_image"], has_text, has_image)
        flags = torch.stack([has_text, has_image], dim=1).float()  # (B, 2)
        joint = torch.cat([encoded["text"], encoded["image"], flags], dim=1)  # (B, Dt + Di + 2)
        if self.config.method == "feature":
            return self.classifier(self.dropout(joint))
        gate = torch.sigmoid(self.gate(joint))  # (B, H)
        gate = torch.where(has_image[:, None], gate, torch.ones_like(gate))
        gate = torch.where(has_text[:, None], gate, torch.zeros_like(gate))
        mixed = gate * torch.tanh(self.text_projection(encoded["text"])) + (1 - gate) * torch.tanh(
            self.image_projection(encoded["image"])
        )  # (B, H)
        return self.classifier(self.dropout(mixed))

    def forward(
        self,
        stem_output: torch.Tensor | None = None,
        image_owner: torch.Tensor | None = None,
        has_text: torch.Tensor | None = None,
        **text_inputs: torch.Tensor,
    ) -> torch.Tensor:
        return self.fuse(self.encode(stem_output, image_owner, has_text, **text_inputs))


def collate_comments(batch: list[tuple[Any, list[torch.Tensor]]], text_collate: Callable[[list], dict[str, torch.Tensor]] | None = None) -> dict[str, Any]:
    """(text example, image stem outputs) per comment -> FusedModel inputs.

    The text example is the Att-BiLSTM's token ids ([] = no text) by default; with ``text_collate``
    (another text branch's collate, which must accept None for a comment without text) it is that
    branch's example or None, and ``has_text`` says which comments have one."""
    owners: list[int] = []
    stems: list[torch.Tensor] = []
    for row, (_, images) in enumerate(batch):
        stems.extend(images)
        owners.extend([row] * len(images))
    texts = [text for text, _ in batch]
    if text_collate is None:
        text_inputs = collate_token_ids(texts)
    else:
        text_inputs = {**text_collate(texts), "has_text": torch.tensor([text is not None for text in texts], dtype=torch.bool)}
    return {
        **text_inputs,
        "stem_output": torch.stack(stems) if stems else None,
        "image_owner": torch.tensor(owners, dtype=torch.long),
    }
