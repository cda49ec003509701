"""How to weight E5 + LR and TF-IDF + LR (the "linear" encoder model), cross-validated on Douban
*train* only: 5 stratified folds (bench/ensemble_cv.py's), the weight on TF-IDF + LR from 0.2 to 0.8,
averaging probabilities or log-odds; out-of-fold accuracy and ROC-AUC of each. Dev is not read.

    .venv/bin/python bench/ensemble_weights.py
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ensemble_cv import DOUBAN, Members, cross_validate, summarise  # noqa: E402

from cinesense.config import load_config  # noqa: E402
from cinesense.data.splits import load_splits  # noqa: E402


def log_odds(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-12, 1 - 1e-12)
    return np.log(p) - np.log1p(-p)


def main() -> None:
    warnings.filterwarnings("ignore", category=FutureWarning)
    config = load_config(DOUBAN)
    train = load_splits(config.data).train.records
    oof = cross_validate(["TF-IDF + LR", "E5 + LR"], Members(config, []), train, 5)
    y = np.array([r.label == "positive" for r in train], dtype=int)
    words, sentence = oof["TF-IDF + LR"], oof["E5 + LR"]
    print(f"\n{'weight on TF-IDF + LR':>22s}  {'probabilities: acc / AUC':>26s}  {'log-odds: acc / AUC':>22s}")
    for w in np.round(np.arange(0.2, 0.81, 0.1), 1):
        mean = summarise(w * words + (1 - w) * sentence, y)
        odds = summarise(1 / (1 + np.exp(-(w * log_odds(words) + (1 - w) * log_odds(sentence)))), y)
        print(f"{w:22.1f}  {100 * mean['accuracy']:15.2f} / {mean['roc_auc']:.4f}  {100 * odds['accuracy']:11.2f} / {odds['roc_auc']:.4f}")


if __name__ == "__main__":
    main()
