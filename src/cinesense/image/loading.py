"""Robust loading of user-supplied images (stickers, emoji, photos) into plain 8-bit RGB.

Real uploads come in every mode Pillow knows: transparent PNG stickers, palette GIFs, animated
GIF/WebP, 16-bit greyscale PNG, CMYK JPEG, phone photos with an EXIF rotation. :func:`load_image`
turns all of them into one fully decoded RGB image, and turns every way a file can be bad (missing,
empty, not an image, truncated, corrupt, too many pixels) into an :class:`ImageError` that names the
file and the reason. :func:`load_images` applies it to a batch, skipping and reporting bad files.
"""

from __future__ import annotations

import io
import logging
import warnings
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

logger = logging.getLogger(__name__)

#: Default pixel limit (width x height) for one image: far above any sticker or photo, far below a
#: decompression bomb. Pillow's own hard limit (2 x ``Image.MAX_IMAGE_PIXELS``) still applies above it.
DEFAULT_MAX_PIXELS = 40_000_000

_WHITE = (255, 255, 255)

ImageSource = Path | str | bytes | Image.Image
EXIF_ORIENTATION = 0x0112


class ImageError(ValueError):
    """An image could not be loaded. ``source`` names the file, ``reason`` says why."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"cannot load image {source}: {reason}")
        self.source = source
        self.reason = reason


def _describe(source: ImageSource, name: str | None) -> str:
    if name is not None:
        return name
    if isinstance(source, (str, Path)):
        return str(source)
    if isinstance(source, bytes):
        return f"<{len(source)} bytes>"
    return "<PIL image>"


def _sixteen_bit_to_l(img: Image.Image) -> Image.Image:
    """Greyscale with more than 8 bits ('I;16*', 'I', 'F') -> 'L', scaling instead of clipping.

    Integer data whose maximum exceeds 255 is taken to span 0-65535 (16-bit); float data whose maximum
    is at most 1 is taken to span 0-1; everything else is clipped to 0-255.
    """
    array = np.asarray(img).astype(np.float64)  # (H, W)
    peak = float(array.max()) if array.size else 0.0
    if img.mode == "F" and peak <= 1.0:
        array = array * 255.0
    elif peak > 255.0:
        array = array / 257.0  # 65535 -> 255
    return Image.fromarray(np.clip(np.rint(array), 0, 255).astype(np.uint8), mode="L")


def to_rgb(img: Image.Image) -> Image.Image:
    """Convert a decoded image of any mode to 8-bit RGB; transparency is composited on white."""
    if img.mode.startswith("I") or img.mode == "F":
        img = _sixteen_bit_to_l(img)
    if img.mode == "La":  # premultiplied alpha: Pillow converts it to LA only
        img = img.convert("LA")
    has_alpha = img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info
    if has_alpha:
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, _WHITE + (255,))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if img.mode != "RGB":
        return img.convert("RGB")  # P, L, 1, CMYK, YCbCr, LAB, HSV, RGBX
    return img


def _apply_exif_orientation(img: Image.Image, label: str) -> Image.Image:
    """Rotate/flip as the EXIF orientation tag says; a malformed EXIF block is ignored, not fatal."""
    try:
        return ImageOps.exif_transpose(img)
    except Exception as exc:  # noqa: BLE001 - broken metadata must not reject a decodable image
        logger.warning("ignoring unreadable EXIF orientation of %s: %s", label, exc)
        return img


def load_image(source: ImageSource, *, max_pixels: int = DEFAULT_MAX_PIXELS, name: str | None = None) -> Image.Image:
    """Load one image as a fully decoded 8-bit RGB ``PIL.Image``.

    Applies the EXIF orientation, keeps only the first frame of an animation, and composites
    transparency (RGBA, LA, palette or colour-key transparency) on white.

    Args:
        source: a file path, the encoded bytes of an image, or an already opened PIL image.
        max_pixels: largest accepted width x height; larger images are rejected before decoding.
        name: how to name the image in error messages (default: the path, or a placeholder).

    Returns:
        A new RGB image, independent of any open file.

    Raises:
        ImageError: the file is missing, empty, not an image, truncated, corrupt, or too large.
    """
    label = _describe(source, name)
    if isinstance(source, (str, Path)):
        path = Path(source)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise ImageError(label, "file not found") from None
        except OSError as exc:
            raise ImageError(label, f"cannot read file ({exc.strerror or exc})") from exc
        except ValueError as exc:  # a path with a NUL character
            raise ImageError(label, f"cannot read file ({exc})") from None
    elif isinstance(source, bytes):
        data = source
    elif isinstance(source, Image.Image):
        data = None
    else:
        raise TypeError(f"load_image expects a path, bytes or PIL.Image.Image, got {type(source).__name__}")
    if data is not None and len(data) == 0:
        raise ImageError(label, "empty file (0 bytes)")

    try:
        with warnings.catch_warnings():
            # The pixel limit is enforced below; Pillow's own warning would only duplicate it.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = source if isinstance(source, Image.Image) else Image.open(io.BytesIO(data or b""))
            width, height = img.size
            if width <= 0 or height <= 0:
                raise ImageError(label, f"invalid size {width}x{height}")
            if width * height > max_pixels:
                raise ImageError(label, f"too many pixels ({width}x{height} > limit of {max_pixels:,})")
            if getattr(img, "n_frames", 1) > 1:
                img.seek(0)  # first frame of an animated GIF / WebP / APNG
            img.load()
            img = _apply_exif_orientation(img, label)
            rgb = to_rgb(img)
            if rgb is source:
                rgb = rgb.copy()
            rgb.load()
    except ImageError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageError(label, f"too many pixels (decompression bomb: {exc})") from exc
    except Image.UnidentifiedImageError:
        raise ImageError(label, "not a recognised image format") from None
    except Exception as exc:  # noqa: BLE001 - any decoder failure on untrusted input is a bad image
        raise ImageError(label, f"corrupt, truncated or unsupported image ({type(exc).__name__}: {exc})") from exc
    return rgb


def as_rgb(source: ImageSource) -> Image.Image:
    """``source`` as ``load_image`` gives it, without decoding or copying it again when it already is
    such an image (a decoded single-frame RGB image without an EXIF orientation to apply): the image
    a request decoded once is what the model reads."""
    if isinstance(source, Image.Image) and source.mode == "RGB" and getattr(source, "n_frames", 1) == 1 \
            and _is_loaded(source) and source.getexif().get(EXIF_ORIENTATION, 1) == 1:
        return source
    return load_image(source)


def _is_loaded(image: Image.Image) -> bool:
    """Whether the pixels are decoded (an opened file is read lazily)."""
    return getattr(image, "_im", None) is not None or getattr(image, "fp", None) is None and not getattr(image, "tile", None)


def resize_and_center_crop(
    img: Image.Image, resize: int, crop: int, resample: Image.Resampling = Image.Resampling.BILINEAR
) -> Image.Image:
    """Scale so the shorter side is ``resize`` px (keeping the aspect ratio), then crop the centre.

    Args:
        img: input image.
        resize: target length of the shorter side; must be >= ``crop``.
        crop: side of the square centre crop.
        resample: Pillow resampling filter.

    Returns:
        A ``crop`` x ``crop`` image.
    """
    if crop <= 0 or resize < crop:
        raise ValueError(f"need 0 < crop <= resize, got resize={resize}, crop={crop}")
    width, height = img.size
    scale = resize / min(width, height)
    new_size = (max(resize, round(width * scale)), max(resize, round(height * scale)))
    if new_size != (width, height):
        img = img.resize(new_size, resample=resample)
    left = round((new_size[0] - crop) / 2)
    top = round((new_size[1] - crop) / 2)
    return img.crop((left, top, left + crop, top + crop))


def load_images(
    paths: Iterable[Path | str], *, max_pixels: int = DEFAULT_MAX_PIXELS
) -> tuple[list[tuple[Path, Image.Image]], list[tuple[Path, str]]]:
    """Load many images; a bad one is logged, skipped and reported, never fatal.

    Args:
        paths: image files.
        max_pixels: see :func:`load_image`.

    Returns:
        ``(images, failures)``: ``images`` holds ``(path, RGB image)`` for every file that loaded, in
        input order; ``failures`` holds ``(path, reason)`` for every file that did not.
    """
    images: list[tuple[Path, Image.Image]] = []
    failures: list[tuple[Path, str]] = []
    for raw in paths:
        path = Path(raw)
        try:
            images.append((path, load_image(path, max_pixels=max_pixels)))
        except ImageError as exc:
            logger.warning("skipping image %s: %s", path, exc.reason)
            failures.append((path, exc.reason))
    if failures:
        logger.warning("%d of %d images could not be loaded", len(failures), len(images) + len(failures))
    return images, failures
