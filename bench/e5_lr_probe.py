"""Douban dev: E5 sentence vectors read by scikit-learn's logistic regression (C by 5-fold CV on
train, standardised inputs), alone and averaged with TF-IDF + LR. Deterministic (no seed).

    .venv/bin/python bench/e5_lr_probe.py

Compare: bench/text_transfer.py's "E5 probe" (the torch probe the encoder model uses, Adam, epoch on
dev). Needs ../shared/data/douban_movie; E5 encodings come from the cache when present.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.linear_model import LogisticRegressionCV
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import StandardScaler

from cinesense.config import load_config
from cinesense.data.splits import load_splits
from cinesense.evaluate.baselines import align_columns, make_baselines
from cinesense.text.encoder import SentenceEncoder
from cinesense.text.tokenize import Tokenizer


def main() -> None:
    warnings.filterwarnings("ignore", category=FutureWarning)
    config = load_config("configs/douban.toml")
    splits = load_splits(config.data)
    train, dev = splits.train.records, splits.dev.records
    encoder = SentenceEncoder()
    x_train, x_dev = encoder.encode([r.text for r in train]), encoder.encode([r.text for r in dev])
    y_train = np.array([r.label == "positive" for r in train], dtype=int)
    y_dev = np.array([r.label == "positive" for r in dev], dtype=int)
    scaler = StandardScaler().fit(x_train)
    probe = LogisticRegressionCV(Cs=np.logspace(-4, 1, 11), cv=5, max_iter=3000).fit(scaler.transform(x_train), y_train)
    e5 = probe.predict_proba(scaler.transform(x_dev))[:, 1]
    classes = sorted(config.data.labels)
    (tfidf,) = [b for b in make_baselines(Tokenizer.from_config(config.text), [r.label for r in train]) if b.name == "TF-IDF + LR"]
    tfidf.fit([r.text for r in train], [r.label for r in train])
    words = align_columns(tfidf.predict_proba([r.text for r in dev]), tfidf.classes_, classes)[:, classes.index("positive")]
    print(f"Douban dev, {len(dev)} reviews; E5 + LR C = {float(np.ravel(probe.C_)[0]):g} (5-fold CV on train)")
    for name, p in (("E5 + LR", e5), ("TF-IDF + LR", words), ("E5 + LR, TF-IDF + LR (mean)", (e5 + words) / 2)):
        print(f"{name:30s} accuracy {100 * ((p > 0.5) == y_dev).mean():.2f}  ROC-AUC {roc_auc_score(y_dev, p):.4f}")


if __name__ == "__main__":
    main()
