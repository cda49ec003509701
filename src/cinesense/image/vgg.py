"""The 13 convolution layers of VGG16 (Simonyan & Zisserman, 2015), in plain torch.

Only the convolutional trunk is built: the fully connected ImageNet head is not needed, because the
image branch pools the last feature map with spatial attention instead.

Parameter names follow the Keras release of the ImageNet weights, ``block{b}_conv{c}.weight`` and
``block{b}_conv{c}.bias`` (b = 1..5), so the state dict maps one-to-one onto the weight file written by
:func:`cinesense.image.weights.fetch_vgg16_weights`.

Choice of attention grid: by default the feature map *after* the fifth max-pool is returned,
(B, 512, 7, 7) for a 224x224 (or 227x227) input, i.e. 49 regions for the attention to weigh; this is
the standard VGG16 output the paper's attention VGG16 attends over. ``final_pool=False`` returns the
map *before* that pool, (B, 512, 14, 14), 196 finer regions, for the same convolution cost.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import torch
from torch import nn

#: Output channels of each conv layer, per block (the "D" configuration of the VGG paper).
VGG16_BLOCKS: tuple[tuple[int, ...], ...] = (
    (64, 64),
    (128, 128),
    (256, 256, 256),
    (512, 512, 512),
    (512, 512, 512),
)

#: Channels of the feature map returned by :class:`VGG16Features`.
VGG16_OUT_CHANNELS = 512


def conv_layer_names() -> list[str]:
    """Names of the 13 conv layers in forward order: ``block1_conv1`` ... ``block5_conv3``."""
    return [f"block{b}_conv{c}" for b, widths in enumerate(VGG16_BLOCKS, 1) for c in range(1, len(widths) + 1)]


def conv_param_shapes() -> dict[str, tuple[int, ...]]:
    """Expected shape of every parameter of :class:`VGG16Features`, keyed by state-dict name.

    Returns:
        ``{"block1_conv1.weight": (64, 3, 3, 3), "block1_conv1.bias": (64,), ...}`` (26 entries,
        kernels in OIHW layout).
    """
    shapes: dict[str, tuple[int, ...]] = {}
    in_channels = 3
    for b, widths in enumerate(VGG16_BLOCKS, 1):
        for c, out_channels in enumerate(widths, 1):
            shapes[f"block{b}_conv{c}.weight"] = (out_channels, in_channels, 3, 3)
            shapes[f"block{b}_conv{c}.bias"] = (out_channels,)
            in_channels = out_channels
    return shapes


class VGG16Features(nn.Module):
    """VGG16 convolution trunk: 13 conv3x3+ReLU layers in 5 blocks, each block ending in a 2x2 max-pool.

    Pooling uses floor rounding, so a 227x227 input gives the same 7x7 grid as 224x224.
    The network has no batch norm or dropout: ``train()``/``eval()`` do not change its output.

    Args:
        final_pool: if True (default) apply the fifth max-pool, returning (B, 512, H/32, W/32);
            if False return the block-5 map before it, (B, 512, H/16, W/16).
    """

    def __init__(self, final_pool: bool = True) -> None:
        super().__init__()
        self.final_pool = final_pool
        in_channels = 3
        for b, widths in enumerate(VGG16_BLOCKS, 1):
            for c, out_channels in enumerate(widths, 1):
                self.add_module(f"block{b}_conv{c}", nn.Conv2d(in_channels, out_channels, 3, stride=1, padding=1))
                in_channels = out_channels
        self.pool = nn.MaxPool2d(kernel_size=2, stride=2)  # floor mode: 227 -> 113 -> 56 -> 28 -> 14 -> 7
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Random initialisation (Kaiming-normal kernels, zero biases), for training from scratch.

        Pretrained ImageNet weights are loaded explicitly with
        :func:`cinesense.image.weights.load_vgg16_weights`.
        """
        for conv in self.convs():
            nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
            if conv.bias is not None:
                nn.init.zeros_(conv.bias)

    def convs(self) -> Iterator[nn.Conv2d]:
        """Yield the 13 conv layers in forward order."""
        for name in conv_layer_names():
            yield getattr(self, name)

    def block(self, index: int) -> list[nn.Conv2d]:
        """Conv layers of block ``index`` (1..5)."""
        if not 1 <= index <= len(VGG16_BLOCKS):
            raise ValueError(f"VGG16 block index must be in 1..{len(VGG16_BLOCKS)}, got {index}")
        return [getattr(self, f"block{index}_conv{c}") for c in range(1, len(VGG16_BLOCKS[index - 1]) + 1)]

    @staticmethod
    def output_size(input_size: int, final_pool: bool = True) -> int:
        """Side of the output grid for a square input of side ``input_size`` (224 or 227 -> 7, or 14)."""
        size = input_size
        for _ in range(len(VGG16_BLOCKS) if final_pool else len(VGG16_BLOCKS) - 1):
            size //= 2
        return size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Compute the conv feature map.

        Args:
            x: (B, 3, H, W) images, preprocessed as described by
                :class:`cinesense.image.weights.Preprocessing` (BGR, 0-255, mean-subtracted).

        Returns:
            (B, 512, H/32, W/32) with ``final_pool`` (7x7 at 224 or 227), else (B, 512, H/16, W/16).
        """
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"expected input of shape (B, 3, H, W), got {tuple(x.shape)}")
        n_blocks = len(VGG16_BLOCKS)
        for b in range(1, n_blocks + 1):
            for conv in self.block(b):
                x = torch.relu(conv(x))  # (B, C_b, H / 2^(b-1), W / 2^(b-1))
            if b < n_blocks or self.final_pool:
                x = self.pool(x)  # (B, C_b, H / 2^b, W / 2^b)
        return x  # (B, 512, H/32, W/32) or, without the final pool, (B, 512, H/16, W/16)

    def set_trainable_blocks(self, blocks: Iterable[int]) -> None:
        """Make exactly the conv layers of ``blocks`` (subset of 1..5) trainable; freeze all others."""
        wanted = set(blocks)
        for b in wanted:
            self.block(b)  # validates the index
        for b in range(1, len(VGG16_BLOCKS) + 1):
            for conv in self.block(b):
                conv.requires_grad_(b in wanted)

    def freeze_all(self) -> None:
        """Freeze every conv layer (pure feature extractor)."""
        self.set_trainable_blocks(())

    def unfreeze_block5(self) -> None:
        """Freeze blocks 1-4 and make only block 5 trainable (fine-tuning the top of the trunk)."""
        self.set_trainable_blocks((5,))

    def trainable_blocks(self) -> list[int]:
        """Blocks with at least one trainable parameter."""
        return [
            b
            for b in range(1, len(VGG16_BLOCKS) + 1)
            if any(p.requires_grad for conv in self.block(b) for p in conv.parameters())
        ]
