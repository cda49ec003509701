"""FastText word vectors (gensim): a vector for every word, seen or not, from its character n-grams.

Saved without pickle: the word vectors go in the word2vec binary file like Word2Vec's
(:func:`cinesense.text.word2vec.save_vectors`); the n-gram table and the raw word vectors, with
``min_n``, ``max_n`` and ``bucket`` in the file's JSON header, in a safetensors file next to it
(:func:`ngrams_path`). gensim's own ``FastTextKeyedVectors`` (its ``ft_ngram_hashes``) then gives
an unseen word the mean of its n-grams' vectors.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from gensim.models import FastText, KeyedVectors
from gensim.models.fasttext import FastTextKeyedVectors
from safetensors import SafetensorError
from safetensors.numpy import safe_open, save_file

from cinesense.config import Word2VecConfig

SETTINGS = ("min_n", "max_n", "bucket")


def train_fasttext(sentences: list[list[str]], config: Word2VecConfig, seed: int = 0) -> FastTextKeyedVectors:
    """Train FastText (negative sampling) on non-empty tokenised sentences."""
    model = FastText(
        sentences=sentences, vector_size=config.vector_size, window=config.window, min_count=config.min_count,
        sg=config.sg, hs=0, negative=config.negative, epochs=config.epochs, workers=config.workers, seed=seed,
        min_n=config.min_n, max_n=config.max_n, bucket=config.bucket,
    )
    return model.wv


def ngrams_path(path: str | Path) -> Path:
    """The safetensors file of the n-gram table that goes with word2vec binary file ``path``."""
    path = Path(path)
    return path.with_name(path.name + ".ngrams.safetensors")


def save_ngrams(vectors: FastTextKeyedVectors, path: str | Path) -> None:
    """Write the n-gram table and raw word vectors of ``vectors`` to ``ngrams_path(path)``."""
    tensors = {"ngrams": np.ascontiguousarray(vectors.vectors_ngrams), "vocab": np.ascontiguousarray(vectors.vectors_vocab)}
    save_file(tensors, str(ngrams_path(path)), metadata={key: str(getattr(vectors, key)) for key in SETTINGS})


def with_ngrams(words: KeyedVectors, path: str | Path) -> FastTextKeyedVectors:
    """FastText vectors from the word vectors ``words`` (read from ``path``) and the n-gram file
    ``save_ngrams`` wrote next to it. Raises ValueError naming the file when they do not agree."""
    source = ngrams_path(path)
    try:
        with safe_open(str(source), framework="numpy") as f:
            settings = {key: int(f.metadata()[key]) for key in SETTINGS}
            ngrams, vocab = f.get_tensor("ngrams"), f.get_tensor("vocab")
    except (SafetensorError, KeyError, ValueError, TypeError, OSError) as error:
        raise ValueError(f"{source}: not a valid FastText n-gram file ({error})") from None
    if ngrams.shape != (settings["bucket"], words.vector_size) or vocab.shape != words.vectors.shape:
        raise ValueError(f"{source}: n-gram table {ngrams.shape} / word vectors {vocab.shape} do not fit "
                         f"{settings['bucket']} buckets of the {words.vectors.shape} vectors of {path}")
    vectors = FastTextKeyedVectors(words.vector_size, settings["min_n"], settings["max_n"], settings["bucket"])
    vectors.add_vectors(words.index_to_key, words.vectors)
    vectors.vectors_vocab, vectors.vectors_ngrams = vocab, ngrams
    vectors.recalc_char_ngram_buckets()
    return vectors


def is_fasttext(vectors: KeyedVectors) -> bool:
    return isinstance(vectors, FastTextKeyedVectors) and vectors.bucket > 0

