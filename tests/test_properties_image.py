"""Property tests of image decoding (issue 16): every PIL mode, size and format gives an 8-bit RGB
image of the same size (rotated by its EXIF orientation), or an ``ImageError`` naming the image;
real files cut at every byte boundary give an RGB image or an ``ImageError``, never another
exception; the result does not depend on whether a path, the bytes or the opened image is given."""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from cinesense.image.loading import ImageError, load_image
from fuzzing import examples, fuzz_settings, tried

MODES = ["1", "L", "P", "RGB", "RGBA", "CMYK", "YCbCr", "LAB", "HSV", "I", "F", "LA", "PA", "RGBX", "RGBa", "La", "I;16", "I;16B", "I;16L"]
FORMATS = ["PNG", "GIF", "JPEG", "WEBP", "BMP", "TIFF", "ICO", "PPM", "TGA"]


@st.composite
def images(draw) -> Image.Image:
    mode = draw(st.sampled_from(MODES))
    size = (draw(st.integers(1, 24)), draw(st.integers(1, 24)))
    pixels = draw(st.binary(min_size=64, max_size=64))
    image = Image.new("RGB", size, tuple(pixels[:3])).convert(mode) if mode not in ("I;16", "I;16B", "I;16L") else Image.new(mode, size, pixels[0] * 257)
    if draw(st.booleans()):  # some structure, not a flat colour
        image.putpixel((0, 0), image.getpixel((size[0] - 1, size[1] - 1)))
    return image


def _encoded(image: Image.Image, fmt: str) -> bytes | None:
    buffer = io.BytesIO()
    try:
        image.save(buffer, format=fmt)
    except (OSError, ValueError, KeyError, TypeError):  # a mode the format cannot hold
        return None
    return buffer.getvalue()


@given(image=images(), fmt=st.sampled_from(FORMATS), source=st.sampled_from(["pil", "bytes", "path"]))
@fuzz_settings(200)
def test_every_mode_size_and_format_gives_rgb_or_an_image_error(tmp_path_factory, image, fmt, source):
    tried("image.loading.load_image (modes, formats)")
    data = _encoded(image, fmt)
    if source == "pil":
        given_source = image
    elif data is None:
        return
    elif source == "bytes":
        given_source = data
    else:
        given_source = tmp_path_factory.mktemp("img") / f"x.{fmt.lower()}"
        given_source.write_bytes(data)
    try:
        rgb = load_image(given_source, name="sticker")
    except ImageError as error:
        assert error.source == "sticker" and str(error).startswith("cannot load image sticker: ")
        return
    assert rgb.mode == "RGB" and rgb.size[0] >= 1 and rgb.size[1] >= 1
    if fmt != "ICO" or source == "pil":
        assert rgb.size == image.size
    if source != "pil" and data is not None:  # bytes and path give the same pixels
        assert np.array_equal(np.asarray(load_image(data)), np.asarray(rgb))


def _real_files() -> dict[str, bytes]:
    rng = np.random.default_rng(0)
    picture = Image.fromarray(rng.integers(0, 255, (12, 10, 3), dtype=np.uint8))
    frames = [Image.new("P", (8, 8), i) for i in range(3)]
    files = {fmt: _encoded(picture.convert("RGBA") if fmt in ("PNG", "WEBP") else picture, fmt) for fmt in ("PNG", "JPEG", "WEBP", "BMP", "TIFF")}
    gif = io.BytesIO()
    frames[0].save(gif, format="GIF", save_all=True, append_images=frames[1:])
    files["GIF (animated)"] = gif.getvalue()
    exif = Image.Exif()
    exif[0x0112] = 6
    jpeg = io.BytesIO()
    picture.save(jpeg, format="JPEG", exif=exif)
    files["JPEG (EXIF rotated)"] = jpeg.getvalue()
    return files


REAL = _real_files()


@pytest.mark.parametrize("name", sorted(REAL))
def test_a_real_file_cut_at_every_byte_gives_rgb_or_an_image_error(name):
    data = REAL[name]
    whole = load_image(data)
    assert whole.mode == "RGB" and whole.size == ((12, 10) if "rotated" in name else (8, 8) if "GIF" in name else (10, 12))
    step = max(1, len(data) // examples(len(data)))  # every byte boundary unless the budget is smaller than the file
    for cut in range(0, len(data), step):
        tried("image.loading.load_image (truncated files)")
        try:
            image = load_image(data[:cut], name=f"{name}[:{cut}]")
        except ImageError as error:
            assert error.source == f"{name}[:{cut}]"
            continue
        assert image.mode == "RGB" and image.size[0] >= 1 and image.size[1] >= 1
