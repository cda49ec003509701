"""The image with its attention map overlaid, as a PIL image or a PNG.

The model sees the centre square of an image (shorter side resized to the input size, then centre
crop; see ``image.weights.Preprocessing``), and its attention grid covers that square, so the heat
map is drawn over that square. The grid is resized bilinearly, scaled to [0, 1] between its minimum
and maximum (a uniform map stays cold) and coloured with matplotlib's "jet" map; stronger attention
is drawn more opaque. The web page (``serve/static/app.js``) draws it the same way.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib import colormaps
from PIL import Image

from cinesense.image.loading import ImageSource, load_image

COLORMAP = "jet"


def model_view(image: Image.Image) -> Image.Image:
    """The centre square of ``image``: the part the attention grid covers."""
    width, height = image.size
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    return image.crop((left, top, left + side, top + side))


def overlay(image: ImageSource, attention: Sequence[Sequence[float]], *, size: int = 320) -> Image.Image:
    """RGB image (``size`` x ``size``) of the model's view of ``image`` with ``attention`` overlaid.

    Args:
        image: a path, encoded bytes or a PIL image.
        attention: the (rows x columns) attention grid of ``Explanation.image_attention``.
        size: side of the result in pixels.
    """
    grid = np.asarray(attention, dtype=np.float32)  # (h, w)
    if grid.ndim != 2 or grid.size == 0:
        raise ValueError(f"attention must be a non-empty 2-D grid, got shape {grid.shape}")
    view = model_view(load_image(image)).resize((size, size), Image.Resampling.BILINEAR)
    smooth = np.asarray(Image.fromarray(grid).resize((size, size), Image.Resampling.BILINEAR))  # (size, size)
    low, spread = float(smooth.min()), float(smooth.max() - smooth.min())
    strength = (smooth - low) / spread if spread > 1e-9 else np.zeros_like(smooth)  # uniform attention: nothing stands out
    colours = colormaps[COLORMAP](strength)[..., :3]  # (size, size, 3) in [0, 1]
    alpha = (0.25 + 0.45 * strength)[..., None]  # (size, size, 1)
    pixels = np.asarray(view, dtype=np.float32) / 255.0  # (size, size, 3)
    blended = (1.0 - alpha) * pixels + alpha * colours
    return Image.fromarray(np.round(blended * 255).astype(np.uint8))


def heatmap_png(image: ImageSource, attention: Sequence[Sequence[float]], *, size: int = 320) -> bytes:
    """:func:`overlay` encoded as PNG."""
    buffer = io.BytesIO()
    overlay(image, attention, size=size).save(buffer, format="PNG")
    return buffer.getvalue()


def save_heatmap(image: ImageSource, attention: Sequence[Sequence[float]], path: str | Path, *, size: int = 320) -> Path:
    """Write :func:`overlay` as a PNG file (parent folders created) and return its path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(heatmap_png(image, attention, size=size))
    return path
