"""Word vectors for the Att-BiLSTM's embeddings: Word2Vec with negative sampling (gensim) or
FastText (``word2vec.kind = "fasttext"``, :mod:`cinesense.text.fasttext`), saved in the word2vec
binary format (no pickle; FastText's n-gram table in a safetensors file next to it), and the
embedding rows of a vocabulary, including words the vectors never saw (:func:`word_vector`)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import gensim
import numpy as np
from gensim.models import KeyedVectors, Word2Vec

from cinesense.cache import default_cache_dir

from cinesense.config import Word2VecConfig
from cinesense.text.fasttext import is_fasttext, ngrams_path, save_ngrams, train_fasttext, with_ngrams
from cinesense.text.tokenize import emoticon_name
from cinesense.text.vocab import Vocabulary

logging.getLogger("gensim").setLevel(logging.WARNING)


def train_word2vec(sentences: Sequence[Sequence[str]], config: Word2VecConfig, seed: int = 0) -> KeyedVectors:
    """Train Word2Vec, or FastText when ``config.kind`` says so (negative sampling, no hierarchical
    softmax), on tokenised sentences."""
    sentences = [list(s) for s in sentences if s]
    if not sentences:
        raise ValueError("word2vec: no non-empty sentences to train on")
    if config.kind == "fasttext":
        return train_fasttext(sentences, config, seed=seed)
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


def cached_word2vec(sentences: Sequence[Sequence[str]], config: Word2VecConfig, seed: int = 0) -> KeyedVectors:
    """:func:`train_word2vec`, kept in the cache by a hash of the sentences, the config, the seed and
    gensim's version, so that a resumed run, or the other ranks of a torchrun group, read the vectors
    rank 0 trained instead of training them again. A damaged entry is trained again and replaced."""
    digest = hashlib.sha256(json.dumps([dataclasses.asdict(config), seed, gensim.__version__]).encode())
    for sentence in sentences:
        digest.update("\x1f".join(sentence).encode("utf-8", "surrogatepass") + b"\x1e")
    path = default_cache_dir() / "word2vec" / f"{digest.hexdigest()[:32]}.bin"
    if path.is_file():
        try:
            return load_vectors(path)
        except (ValueError, OSError):
            pass  # damaged: train again below and replace it
    vectors = train_word2vec(sentences, config, seed=seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.stem}.{os.getpid()}.partial.bin")
    save_vectors(vectors, partial)
    if is_fasttext(vectors):
        os.replace(ngrams_path(partial), ngrams_path(path))
    os.replace(partial, path)  # last: a complete .bin means a complete entry
    return vectors


def save_vectors(vectors: KeyedVectors, path: str | Path) -> None:
    """Save in the original word2vec C binary format (FastText: plus its n-gram file)."""
    vectors.save_word2vec_format(str(path), binary=True)
    if is_fasttext(vectors):
        save_ngrams(vectors, path)  # type: ignore[arg-type]


def load_vectors(path: str | Path) -> KeyedVectors:
    """Load vectors saved by ``save_vectors`` (or any word2vec-format binary file): FastText vectors
    when the n-gram file is next to it."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: word2vec file not found")
    try:
        words = KeyedVectors.load_word2vec_format(str(path), binary=True)
    except (ValueError, EOFError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: not a valid word2vec binary file ({error})") from None
    return with_ngrams(words, path) if ngrams_path(path).is_file() else words


def word_vector(vectors: KeyedVectors, token: str) -> np.ndarray | None:
    """A vector for a token the vectors never saw: FastText's from the character n-grams of the
    token (of an emoticon code's name: "[流泪]" -> 流泪), else the mean of the vectors of its
    (the name's) characters that have one, else None."""
    name = emoticon_name(token) or token
    if is_fasttext(vectors):
        return vectors.get_vector(name)
    known = [vectors[c] for c in name if c in vectors.key_to_index]
    return np.mean(known, axis=0) if known else None


def embedding_matrix(vocab: Vocabulary, vectors: KeyedVectors, seed: int = 0) -> tuple[np.ndarray, int]:
    """Embedding rows for ``vocab``: the token's vector where the vectors have one, else
    :func:`word_vector`'s, else (and for ``<unk>``) a small random vector; zeros for padding.
    Returns the matrix and how many tokens had a vector of their own."""
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
        elif index > 1 and (vector := word_vector(vectors, token)) is not None:
            matrix[index] = vector
    return matrix, found
