"""One function seeds every random number generator cinesense uses (and asks torch for
deterministic algorithms, so that a run gives the same numbers each time)."""

from __future__ import annotations

import random

import numpy as np
import torch


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch, switch torch to deterministic algorithms (warning, not failing,
    where an operation has none); return a torch Generator for data shuffling.

    Thread counts and CPU code paths, the other half of reproducibility, are fixed when
    :mod:`cinesense` is imported (``cinesense.NUMERICS_ENV``) and by ``train.threads``."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    generator = torch.Generator()
    generator.manual_seed(seed)
    return generator
