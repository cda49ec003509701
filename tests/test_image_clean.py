"""Tests of the advertising / irrelevant image filter."""

from __future__ import annotations

import csv
import hashlib
import json
import random
from pathlib import Path

from PIL import Image, ImageDraw

from cinesense.data.ad_filter import (
    CleanResult,
    clean_images,
    dhash,
    hamming,
    load_image_rgb,
    write_clean_report,
)


def _picture(seed: int, size: tuple[int, int] = (200, 160)) -> Image.Image:
    """A structured, seed-specific picture (random coloured shapes on a gradient)."""
    rng = random.Random(seed)
    img = Image.linear_gradient("L").resize(size).convert("RGB")
    draw = ImageDraw.Draw(img)
    for _ in range(12):
        x0, y0 = rng.randrange(size[0]), rng.randrange(size[1])
        x1, y1 = x0 + rng.randrange(20, 90), y0 + rng.randrange(20, 90)
        colour = tuple(rng.randrange(256) for _ in range(3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)((x0, y0, x1, y1), fill=colour)
    return img


def _save(img: Image.Image, path: Path, **kwargs: object) -> Path:
    img.save(path, **kwargs)
    return path


def test_normal_image_kept_and_banner_dropped(tmp_path: Path) -> None:
    normal = _save(_picture(1), tmp_path / "normal.png")
    banner = _save(_picture(2, (728, 90)), tmp_path / "banner.jpg")
    tall = _save(_picture(3, (60, 400)), tmp_path / "tall.png")
    result = clean_images([normal, banner, tall], max_aspect_ratio=3.0)
    assert result.kept == [normal]
    assert [item for item, _ in result.dropped] == [banner, tall]
    assert all(reason.startswith("aspect_ratio:") for _, reason in result.dropped)
    assert "8.09" in result.dropped[0][1]


def test_image_repeated_across_many_comments_is_dropped(tmp_path: Path) -> None:
    ad = _save(_picture(10), tmp_path / "ad.png")
    sticker = _save(_picture(11), tmp_path / "sticker.png")
    other = _save(_picture(12), tmp_path / "other.png")
    pairs = [(f"c{i}", ad) for i in range(6)]
    pairs += [("c0", sticker), ("c1", sticker), ("c1", sticker), ("c2", other)]
    result = clean_images(pairs, max_comments_per_image=5)
    assert result.kept == [("c0", sticker), ("c1", sticker), ("c1", sticker), ("c2", other)]
    assert len(result.dropped) == 6
    assert all("repeated:" in reason and "in 6 comments > 5" in reason
               for _, reason in result.dropped)
    # The same comment attaching the image twice counts once; the check can be disabled.
    assert clean_images(pairs, max_comments_per_image=6).dropped == []
    assert clean_images(pairs, max_comments_per_image=None).dropped == []


def test_near_duplicates_are_detected(tmp_path: Path) -> None:
    original = _picture(20, (240, 240))
    copies = [
        _save(original, tmp_path / "a.png"),
        _save(original.resize((180, 180)), tmp_path / "b.jpg", quality=60),
        _save(original.resize((300, 300)).convert("P"), tmp_path / "c.gif"),
        _save(original, tmp_path / "d.webp", quality=50),
    ]
    hashes = [dhash(load_image_rgb(p)) for p in copies]
    assert max(hamming(hashes[0], h) for h in hashes) <= 6
    unrelated = [dhash(_picture(s, (240, 240))) for s in range(30, 36)]
    assert min(hamming(hashes[0], h) for h in unrelated) > 12
    records = [{"id": f"r{i}", "image": p.name, "label": "positive"} for i, p in enumerate(copies)]
    records.append({"id": "r9", "image": "x.png", "text": "很好看"})
    _save(_picture(31, (240, 240)), tmp_path / "x.png")
    result = clean_images(records, max_comments_per_image=3, base_dir=tmp_path)
    assert [item["id"] for item, _ in result.dropped] == ["r0", "r1", "r2", "r3"]
    assert [item["id"] for item in result.kept] == ["r9"]


def test_blocklist_and_corrupt_files(tmp_path: Path) -> None:
    blocked = _save(_picture(40), tmp_path / "blocked.png")
    digest = hashlib.sha256(blocked.read_bytes()).hexdigest()
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n this is not really a PNG")
    truncated = tmp_path / "truncated.jpg"
    _save(_picture(41), truncated, quality=90)
    truncated.write_bytes(truncated.read_bytes()[:300])
    missing = tmp_path / "missing.png"
    fine = _save(_picture(42), tmp_path / "fine.png")
    text_only = {"id": "t1", "text": "剧情拖沓", "label": "negative"}
    items = [blocked, corrupt, truncated, missing, fine, text_only]
    result = clean_images(items, blocklist_sha256=frozenset({digest.upper()}))
    assert result.kept == [fine, text_only]
    reasons = dict(result.dropped)
    assert reasons[blocked] == f"blocklist: sha256 {digest}"
    assert reasons[corrupt].startswith("unreadable: ImageError") and "not a recognised image format" in reasons[corrupt]
    assert reasons[truncated].startswith("unreadable: ImageError") and "truncated" in reasons[truncated]
    assert reasons[missing].startswith("unreadable: ") and "missing.png" in reasons[missing]
    assert result.reason_counts() == {"blocklist": 1, "unreadable": 3}


def test_loading_composites_transparency_and_takes_first_frame(tmp_path: Path) -> None:
    rgba = Image.new("RGBA", (20, 20), (255, 0, 0, 0))
    rgba.paste((0, 0, 255, 255), (5, 5, 15, 15))
    path = _save(rgba, tmp_path / "t.png")
    img = load_image_rgb(path)
    assert img.mode == "RGB"
    assert img.getpixel((0, 0)) == (255, 255, 255) and img.getpixel((10, 10)) == (0, 0, 255)
    frames = [Image.new("RGB", (16, 16), c) for c in ((0, 255, 0), (255, 0, 0))]
    gif = tmp_path / "anim.gif"
    frames[0].save(gif, save_all=True, append_images=frames[1:], duration=50, loop=0)
    assert load_image_rgb(gif).getpixel((8, 8)) == (0, 255, 0)


def test_write_clean_report(tmp_path: Path) -> None:
    result = CleanResult(
        kept=[tmp_path / "ok.png"],
        dropped=[(("c1", tmp_path / "ad.png"), "repeated: x"), ({"id": "r2", "image": "b.png"},
                                                               "aspect_ratio: 8.00 > 3")],
    )
    rows = [json.loads(line) for line in
            write_clean_report(result, tmp_path / "r.jsonl").read_text("utf-8").splitlines()]
    assert rows == [
        {"id": "c1", "image": str(tmp_path / "ad.png"), "code": "repeated", "reason": "repeated: x"},
        {"id": "r2", "image": "b.png", "code": "aspect_ratio", "reason": "aspect_ratio: 8.00 > 3"},
    ]
    with open(write_clean_report(result, tmp_path / "sub" / "r.csv"), encoding="utf-8") as f:
        assert [r["code"] for r in csv.DictReader(f)] == ["repeated", "aspect_ratio"]
