"""`cinesense clean` drops banners and spam images from a JSONL file and says why."""

from __future__ import annotations

import json

from PIL import Image

from cinesense.cli import main


def test_clean_drops_banner_and_keeps_the_rest(tmp_path, capsys):
    (tmp_path / "img").mkdir()
    Image.new("RGB", (300, 40), (200, 0, 0)).save(tmp_path / "img/banner.png")
    Image.new("RGB", (64, 64), (0, 200, 0)).save(tmp_path / "img/sticker.png")
    rows = [
        {"id": "a", "text": "好看", "image": "img/banner.png", "label": "positive"},
        {"id": "b", "text": "精彩", "image": "img/sticker.png", "label": "positive"},
        {"id": "c", "text": "难看", "label": "negative"},
    ]
    data = tmp_path / "in.jsonl"
    data.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    out = tmp_path / "clean" / "out.jsonl"
    assert main(["clean", "--data", str(data), "--out", str(out)]) == 0
    kept = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in kept] == ["b", "c"]
    assert (out.parent / kept[0]["image"]).resolve() == (tmp_path / "img/sticker.png").resolve()
    report = out.with_suffix(".dropped.jsonl").read_text(encoding="utf-8")
    assert "banner.png" in report and "aspect_ratio" in report
    assert "kept 2 of 3" in capsys.readouterr().out
