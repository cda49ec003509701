"""Deterministic stratified train/dev/test splits."""

from __future__ import annotations

from collections.abc import Sequence

from sklearn.model_selection import train_test_split

from cinesense.data.schema import Record


def stratified_split(
    records: Sequence[Record], fractions: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 13
) -> list[list[Record]]:
    """Split records into len(fractions) parts, stratified by label; same seed, same split.

    Fractions must sum to 1. Records are first sorted by id so that the input order does not matter.
    """
    if abs(sum(fractions) - 1.0) > 1e-6 or any(f < 0 for f in fractions):
        raise ValueError(f"split fractions must be >= 0 and sum to 1, got {list(fractions)}")
    remaining = sorted(records, key=lambda r: r.id)
    parts: list[list[Record]] = []
    left = 1.0
    for fraction in fractions[:-1]:
        share = fraction / left if left > 0 else 0.0
        if share <= 1e-9:
            parts.append([])
            continue
        if share >= 1 - 1e-9:
            parts.append(list(remaining))
            remaining = []
            continue
        taken, remaining = train_test_split(
            remaining, train_size=share, random_state=seed, stratify=[r.label for r in remaining]
        )
        parts.append(list(taken))
        left -= fraction
    parts.append(list(remaining))
    return parts
