"""Checkpoints of a run in progress, so that a run killed at any point continues where it stopped.

A run (``cinesense train`` / ``reproduce``) calls :func:`train.fit` once per model it trains, always
in the same order. Inside :func:`checkpointing`, each call to ``fit`` gets the next numbered slot of
the run's checkpoint folder and, after every epoch, writes one file there atomically (written
beside, flushed, then renamed over the old one): the model, optimizer and best-epoch weights, every
random number generator, the early-stopping state and the history: tensors as safetensors, the rest
as JSON in the file's metadata. Nothing is pickled. A fit that has finished leaves a final file, so
that a resumed run skips it and goes on with the next one.

On resume a slot is used only if its fingerprint (the model's class, parameter names and shapes, a
hash of its initial trainable weights, the training config, the seed and the number of training
examples) is the one the resumed run computes: a checkpoint of another run is refused with a
message, never loaded into a model it does not belong to.
"""

from __future__ import annotations

import contextvars
import dataclasses
import hashlib
import json
import os
import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

FORMAT = "cinesense-checkpoint/1"


class CheckpointError(ValueError):
    """A checkpoint that cannot be used (truncated, of another run, unreadable); the message names the file."""


@dataclass
class FitState:
    """What one ``fit`` needs to continue: tensors (``model.*``, ``best.*``, ``optim.*``, ``rng.*``)
    and JSON-able ``info`` (epoch, early-stopping state, history, optimizer groups, RNG states)."""

    tensors: dict[str, torch.Tensor]
    info: dict[str, Any]

    def group(self, prefix: str) -> dict[str, torch.Tensor]:
        return {name[len(prefix) + 1 :]: t for name, t in self.tensors.items() if name.startswith(prefix + ".")}


class Run:
    """The checkpoint folder of one run; hands out one slot per ``fit`` in call order."""

    def __init__(self, root: Path, resume: bool) -> None:
        self.root, self.resume, self.next_index = Path(root), resume, 0
        self.root.mkdir(parents=True, exist_ok=True)

    def slot(self, fingerprint: str) -> "Slot":
        self.next_index += 1
        return Slot(self.root / f"fit-{self.next_index:03d}.safetensors", fingerprint, self.resume)


class Slot:
    """One ``fit``'s checkpoint file."""

    def __init__(self, path: Path, fingerprint: str, resume: bool) -> None:
        self.path, self.fingerprint, self.resume = path, fingerprint, resume

    def load(self) -> FitState | None:
        """The saved state, or None when there is none (or the run is not resumed)."""
        if not self.resume or not self.path.is_file():
            return None
        try:
            with safe_open(self.path, framework="pt") as handle:
                metadata = handle.metadata() or {}
                tensors = {name: handle.get_tensor(name) for name in handle.keys()}
            info = json.loads(metadata["state"])
        except (SafetensorError, OSError, ValueError, KeyError) as error:
            raise CheckpointError(f"{self.path}: unreadable checkpoint ({error}); delete it to retrain that model") from None
        if metadata.get("format") != FORMAT or info.get("fingerprint") != self.fingerprint:
            raise CheckpointError(
                f"{self.path}: checkpoint of another run (different model, config, seed or data); "
                "run without --resume to start afresh"
            )
        return FitState(tensors, info)

    def save(self, state: FitState) -> None:
        """Write ``state`` atomically: a kill leaves the old file or the new one, whole."""
        info = {**state.info, "fingerprint": self.fingerprint}
        partial = self.path.with_name(self.path.name + ".partial")
        tensors = {name: t.detach().cpu().contiguous() for name, t in state.tensors.items()}
        save_file(tensors, partial, metadata={"format": FORMAT, "state": json.dumps(info)})
        with open(partial, "rb+") as handle:
            os.fsync(handle.fileno())
        _fault_point("written")
        os.replace(partial, self.path)
        directory = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
        _fault_point("saved")


FAULT_ENV = "CINESENSE_FAULT"  # crash tests: "written:N" / "saved:N" kills the process at the Nth save
_saves = {"written": 0, "saved": 0}


def _fault_point(where: str) -> None:
    """Crash tests (``$CINESENSE_FAULT`` = ``written:N``: after the Nth checkpoint is written but
    before it replaces the old one; ``saved:N``: just after the Nth is in place) end the process
    here as ``kill -9`` would: no cleanup, no flush."""
    _saves[where] += 1
    wanted = os.environ.get(FAULT_ENV, "")
    if wanted == f"{where}:{_saves[where]}":
        os._exit(137)


_RUN: contextvars.ContextVar[Run | None] = contextvars.ContextVar("cinesense_checkpoint_run", default=None)


@contextmanager
def checkpointing(root: str | Path, resume: bool = False) -> Iterator[Run]:
    """Inside this block every ``fit`` checkpoints into ``root`` (resuming from it with ``resume``)."""
    token = _RUN.set(Run(Path(root), resume))
    try:
        yield _RUN.get()
    finally:
        _RUN.reset(token)


def slot_for(model: nn.Module, config: Any, seed: int, n_train: int) -> Slot | None:
    """The next slot of the active run for this ``fit``, or None outside :func:`checkpointing`."""
    run = _RUN.get()
    if run is None:
        return None
    return run.slot(fingerprint(model, config, seed, n_train))


def fingerprint(model: nn.Module, config: Any, seed: int, n_train: int) -> str:
    digest = hashlib.sha256()
    settings = dataclasses.asdict(config) if dataclasses.is_dataclass(config) else config
    digest.update(json.dumps([type(model).__name__, settings, seed, n_train], sort_keys=True, default=str).encode())
    for name, parameter in model.named_parameters():
        digest.update(f"{name}:{tuple(parameter.shape)}:{parameter.requires_grad}".encode())
        if parameter.requires_grad:
            digest.update(parameter.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


# --------------------------------------------------------------------------- state helpers
def optimizer_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """An optimizer's state as flat tensors (``optim.<param>.<name>``) and JSON (its param groups)."""
    state = optimizer.state_dict()
    tensors = {
        f"optim.{index}.{name}": (value if torch.is_tensor(value) else torch.tensor(value))
        for index, values in state["state"].items() for name, value in values.items()
    }
    return tensors, {"param_groups": state["param_groups"]}


def restore_optimizer(optimizer: torch.optim.Optimizer, saved: FitState) -> None:
    state: dict[int, dict[str, torch.Tensor]] = {}
    for name, tensor in saved.group("optim").items():
        index, key = name.split(".", 1)
        state.setdefault(int(index), {})[key] = tensor
    groups = [{**group, **({"betas": tuple(group["betas"])} if "betas" in group else {})} for group in saved.info["param_groups"]]
    optimizer.load_state_dict({"state": state, "param_groups": groups})


def rng_state(generator: torch.Generator) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Every random number generator training draws from: the shuffling generator, torch's global
    generator (dropout), NumPy's and Python's."""
    kind, keys, position, has_gauss, cached = np.random.get_state()
    version, internal, gauss = random.getstate()
    tensors = {"rng.shuffle": generator.get_state(), "rng.torch": torch.get_rng_state()}
    info = {"numpy": [kind, keys.tolist(), position, has_gauss, cached], "python": [version, list(internal), gauss]}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        tensors.update({f"rng.cuda.{i}": s for i, s in enumerate(torch.cuda.get_rng_state_all())})
    return tensors, info


def restore_rng(generator: torch.Generator, saved: FitState) -> None:
    rng = saved.group("rng")
    generator.set_state(rng["shuffle"])
    torch.set_rng_state(rng["torch"])
    cuda = [rng[f"cuda.{i}"] for i in range(len(rng)) if f"cuda.{i}" in rng]
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda)
    kind, keys, position, has_gauss, cached = saved.info["rng"]["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), position, has_gauss, cached))
    version, internal, gauss = saved.info["rng"]["python"]
    random.setstate((version, tuple(internal), gauss))
