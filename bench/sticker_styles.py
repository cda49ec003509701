"""Leave-one-style-out cross-validation of the sticker (image) branch on face / gesture emoji.

    nice -n 10 .venv/bin/python bench/sticker_styles.py [--config configs/emoji.toml] [--seeds 3]
        [--styles openmoji,noto,...] [--variant NAME=KEY=VALUE[,KEY=VALUE...] ...] [--json PATH]

Does polarity learnt from some art styles carry over to a style never seen? The protocol is
:mod:`cinesense.evaluate.style_cv`'s (the image job's ``[style_cv]`` section runs it for one config):
the face / gesture emoji of the identity train and dev parts of the every-style emoji corpus, test
never read. Each variant of the config runs ``--seeds`` seeds (model initialisation, batch order;
the augmented images are those of ``image_model.augment.seed``, made once). Printed: balanced accuracy on each left-out style and their mean,
mean ± sd over seeds; the same figures go to ``--json``. Default variants: augmentation off, and 2
variants per training image at strength 0.5 and 1.0.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from emoji_cv import parse_variant  # noqa: E402

from cinesense.config import load_config  # noqa: E402
from cinesense.evaluate.style_cv import style_cv, style_cv_header, style_cv_row, style_records  # noqa: E402

DEFAULT_VARIANTS = (
    "no augmentation=image_model.augment.variants=0",
    "2 variants, strength 0.5=image_model.augment.variants=2,image_model.augment.strength=0.5",
    "2 variants, strength 1.0=image_model.augment.variants=2,image_model.augment.strength=1.0",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/emoji.toml")
    parser.add_argument("--styles", default="", help="comma-separated styles (default: every installed one)")
    parser.add_argument("--variant", action="append", metavar="NAME=KEY=VALUE,...", help="a config variant (repeatable)")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", default="runs/bench/sticker_styles.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    base = load_config(args.config)
    if base.modality != "image":
        raise SystemExit(f"{args.config}: needs an image-modality config")
    try:
        records = style_records(base.data.labels, base.data.split_seed, [s for s in args.styles.split(",") if s])
    except ValueError as error:
        raise SystemExit(str(error)) from None
    styles = records.styles
    print(f"{len(styles)} styles ({', '.join(styles)}; unavailable: {', '.join(records.unavailable) or 'none'}); "
          f"face / gesture emoji, identity train {len(records.train)} + dev {len(records.dev)} images; test not read")
    print(style_cv_header(styles))
    results = {"config": args.config, "styles": styles, "seeds": args.seeds, "train_images": len(records.train),
               "dev_images": len(records.dev), "variants": {}}
    for name, overrides in (parse_variant(v) for v in (args.variant or DEFAULT_VARIANTS)):
        tick = time.perf_counter()
        config = load_config(args.config, overrides)
        config.train.threads = args.threads
        result = style_cv(config, records, args.seeds)
        seconds = (time.perf_counter() - tick) / args.seeds
        print(style_cv_row(result, f"{name} ({seconds:.0f} s a seed)"), flush=True)
        results["variants"][name] = {"overrides": overrides, "runs": result["runs"], "mean": result["mean"], "sd": result["sd"],
                                     "seconds_per_seed": seconds}
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)  # written after each variant
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
