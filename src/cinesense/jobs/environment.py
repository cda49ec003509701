"""What, besides the command, decides a run's numbers: the machine's code paths and thread counts,
and the emoji fonts the stickers were rendered with (``environment.json``, the report's data section)."""

from __future__ import annotations

import json
import os
import platform
from typing import Any

import torch

from cinesense import NUMERICS_ENV
from cinesense.cache import default_cache_dir


def sticker_styles() -> dict[str, Any] | None:
    """The emoji styles and font files the cached emoji corpus was rendered from (what decides the
    stickers of the default corpus), or None without a built corpus."""
    try:
        params = json.loads((default_cache_dir() / "emoji_corpus" / "summary.json").read_text(encoding="utf-8"))["params"]
        return {"styles": list(params["styles"]), "fonts": dict(params["fonts"])}
    except (OSError, ValueError, KeyError, TypeError):
        return None


def environment() -> dict[str, Any]:
    """What, besides the command, decides a run's numbers: the CPU code paths and thread counts."""
    return {
        "numerics_env": {name: os.environ.get(name) for name in NUMERICS_ENV},
        "torch": torch.__version__, "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "threads": torch.get_num_threads(), "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
        "machine": platform.machine(), "stickers": sticker_styles(),
    }
