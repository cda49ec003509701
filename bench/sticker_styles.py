"""Leave-one-style-out cross-validation of the sticker (image) branch on face / gesture emoji.

    nice -n 10 .venv/bin/python bench/sticker_styles.py [--config configs/emoji.toml] [--seeds 3]
        [--styles openmoji,noto,...] [--variant NAME=KEY=VALUE[,KEY=VALUE...] ...] [--json PATH]

Does polarity learnt from some art styles carry over to a style never seen? The emoji corpus is
built with every installed style (:data:`cinesense.data.emoji_render.STYLES`; fetch the npm ones
with ``python -m cinesense.data.emoji_render fetch``) into ``$CINESENSE_CACHE/emoji_corpus_styles``,
and only the face / gesture emoji of its identity **train and dev** parts are read (test is never
read, so this selection does not touch the emoji a default job is tested on). For each style S,
each variant of the config trains on the train-part emoji of every other style (epochs selected on
their dev-part emoji) and predicts every emoji of style S: the style is unseen, the emoji concept is
not (except the dev-part ones). Each variant runs ``--seeds`` seeds (model initialisation, batch
order; the augmented images are those of ``image_model.augment.seed``, made once). Printed: balanced accuracy on each left-out style and their mean,
mean ± sd over seeds; the same figures go to ``--json``. Default variants: augmentation off, and 2
variants per training image at strength 0.5 and 1.0.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import balanced_accuracy_score

sys.path.insert(0, str(Path(__file__).resolve().parent))
from emoji_cv import parse_variant  # noqa: E402

from cinesense.cache import default_cache_dir  # noqa: E402
from cinesense.classifier import Classifier  # noqa: E402
from cinesense.config import load_config  # noqa: E402
from cinesense.data.emoji import build_emoji_corpus, is_face  # noqa: E402
from cinesense.data.emoji_render import STYLES  # noqa: E402
from cinesense.data.jsonl import load_jsonl  # noqa: E402

DEFAULT_VARIANTS = (
    "no augmentation=",
    "2 variants, strength 0.5=image_model.augment.variants=2,image_model.augment.strength=0.5",
    "2 variants, strength 1.0=image_model.augment.variants=2,image_model.augment.strength=1.0",
)


def face_records(corpus: Path, part: str, labels: list[str]) -> list:
    records = load_jsonl(corpus / "identity" / f"{part}.jsonl", labels=labels).records
    return [r for r in records if is_face(r.meta["emoji"])]


def leave_one_style_out(config, train, dev, styles: list[str]) -> dict[str, float]:
    """Balanced accuracy on each style, trained on the others."""
    out = {}
    for style in styles:
        fit_on = [r for r in train if r.meta["style"] != style]
        select_on = [r for r in dev if r.meta["style"] != style]
        scored = [r for r in (*train, *dev) if r.meta["style"] == style]
        classifier = Classifier(config).fit(fit_on, select_on, progress=False)
        proba, kept = classifier.predict_records(scored)
        predicted = np.asarray(classifier.classes_)[proba.argmax(axis=1)]
        out[style] = float(balanced_accuracy_score([scored[i].label for i in kept], predicted))
    return out


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
    corpus = default_cache_dir() / "emoji_corpus_styles"
    wanted = [s for s in args.styles.split(",") if s] or list(STYLES)
    summary = build_emoji_corpus(corpus, styles=wanted, seed=base.data.split_seed)
    styles = summary["params"]["styles"]
    if len(styles) < 3:
        raise SystemExit(f"need at least 3 installed styles, have {styles} (unavailable: {summary['styles_unavailable']})")
    train, dev = (face_records(corpus, part, base.data.labels) for part in ("train", "dev"))
    print(f"{len(styles)} styles ({', '.join(styles)}; unavailable: {', '.join(summary['styles_unavailable']) or 'none'}); "
          f"face / gesture emoji, identity train {len(train)} + dev {len(dev)} images; test not read")
    print("| system | " + " | ".join(styles) + " | mean |")
    print("|---|" + "---|" * (len(styles) + 1))
    results = {"config": args.config, "styles": styles, "seeds": args.seeds, "train_images": len(train),
               "dev_images": len(dev), "variants": {}}
    for name, overrides in (parse_variant(v) for v in (args.variant or DEFAULT_VARIANTS)):
        runs, tick = [], time.perf_counter()
        for seed in range(args.seeds):
            config = load_config(args.config, overrides)
            config.train.threads = args.threads
            config.seed = base.seed + seed  # the augmented images stay those of augment.seed (made once)
            per_style = leave_one_style_out(config, train, dev, styles)
            runs.append([per_style[s] for s in styles] + [float(np.mean(list(per_style.values())))])
        runs_a = np.array(runs)
        mean, sd = runs_a.mean(axis=0), runs_a.std(axis=0)
        cells = [f"{m:.3f} ± {d:.3f}" for m, d in zip(mean, sd)]
        seconds = (time.perf_counter() - tick) / args.seeds
        print(f"| {name} ({seconds:.0f} s a seed) | " + " | ".join(cells) + " |", flush=True)
        results["variants"][name] = {"overrides": overrides, "runs": runs, "mean": mean.tolist(), "sd": sd.tolist(),
                                     "seconds_per_seed": seconds}
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)  # written after each variant
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
