"""Where cinesense keeps what it downloads or computes once: the VGG16 weights, the conv-feature
cache, the emoji corpus (``$CINESENSE_CACHE``, else ``~/.cache/cinesense``)."""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

from cinesense.atomic import atomic_open

if TYPE_CHECKING:  # torch is imported by the entry functions: data and crawl code reads this module too
    import torch

logger = logging.getLogger(__name__)


def default_cache_dir() -> Path:
    """``$CINESENSE_CACHE`` if set, else ``~/.cache/cinesense``."""
    env = os.environ.get("CINESENSE_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "cinesense"


# --------------------------------------------------------------------------- checked entries
# Every on-disk cache (conv features, sticker stems, sentence encodings) stores its entries with
# these two: safetensors written atomically, with a SHA-256 of the tensors' bytes in the header, so
# that a torn, truncated or bit-flipped entry is found and recomputed, never read as a result.
CHECKSUM_KEY = "content_sha256"


def _checksum(tensors: dict[str, torch.Tensor]) -> str:
    import torch

    digest = hashlib.sha256()
    for name in sorted(tensors):
        tensor = tensors[name].detach().cpu().contiguous()
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)}:".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def write_entry(path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None = None) -> None:
    """Store ``tensors`` at ``path`` (atomically, with their checksum). OSError when it cannot."""
    from safetensors.torch import save

    tensors = {name: tensor.detach().cpu().contiguous() for name, tensor in tensors.items()}
    payload = save(tensors, metadata={**(metadata or {}), CHECKSUM_KEY: _checksum(tensors)})
    with atomic_open(path, "wb") as out:
        out.write(payload)


def read_entry(path: Path, what: str = "cache entry") -> dict[str, torch.Tensor] | None:
    """The tensors stored at ``path``; None when there is none or it is damaged (logged, naming it)."""
    from safetensors import safe_open

    if not path.is_file():
        return None
    try:
        with safe_open(str(path), framework="pt") as entry:
            stored = (entry.metadata() or {}).get(CHECKSUM_KEY)
            tensors = {name: entry.get_tensor(name) for name in entry.keys()}  # noqa: SIM118 - safe_open has no __iter__
        if stored is None:
            raise ValueError("no checksum (written by an older version)")
        if stored != _checksum(tensors):
            raise ValueError("its content does not match its checksum (damaged)")
        return tensors
    except Exception as error:  # noqa: BLE001 - a damaged entry is recomputed, never read
        logger.warning("ignoring unreadable %s %s: %s", what, path, error)
        return None
