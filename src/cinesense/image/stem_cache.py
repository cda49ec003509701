"""A bounded, content-addressed LRU of stem outputs for prediction: a sticker's VGG16 conv features
are computed once per distinct image content, however often (and under whatever name or encoding)
it comes back.

    from cinesense.image.stem_cache import attach_sticker_cache
    cache = attach_sticker_cache(classifier, max_bytes=256 << 20)     # None for a text model
    classifier.predict_proba(texts, images)                           # the frozen stem runs on misses only
    cache.stats()  # {"hits", "misses", "disk_hits", "evictions", "entries", "bytes", "max_bytes", ...}

The key of an image is the SHA-256 of its decoded RGB pixels (width, height and bytes; the same
pixels sent as PNG or WebP, or under two names, are one entry) together with what the stem
computes: its name, the SHA-256 of its weights (hashed once per stem module, the first time the
cache sees it: the stem is frozen, so its weights do not change; call :meth:`StemCache.clear` if you
load other weights into it) and the preprocessing. A hit returns the very tensor a miss computed,
so the probabilities are identical on hit and miss.

The memory tier is bounded by ``max_bytes`` (the stored tensors' bytes; a (512, 14, 14) float32 map
of a 224 px input is 392 KiB, so 256 MiB hold 668 stickers); the least recently used entries are
evicted first, and an entry larger than the bound is not kept. ``directory`` adds a disk tier for
batch jobs (one safetensors file per entry, written atomically, no pickle; not bounded: remove the
folder to reclaim it): a memory miss is looked up there before the stem runs.

Where the service and ``predict-file`` use it: ``cinesense serve --sticker-cache-mb``,
``cinesense predict-file --sticker-cache-mb / --sticker-cache-dir`` (also with ``--engine ray``:
one cache per actor).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from cinesense.cache import read_entry, write_entry
from cinesense.hashing import sha256_pixels

logger = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 256 << 20
FORMAT_VERSION = 1
_TENSOR = "features"


class StemCache:
    """Stem outputs keyed by image content; thread-safe (the stem runs outside the lock).

    Args:
        max_bytes: bound of the memory tier (bytes of the stored tensors); 0 keeps nothing in memory.
        directory: optional disk tier (created on demand); None = memory only.
    """

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES, directory: str | Path | None = None) -> None:
        if max_bytes < 0:
            raise ValueError(f"max_bytes must be >= 0, got {max_bytes}")
        self.max_bytes = max_bytes
        self.directory = Path(directory) if directory is not None else None
        self._entries: OrderedDict[str, torch.Tensor] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self._namespaces: weakref.WeakKeyDictionary[nn.Module, str] = weakref.WeakKeyDictionary()
        self.hits = self.misses = self.disk_hits = self.evictions = 0

    # -- keys ---------------------------------------------------------------------------------------
    def namespace(self, stem: nn.Module, stem_name: str, preprocessing: dict[str, Any]) -> str:
        """What the stem computes: its name, weights (hashed once per module) and preprocessing."""
        weights = self._namespaces.get(stem)
        if weights is None:
            from cinesense.image.features import state_dict_sha256

            weights = self._namespaces[stem] = state_dict_sha256(stem)
        return json.dumps({"format": FORMAT_VERSION, "stem": stem_name, "weights_sha256": weights,
                           "preprocessing": preprocessing}, sort_keys=True)

    @staticmethod
    def key(namespace: str, image: Any) -> str:
        """The key of a decoded RGB image under ``namespace``."""
        return hashlib.sha256(f"{namespace}|{sha256_pixels(image)}".encode()).hexdigest()

    # -- lookups ------------------------------------------------------------------------------------
    def outputs(self, namespace: str, images: Sequence[Any], compute: Callable[[list[Any]], torch.Tensor],
                device: torch.device | str = "cpu") -> torch.Tensor:
        """Stem outputs (N, C, h, w) of decoded RGB ``images``, in order: cached ones as stored,
        the others (each distinct content once) by ``compute(images) -> (M, C, h, w)``, then stored;
        entries read from the disk tier are moved to ``device`` (the stem's)."""
        keys = [self.key(namespace, image) for image in images]
        found: dict[str, torch.Tensor] = {}
        missing: dict[str, Any] = {}
        with self._lock:
            for key, image in zip(keys, images):
                if key in found or key in missing:  # the same content again in this call
                    self.hits += 1
                    continue
                tensor = self._entries.get(key)
                if tensor is not None:
                    self._entries.move_to_end(key)
                    found[key] = tensor
                    self.hits += 1
                else:
                    missing[key] = image
        for key in list(missing):
            tensor = self._read(key)
            if tensor is not None:
                tensor = found[key] = tensor.to(device)
                del missing[key]
                with self._lock:
                    self.disk_hits += 1
                    self._store(key, tensor)
        if missing:
            computed = compute(list(missing.values()))
            with self._lock:
                self.misses += len(missing)
            for key, row in zip(missing, computed, strict=True):
                row = row.clone()  # owns its storage: the bound counts what is really kept
                found[key] = row
                with self._lock:
                    self._store(key, row)
                self._write(key, row)
        return torch.stack([found[key] for key in keys])

    def _store(self, key: str, tensor: torch.Tensor) -> None:
        """Keep ``tensor`` under ``key`` (lock held), evicting least recently used entries."""
        size = tensor.element_size() * tensor.nelement()
        if size > self.max_bytes or key in self._entries:
            return
        while self._entries and self._bytes + size > self.max_bytes:
            _, evicted = self._entries.popitem(last=False)
            self._bytes -= evicted.element_size() * evicted.nelement()
            self.evictions += 1
        self._entries[key] = tensor
        self._bytes += size

    # -- disk tier ----------------------------------------------------------------------------------
    def _path(self, key: str) -> Path:
        assert self.directory is not None
        return self.directory / key[:2] / f"{key}.safetensors"

    def _read(self, key: str) -> torch.Tensor | None:
        if self.directory is None:
            return None
        entry = read_entry(self._path(key), "sticker cache entry")
        return None if entry is None or _TENSOR not in entry else entry[_TENSOR]

    def _write(self, key: str, tensor: torch.Tensor) -> None:
        if self.directory is None:
            return
        try:
            write_entry(self._path(key), {_TENSOR: tensor})
        except OSError as error:  # a full or read-only cache costs speed, never the result
            logger.warning("could not write sticker cache entry %s: %s", self._path(key), error)

    # -- bookkeeping --------------------------------------------------------------------------------
    def clear(self) -> None:
        """Forget every memory entry and the weights' hashes (the disk tier stays)."""
        with self._lock:
            self._entries.clear()
            self._bytes = 0
            self._namespaces = weakref.WeakKeyDictionary()

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    def stats(self) -> dict[str, Any]:
        """Counters since the cache was made: hits (memory), disk hits, misses (the stem ran),
        evictions, and the current entries and bytes against ``max_bytes``."""
        with self._lock:
            return {"hits": self.hits, "disk_hits": self.disk_hits, "misses": self.misses, "evictions": self.evictions,
                    "entries": len(self._entries), "bytes": self._bytes, "max_bytes": self.max_bytes,
                    "directory": str(self.directory) if self.directory is not None else None}


def attach_sticker_cache(classifier: Any, max_bytes: int = DEFAULT_MAX_BYTES, directory: str | Path | None = None) -> StemCache | None:
    """Give the classifier's image branch (an image or fused model) a :class:`StemCache` and return
    it; None for a model that reads no image (nothing is changed)."""
    adapter = getattr(classifier, "adapter", None)
    branch = adapter.branch("image") if adapter is not None else None
    if branch is None or not hasattr(branch, "stem_outputs"):
        return None
    branch.stem_cache = StemCache(max_bytes, directory)
    return branch.stem_cache
