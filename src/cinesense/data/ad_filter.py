"""Advertising / irrelevant image filter (paper §3.1: delete such images before training).

:func:`clean_images` drops, in this order (an image gets the first reason that applies):

1. ``blocklist``: the file's SHA-256 is in ``blocklist_sha256`` (known ads, checked on raw bytes).
2. ``unreadable``: Pillow cannot open or decode the file; the reason carries the error.
3. ``aspect_ratio``: ``max(w, h) / min(w, h) > max_aspect_ratio``, i.e. banners and strips.
4. ``repeated``: the same picture, by 64-bit difference hash (dHash) within ``hash_distance`` bits
   (so re-encoded or resized copies count too), is attached to more than
   ``max_comments_per_image`` *different* comments: a spam / advertising signal. All copies are
   dropped. Popular stickers are legitimately reused, so the threshold should be set from the data;
   ``None`` disables the check. Near-duplicates are grouped transitively (single linkage).

Items may be image paths (each path is then its own comment), ``(comment_id, image_path)`` pairs,
or records in the shared JSONL format (``{"id", "image", ...}``, ``image`` resolved against
``base_dir``). Records without an image are kept untouched: there is nothing to filter.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from cinesense.atomic import atomic_open
from cinesense.hashing import sha256_file
from cinesense.image.loading import ImageError, load_image

Item = Any
"""A path, a ``(comment_id, path)`` pair or a record mapping."""


@dataclass
class CleanResult:
    """Outcome of :func:`clean_images`.

    Attributes:
        kept: Items that passed, in input order.
        dropped: ``(item, reason)`` pairs, in input order; reasons start with a code
            (``blocklist``, ``unreadable``, ``aspect_ratio``, ``repeated``) and a colon.
    """

    kept: list[Item] = field(default_factory=list)
    dropped: list[tuple[Item, str]] = field(default_factory=list)

    def reason_counts(self) -> dict[str, int]:
        """Return how many items were dropped per reason code."""
        counts: dict[str, int] = {}
        for _, reason in self.dropped:
            code = reason.split(":", 1)[0]
            counts[code] = counts.get(code, 0) + 1
        return counts


def load_image_rgb(path: str | Path) -> Image.Image:
    """The image as RGB (first frame, transparency on white): ``cinesense.image.loading.load_image``.

    Raises:
        ImageError: if the file cannot be read or decoded.
    """
    return load_image(Path(path))


def dhash(image: Image.Image, bits: int = 8) -> int:
    """Return the ``bits * bits``-bit difference hash of an image (64 bits by default).

    The image is reduced to ``(bits + 1) x bits`` grey pixels; each bit says whether a pixel is
    brighter than its right-hand neighbour. Resizing and re-compression change few bits.
    """
    grey = image.convert("L").resize((bits + 1, bits), Image.Resampling.LANCZOS)
    pixels = np.asarray(grey, dtype=np.int16)
    diff = (pixels[:, 1:] > pixels[:, :-1]).flatten()
    return int("".join("1" if b else "0" for b in diff), 2)


def hamming(a: int, b: int) -> int:
    """Return the number of differing bits between two hashes."""
    return (a ^ b).bit_count()


def _unpack(item: Item, base_dir: Path | None) -> tuple[str, Path | None]:
    """Return ``(comment_id, image_path or None)`` for any accepted item shape."""
    if isinstance(item, Mapping):
        image = item.get("image")
        path = None if not image else Path(image)
        if path is not None and base_dir is not None and not path.is_absolute():
            path = base_dir / path
        return str(item.get("id", image)), path
    if isinstance(item, (tuple, list)) and len(item) == 2:
        return str(item[0]), Path(item[1])
    return str(item), Path(item)


def _clusters(hashes: list[int], max_distance: int) -> list[int]:
    """Return a cluster id per hash: single-linkage groups within ``max_distance`` bits."""
    unique = sorted(set(hashes))
    parent = list(range(len(unique)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    if max_distance > 0 and len(unique) > 1:
        arr = np.array(unique, dtype=np.uint64)
        for i in range(len(unique) - 1):
            close = np.nonzero(np.bitwise_count(arr[i + 1 :] ^ arr[i]) <= max_distance)[0]
            for j in close + i + 1:
                parent[find(int(j))] = find(i)
    index = {h: i for i, h in enumerate(unique)}
    return [find(index[h]) for h in hashes]


def clean_images(
    records_or_paths: Iterable[Item],
    *,
    max_aspect_ratio: float = 3.0,
    max_comments_per_image: int | None = 10,
    blocklist_sha256: frozenset[str] = frozenset(),
    hash_distance: int = 6,
    base_dir: str | Path | None = None,
) -> CleanResult:
    """Drop advertising and irrelevant images (see the module docstring for the rules).

    Args:
        records_or_paths: Paths, ``(comment_id, path)`` pairs or JSONL records.
        max_aspect_ratio: Largest allowed ratio of the longer to the shorter side.
        max_comments_per_image: An image (up to ``hash_distance``) attached to more distinct
            comments than this is dropped everywhere; ``None`` disables the check.
        blocklist_sha256: Lower-case hex SHA-256 digests of files to drop.
        hash_distance: Largest Hamming distance between dHashes of "the same" image.
        base_dir: Folder against which records' relative ``image`` paths are resolved.

    Returns:
        The kept items and the dropped ones with their reasons, both in input order.
    """
    base = Path(base_dir) if base_dir is not None else None
    blocklist = {h.lower() for h in blocklist_sha256}
    items = list(records_or_paths)
    reasons: dict[int, str] = {}
    candidates: list[tuple[int, str, int]] = []  # (position, comment id, dHash)
    for pos, item in enumerate(items):
        comment, path = _unpack(item, base)
        if path is None:
            continue
        try:
            if blocklist and (digest := sha256_file(path)) in blocklist:
                reasons[pos] = f"blocklist: sha256 {digest}"
                continue
            image = load_image_rgb(path)
        except (ImageError, OSError) as err:
            reasons[pos] = f"unreadable: {type(err).__name__}: {err}"
            continue
        ratio = max(image.size) / min(image.size)
        if ratio > max_aspect_ratio:
            width, height = image.size
            reasons[pos] = f"aspect_ratio: {ratio:.2f} > {max_aspect_ratio:g} ({width}x{height})"
            continue
        candidates.append((pos, comment, dhash(image)))
    if max_comments_per_image is not None and candidates:
        cluster_ids = _clusters([h for _, _, h in candidates], hash_distance)
        comments: dict[int, set[str]] = {}
        for (_, comment, _), cid in zip(candidates, cluster_ids):
            comments.setdefault(cid, set()).add(comment)
        for (pos, _, h), cid in zip(candidates, cluster_ids):
            n = len(comments[cid])
            if n > max_comments_per_image:
                reasons[pos] = (
                    f"repeated: same image (dHash {h:016x}, <= {hash_distance} bits) in {n} "
                    f"comments > {max_comments_per_image}"
                )
    result = CleanResult()
    for pos, item in enumerate(items):
        if pos in reasons:
            result.dropped.append((item, reasons[pos]))
        else:
            result.kept.append(item)
    return result


def _describe(item: Item) -> dict[str, Any]:
    if isinstance(item, Mapping):
        return {"id": item.get("id"), "image": item.get("image")}
    if isinstance(item, (tuple, list)) and len(item) == 2:
        return {"id": str(item[0]), "image": str(item[1])}
    return {"id": None, "image": str(item)}


def write_clean_report(result: CleanResult, path: str | Path) -> Path:
    """Write what :func:`clean_images` dropped and why.

    Args:
        result: The cleaning result.
        path: Output file; ``.csv`` gives CSV (``id,image,code,reason``), anything else JSONL
            (``{"id", "image", "code", "reason"}`` per line).

    Returns:
        The path written.
    """
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    rows = [
        {**_describe(item), "code": reason.split(":", 1)[0], "reason": reason}
        for item, reason in result.dropped
    ]
    with atomic_open(out, "w", encoding="utf-8", newline="") as handle:
        if out.suffix.lower() == ".csv":
            writer = csv.DictWriter(handle, fieldnames=["id", "image", "code", "reason"])
            writer.writeheader()
            writer.writerows(rows)
        else:
            for row in rows:
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    return out


def read_blocklist(path: Path) -> frozenset[str]:
    """The SHA-256 digests (one a line, any case; blank lines ignored) of images to drop."""
    from cinesense.data.schema import check_input_file

    check_input_file(path)
    return frozenset(line.strip().lower() for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip())
