"""Robust image loading: every odd mode becomes RGB, every bad file becomes an ImageError naming it."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, features

from cinesense.image.loading import ImageError, load_image, load_images, resize_and_center_crop

RED, GREEN, BLUE, WHITE = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)


def saved(img: Image.Image, path: Path, **kwargs) -> Path:
    img.save(path, **kwargs)
    return path


def close(a: tuple[int, ...], b: tuple[int, ...], tol: int = 6) -> bool:
    return all(abs(x - y) <= tol for x, y in zip(a, b, strict=True))


def png_claiming_size(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims the given size (a decompression bomb's signature)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


# --- bad inputs ---------------------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "missing.png"
    with pytest.raises(ImageError, match=r"missing\.png.*file not found"):
        load_image(path)


def test_zero_byte_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    with pytest.raises(ImageError, match=r"empty\.png.*empty file") as info:
        load_image(path)
    assert info.value.source == str(path) and isinstance(info.value, ValueError)


def test_not_an_image(tmp_path: Path) -> None:
    path = tmp_path / "notes.jpg"
    path.write_text("this is a movie review, not a sticker")
    with pytest.raises(ImageError, match=r"notes\.jpg.*not a recognised image"):
        load_image(path)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF"])
def test_truncated_file(tmp_path: Path, fmt: str) -> None:
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    full = saved(Image.fromarray(noise), tmp_path / f"full.{fmt.lower()}", format=fmt).read_bytes()
    path = tmp_path / f"cut.{fmt.lower()}"
    path.write_bytes(full[: len(full) // 2])
    with pytest.raises(ImageError, match=rf"cut\.{fmt.lower()}.*(truncated|corrupt)"):
        load_image(path)


def test_corrupt_png_data(tmp_path: Path) -> None:
    data = bytearray(saved(Image.new("RGB", (32, 32), RED), tmp_path / "ok.png").read_bytes())
    start = data.index(b"IDAT") + 4
    data[start : start + 8] = b"\xff" * 8  # garbage compressed data (and a bad CRC)
    path = tmp_path / "corrupt.png"
    path.write_bytes(bytes(data))
    with pytest.raises(ImageError, match=r"corrupt\.png.*corrupt"):
        load_image(path)


def test_pixel_limit(tmp_path: Path) -> None:
    path = saved(Image.new("RGB", (100, 80), RED), tmp_path / "big.png")
    with pytest.raises(ImageError, match=r"big\.png.*too many pixels \(100x80"):
        load_image(path, max_pixels=5_000)
    assert load_image(path, max_pixels=8_000).size == (100, 80)


def test_decompression_bomb_header(tmp_path: Path) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(png_claiming_size(60_000, 60_000))  # 3.6 gigapixels, a few bytes on disk
    with pytest.raises(ImageError, match=r"bomb\.png.*too many pixels"):
        load_image(path)
    with pytest.raises(ImageError, match=r"bomb\.png.*too many pixels"):
        load_image(path, max_pixels=10**12)  # Pillow's own hard limit still holds


def test_bytes_source_is_named_by_name() -> None:
    with pytest.raises(ImageError, match=r"upload-17\.gif.*not a recognised"):
        load_image(b"GIF? no", name="upload-17.gif")
    with pytest.raises(ImageError, match="empty file"):
        load_image(b"", name="x")


# --- conversions ---------------------------------------------------------------------------------------


def test_rgba_composited_on_white(tmp_path: Path) -> None:
    img = Image.new("RGBA", (4, 1), (0, 0, 0, 0))
    img.putpixel((1, 0), (255, 0, 0, 255))
    img.putpixel((2, 0), (0, 0, 0, 128))
    out = load_image(saved(img, tmp_path / "sticker.png"))
    assert out.mode == "RGB"
    assert out.getpixel((0, 0)) == WHITE  # fully transparent (black underneath) -> white
    assert out.getpixel((1, 0)) == RED
    assert close(out.getpixel((2, 0)), (127, 127, 127), tol=2)  # half black over white
    assert load_image(img).getpixel((0, 0)) == WHITE  # PIL image input too


def test_la_and_palette_transparency_on_white(tmp_path: Path) -> None:
    la = Image.new("LA", (2, 1), (0, 0))
    la.putpixel((1, 0), (0, 255))
    out = load_image(saved(la, tmp_path / "la.png"))
    assert out.getpixel((0, 0)) == WHITE and out.getpixel((1, 0)) == (0, 0, 0)

    pal = Image.new("P", (2, 1), 0)
    pal.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    pal.putpixel((1, 0), 1)
    out = load_image(saved(pal, tmp_path / "pal.gif", transparency=0))
    assert out.mode == "RGB" and out.getpixel((0, 0)) == WHITE and out.getpixel((1, 0)) == RED


def test_palette_greyscale_and_bilevel_to_rgb(tmp_path: Path) -> None:
    pal = Image.new("RGB", (8, 8), BLUE).convert("P", palette=Image.Palette.ADAPTIVE)
    assert load_image(saved(pal, tmp_path / "p.png")).getpixel((3, 3)) == BLUE
    grey = load_image(saved(Image.new("L", (8, 8), 77), tmp_path / "l.png"))
    assert grey.mode == "RGB" and grey.getpixel((0, 0)) == (77, 77, 77)
    bilevel = load_image(saved(Image.new("1", (8, 8), 1), tmp_path / "b.png"))
    assert bilevel.mode == "RGB" and bilevel.getpixel((0, 0)) == WHITE


def test_sixteen_bit_greyscale_is_scaled_not_clipped(tmp_path: Path) -> None:
    array = np.array([[0, 32896, 65535]], dtype=np.uint16)
    path = saved(Image.fromarray(array), tmp_path / "depth16.png")
    assert Image.open(path).mode.startswith("I")
    out = load_image(path)
    assert out.mode == "RGB"
    assert [out.getpixel((x, 0)) for x in range(3)] == [(0, 0, 0), (128, 128, 128), WHITE]
    out32 = load_image(Image.fromarray(array.astype(np.int32)))  # mode 'I'
    assert out32.getpixel((2, 0)) == WHITE


def test_cmyk_jpeg_to_rgb(tmp_path: Path) -> None:
    cmyk = Image.new("CMYK", (16, 16), (0, 255, 255, 0))  # red
    path = saved(cmyk, tmp_path / "print.jpg", quality=95)
    assert Image.open(path).mode == "CMYK"
    out = load_image(path)
    assert out.mode == "RGB" and close(out.getpixel((8, 8)), RED, tol=12)


def test_exif_orientation_applied(tmp_path: Path) -> None:
    img = Image.new("RGB", (40, 20), BLUE)
    img.paste(RED, (0, 0, 20, 20))  # left half red
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    out = load_image(saved(img, tmp_path / "phone.jpg", exif=exif, quality=95))
    assert out.size == (20, 40)
    assert close(out.getpixel((10, 5)), RED, tol=20)  # the left half is now on top
    assert close(out.getpixel((10, 35)), BLUE, tol=20)


def test_animated_gif_gives_first_frame(tmp_path: Path) -> None:
    frames = [Image.new("RGB", (8, 8), c) for c in (RED, GREEN, BLUE)]
    path = saved(frames[0], tmp_path / "anim.gif", save_all=True, append_images=frames[1:], duration=50, loop=0)
    assert Image.open(path).n_frames == 3
    assert load_image(path).getpixel((4, 4)) == RED


@pytest.mark.skipif(not features.check("webp"), reason="Pillow built without WebP")
def test_animated_webp_gives_first_frame(tmp_path: Path) -> None:
    frames = [Image.new("RGB", (8, 8), c) for c in (GREEN, RED)]
    path = saved(frames[0], tmp_path / "anim.webp", save_all=True, append_images=frames[1:], lossless=True)
    assert close(load_image(path).getpixel((4, 4)), GREEN)


def test_bytes_source_loads() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (5, 3), GREEN).save(buffer, format="PNG")
    out = load_image(buffer.getvalue())
    assert out.size == (5, 3) and out.getpixel((0, 0)) == GREEN


# --- resizing and batches ------------------------------------------------------------------------------


def test_resize_and_center_crop() -> None:
    img = Image.new("RGB", (300, 100), BLUE)
    img.paste(RED, (100, 0, 200, 100))  # red centre third
    out = resize_and_center_crop(img, 224, 224)
    assert out.size == (224, 224)
    assert out.getpixel((112, 112)) == RED and out.getpixel((2, 112)) == RED
    assert resize_and_center_crop(Image.new("RGB", (100, 300)), 256, 227).size == (227, 227)
    with pytest.raises(ValueError):
        resize_and_center_crop(img, 200, 224)


def test_load_images_skips_and_reports_bad_files(tmp_path: Path) -> None:
    good1 = saved(Image.new("RGB", (4, 4), RED), tmp_path / "a.png")
    bad = tmp_path / "b.png"
    bad.write_bytes(b"\x89PNG broken")
    good2 = saved(Image.new("L", (4, 4), 9), tmp_path / "c.jpg")
    missing = tmp_path / "d.png"
    images, failures = load_images([good1, bad, str(good2), missing])
    assert [p for p, _ in images] == [good1, good2]
    assert all(img.mode == "RGB" for _, img in images)
    assert [p for p, _ in failures] == [bad, missing]
    assert len(failures) == 2 and "file not found" in failures[1][1]
