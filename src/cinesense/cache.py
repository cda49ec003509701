"""Where cinesense keeps what it downloads or computes once: the VGG16 weights, the conv-feature
cache, the emoji corpus (``$CINESENSE_CACHE``, else ``~/.cache/cinesense``)."""

from __future__ import annotations

import os
from pathlib import Path


def default_cache_dir() -> Path:
    """``$CINESENSE_CACHE`` if set, else ``~/.cache/cinesense``."""
    env = os.environ.get("CINESENSE_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "cinesense"
