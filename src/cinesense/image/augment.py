"""Seeded style augmentation of sticker images, so that the image branch learns polarity rather than
one art style (``[image_model.augment]``, :class:`~cinesense.config.ImageAugmentConfig`).

:func:`style_variant` redraws an image in a random "style": hue / saturation / brightness shifts,
grey scale, flat fills (posterise or a few-colour palette), thicker or thinner outlines (min / max
filter), a small rotation, scale and shift, a new background (a plain colour, a gradient or noise,
behind the foreground found by flood-filling the near-white border region), blur, down- and
up-scaling and JPEG artefacts. ``strength`` (0-1] scales every range and probability. The result
depends only on the image's pixels, the seed and the strength, has the input's size and is RGB.

:func:`training_variants` writes ``variants`` such images per training image once into a folder of
the cache, named by a hash of the source bytes, the seed, the strength and the variant number, so
that their conv features are cached like those of any image (by content). Only training images are
ever augmented (``ImageBranch.encode_records`` with ``split == "train"``); dev, test and inference
images never are.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageOps

from cinesense.cache import default_cache_dir

__all__ = ["FORMAT_VERSION", "style_variant", "training_variants", "variant_seed"]

FORMAT_VERSION = 1


def variant_seed(content_sha256: str, seed: int, strength: float, k: int) -> int:
    """The generator seed of variant ``k`` of an image (by content), for ``seed`` and ``strength``."""
    text = f"{FORMAT_VERSION}:{content_sha256}:{seed}:{strength!r}:{k}"
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")


def _foreground_mask(rgb: Image.Image) -> Image.Image:
    """L mask, 255 on the sticker: everything except the near-white region connected to the border."""
    near_white = np.asarray(rgb.convert("L")) >= 245
    flood = Image.fromarray(np.where(near_white, 255, 0).astype(np.uint8)).copy()  # writable
    w, h = flood.size
    for corner in ((0, 0), (w - 1, 0), (0, h - 1), (w - 1, h - 1)):
        if flood.getpixel(corner) == 255:
            ImageDraw.floodfill(flood, corner, 128)
    return Image.fromarray(np.where(np.asarray(flood) == 128, 0, 255).astype(np.uint8))


def _colour(rgb: Image.Image, rng: np.random.Generator, s: float) -> Image.Image:
    hsv = np.asarray(rgb.convert("HSV")).astype(np.float32)
    if rng.random() < 0.6 * s:
        hsv[..., 0] = (hsv[..., 0] + rng.uniform(-128, 128) * s) % 256
    hsv[..., 1] = np.clip(hsv[..., 1] * rng.uniform(1 - 0.7 * s, 1 + 0.5 * s), 0, 255)
    hsv[..., 2] = np.clip(hsv[..., 2] * rng.uniform(1 - 0.3 * s, 1 + 0.1 * s), 0, 255)
    out = Image.fromarray(hsv.astype(np.uint8), "HSV").convert("RGB")
    if rng.random() < 0.2 * s:
        out = ImageOps.grayscale(out).convert("RGB")
    return out


def _fill_and_outline(rgb: Image.Image, rng: np.random.Generator, s: float) -> Image.Image:
    if rng.random() < 0.4 * s:  # flat fills
        if rng.random() < 0.5:
            rgb = ImageOps.posterize(rgb, int(rng.integers(2, 5)))
        else:
            rgb = rgb.quantize(colors=int(rng.integers(4, 13)), dither=Image.Dither.NONE).convert("RGB")
    if rng.random() < 0.4 * s:  # outlines: min filter thickens dark lines, max filter thins them
        size = 3 if rng.random() < 0.7 else 5
        rgb = rgb.filter(ImageFilter.MinFilter(size) if rng.random() < 0.6 else ImageFilter.MaxFilter(size))
    return rgb


def _background(size: tuple[int, int], rng: np.random.Generator, s: float) -> Image.Image:
    w, h = size
    kind = rng.random()
    if kind >= 0.7 * s:
        return Image.new("RGB", size, "white")
    a, b = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
    if kind < 0.3 * s:
        return Image.new("RGB", size, tuple(int(v) for v in a))
    if kind < 0.55 * s:
        t = np.linspace(0, 1, h if rng.random() < 0.5 else w, dtype=np.float32)
        ramp = a[None, :] * (1 - t[:, None]) + b[None, :] * t[:, None]
        grid = np.broadcast_to(ramp[:, None, :], (h, w, 3)) if len(t) == h else np.broadcast_to(ramp[None], (h, w, 3))
        return Image.fromarray(grid.astype(np.uint8))
    noise = rng.normal(a, 20 + 40 * s, (h, w, 3))
    return Image.fromarray(np.clip(noise, 0, 255).astype(np.uint8))


def _degrade(rgb: Image.Image, rng: np.random.Generator, s: float) -> Image.Image:
    if rng.random() < 0.3 * s:
        rgb = rgb.filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 0.5 + 2 * s)))
    if rng.random() < 0.3 * s:
        factor = rng.uniform(max(0.15, 0.6 - 0.45 * s), 0.7)
        small = (max(8, round(rgb.width * factor)), max(8, round(rgb.height * factor)))
        rgb = rgb.resize(small, Image.Resampling.BILINEAR).resize(rgb.size, Image.Resampling.BILINEAR)
    if rng.random() < 0.35 * s:
        buffer = io.BytesIO()
        rgb.save(buffer, "JPEG", quality=int(rng.integers(max(5, round(60 - 50 * s)), 75)))
        rgb = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
    return rgb


def style_variant(image: Image.Image, *, seed: int, strength: float = 0.5) -> Image.Image:
    """One randomly restyled copy of ``image`` (RGB, same size), a pure function of the image's
    pixels, ``seed`` and ``strength`` (0 < strength <= 1)."""
    if not 0 < strength <= 1:
        raise ValueError(f"strength must be in (0, 1], got {strength!r}")
    rng = np.random.default_rng(seed)
    s = float(strength)
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba)
    rgb = image.convert("RGB")
    mask = _foreground_mask(rgb)
    fg = _fill_and_outline(_colour(rgb, rng, s), rng, s)
    sticker = Image.merge("RGBA", (*fg.split(), mask))
    angle = rng.uniform(-20, 20) * s
    scale = rng.uniform(1 - 0.25 * s, 1 + 0.12 * s)
    shift = rng.uniform(-0.08, 0.08, 2) * s * np.array(rgb.size)
    sticker = sticker.rotate(angle, Image.Resampling.BILINEAR, expand=False)
    new = (max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale)))
    sticker = sticker.resize(new, Image.Resampling.BILINEAR)
    canvas = _background(rgb.size, rng, s).convert("RGBA")
    offset = (int((rgb.width - new[0]) / 2 + shift[0]), int((rgb.height - new[1]) / 2 + shift[1]))
    layer = Image.new("RGBA", rgb.size, (0, 0, 0, 0))
    layer.paste(sticker, offset)
    return _degrade(Image.alpha_composite(canvas, layer).convert("RGB"), rng, s)


def training_variants(
    paths: Sequence[Path], variants: int, *, seed: int, strength: float, directory: Path | None = None
) -> list[list[Path]]:
    """``variants`` restyled copies of each image, as PNG files (written once, reused after).

    Args:
        paths: training images; one that cannot be read gets no variants.
        variants: copies per image (0: none).
        seed: augmentation seed.
        strength: see :func:`style_variant`.
        directory: where the files go; default ``$CINESENSE_CACHE/augment``.

    Returns:
        For each path, the paths of its variants.
    """
    folder = Path(directory) if directory is not None else default_cache_dir() / "augment"
    out: list[list[Path]] = []
    for path in paths:
        try:
            data = Path(path).read_bytes()
        except OSError:
            out.append([])
            continue
        digest = hashlib.sha256(data).hexdigest()
        made: list[Path] = []
        image = None
        for k in range(variants):
            key = variant_seed(digest, seed, strength, k)
            target = folder / f"{key:016x}"[:2] / f"{key:016x}.png"
            if not target.is_file():
                if image is None:
                    try:
                        image = Image.open(io.BytesIO(data))
                        image.load()
                    except (OSError, ValueError, Image.DecompressionBombError):
                        break
                target.parent.mkdir(parents=True, exist_ok=True)
                tmp = target.with_suffix(f".{k}.tmp")
                style_variant(image, seed=key, strength=strength).save(tmp, "PNG")
                tmp.replace(target)
            made.append(target)
        out.append(made)
    return out
