"""Word2Vec with negative sampling (gensim), saved in the word2vec binary format (no pickle)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from gensim.models import KeyedVectors, Word2Vec

from cinesense.config import Word2VecConfig
from cinesense.text.vocab import Vocabulary

logging.getLogger("gensim").setLevel(logging.WARNING)


def train_word2vec(sentences: Sequence[Sequence[str]], config: Word2VecConfig, seed: int = 0) -> KeyedVectors:
    """Train Word2Vec (negative sampling, no hierarchical softmax) on tokenised sentences."""
    sentences = [list(s) for s in sentences if s]
    if not sentences:
        raise ValueError("word2vec: no non-empty sentences to train on")
    model = Word2Vec(
        sentences=sentences,
        vector_size=config.vector_size,
        window=config.window,
        min_count=config.min_count,
        sg=config.sg,
        hs=0,
        negative=config.negative,
        epochs=config.epochs,
        workers=config.workers,
        seed=seed,
    )
    return model.wv


def save_vectors(vectors: KeyedVectors, path: str | Path) -> None:
    """Save in the original word2vec C binary format."""
    vectors.save_word2vec_format(str(path), binary=True)


def load_vectors(path: str | Path) -> KeyedVectors:
    """Load vectors saved by ``save_vectors`` (or any word2vec-format binary file)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: word2vec file not found")
    try:
        return KeyedVectors.load_word2vec_format(str(path), binary=True)
    except (ValueError, EOFError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: not a valid word2vec binary file ({error})") from None


def embedding_matrix(vocab: Vocabulary, vectors: KeyedVectors, seed: int = 0) -> tuple[np.ndarray, int]:
    """Embedding rows for ``vocab``: Word2Vec vectors where known, small random vectors otherwise
    (zeros for padding). Returns the matrix and how many tokens had a Word2Vec vector."""
    rng = np.random.default_rng(seed)
    dim = vectors.vector_size
    scale = float(np.std(vectors.vectors)) if len(vectors) else 0.1
    matrix = rng.normal(0.0, scale, size=(len(vocab), dim)).astype(np.float32)
    matrix[0] = 0.0
    found = 0
    for index, token in enumerate(vocab.itos):
        if token in vectors.key_to_index:
            matrix[index] = vectors[token]
            found += 1
    return matrix, found
