"""Content hashes used to pin weights, check bundles and key caches."""

from __future__ import annotations

import hashlib
from pathlib import Path


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def sha256_pixels(image) -> str:
    """Hex SHA-256 of a decoded image's pixels (a PIL image: its mode, size and raw bytes), so the
    same picture sent in two encodings or under two names hashes the same."""
    digest = hashlib.sha256(f"{image.mode}|{image.size[0]}x{image.size[1]}|".encode("ascii"))
    digest.update(image.tobytes())
    return digest.hexdigest()
