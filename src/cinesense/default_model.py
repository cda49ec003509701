"""The default model: the one ``make run`` built (the system its config names in ``product``),
which ``Classifier.load("default")`` and the model commands run without ``--model`` use.

Found, in order: ``$CINESENSE_DEFAULT_MODEL`` (a model directory), else the pointer that
``cinesense reproduce`` writes into the cache (``$CINESENSE_CACHE/default_model.json``, the absolute
path of the product model of the last run of a config with ``product`` set)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from cinesense.cache import default_cache_dir
from cinesense.rundir import write_json

NAME = "default"
ENV = "CINESENSE_DEFAULT_MODEL"
HOW_TO_BUILD = (
    "build it with `make run` (or `cinesense reproduce --config configs/default.toml --out runs/default`), "
    f"or point ${ENV} at a model directory"
)


def pointer_path() -> Path:
    return default_cache_dir() / "default_model.json"


def register(model_dir: str | Path) -> Path:
    """Make ``model_dir`` (a saved model) the default model; returns the pointer file."""
    model_dir = Path(model_dir).resolve()
    if not (model_dir / "manifest.json").is_file():
        raise FileNotFoundError(f"{model_dir}: not a model directory (no manifest.json)")
    path = pointer_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, {"path": str(model_dir)})
    return path


def resolve() -> Path:
    """The default model's directory; ``FileNotFoundError`` saying how to build it when there is none."""
    if os.environ.get(ENV):
        path = Path(os.environ[ENV]).expanduser()
        if not (path / "manifest.json").is_file():
            raise FileNotFoundError(f"${ENV}={path} is not a model directory (no manifest.json); {HOW_TO_BUILD}")
        return path
    pointer = pointer_path()
    if not pointer.is_file():
        raise FileNotFoundError(f"there is no default model yet: {HOW_TO_BUILD}")
    try:
        path = Path(json.loads(pointer.read_text(encoding="utf-8"))["path"])
    except (ValueError, KeyError, TypeError, OSError) as error:
        raise FileNotFoundError(f"{pointer}: unreadable default-model pointer ({error}); {HOW_TO_BUILD}") from None
    if not (path / "manifest.json").is_file():
        raise FileNotFoundError(f"the default model {path} (from {pointer}) is gone; {HOW_TO_BUILD}")
    return path
