"""Training on several processes with PyTorch's own launcher, and the device a process uses.

    torchrun --nproc_per_node 2 -m cinesense train --config FILE --out DIR

torchrun sets ``RANK`` / ``WORLD_SIZE`` / ``MASTER_ADDR`` (multi-node: its rendezvous) and
:func:`init_from_env` joins the group: gloo on CPU, nccl on CUDA. :func:`train.fit` then wraps the
model in ``DistributedDataParallel`` and gives each rank its share of every global batch (the
batches, length-bucketed, are drawn alike on every rank from the same seed), so the global batch
is ``train.batch_size`` whatever the number of processes. Rank 0 alone writes the run folder,
checkpoints and bundle; work done once for all (Word2Vec, feature caches) runs on rank 0 first,
the other ranks reading what it left in the cache (:func:`rank_zero_first`). Without torchrun
nothing here does anything: one process, as before.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
import torch.distributed as dist

DEVICES = ("auto", "cpu", "cuda")


def resolve_device(name: str = "auto") -> torch.device:
    """``auto``: CUDA when there is a GPU (under torchrun: the rank's local GPU), else CPU."""
    if name not in DEVICES and not name.startswith("cuda:"):
        raise ValueError(f"device must be one of {', '.join(DEVICES)} (or cuda:N), got {name!r}")
    if name == "cpu" or (name == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise ValueError(f"device {name!r}: no CUDA GPU is available here (torch {torch.__version__})")
    if name.startswith("cuda:"):
        return torch.device(name)
    return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")) % torch.cuda.device_count())


def init_from_env(device: torch.device | None = None) -> bool:
    """Join the process group torchrun describes in the environment (once); False without torchrun."""
    if dist.is_available() and dist.is_initialized():
        return True
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or not dist.is_available():
        return False
    backend = "nccl" if device is not None and device.type == "cuda" else "gloo"
    if device is not None and device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group(backend=backend)
    return True


def world() -> tuple[int, int]:
    """(rank, number of processes); (0, 1) outside a process group."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def is_main() -> bool:
    return world()[0] == 0


def barrier() -> None:
    if world()[1] > 1:
        dist.barrier()


def broadcast(value: Any) -> Any:
    """Rank 0's ``value`` on every rank (any JSON-like object)."""
    if world()[1] == 1:
        return value
    holder = [value]
    dist.broadcast_object_list(holder, src=0)
    return holder[0]


def all_gather(value: Any) -> list[Any]:
    """Every rank's ``value`` (tensors, numbers: objects this group's own processes send each other), in rank order."""
    if world()[1] == 1:
        return [value]
    gathered: list[Any] = [None] * world()[1]
    dist.all_gather_object(gathered, value)
    return gathered


@contextmanager
def rank_zero_first() -> Iterator[None]:
    """Rank 0 runs the block first; the others run it after, finding its results in the caches."""
    rank, size = world()
    if size > 1 and rank != 0:
        dist.barrier()
    yield
    if size > 1 and rank == 0:
        dist.barrier()


class EmbeddingRowSync:
    """All-reduce only the embedding rows a global batch touched, instead of the whole table.

    A trainable word-embedding table (vocabulary x dim, tens of MB) dominates what DDP would
    all-reduce every step, yet a batch's loss reaches only the rows of its tokens. The tables are
    left out of DDP's buckets; a forward hook records which rows each rank used; after
    ``backward`` the ranks agree on the union (one byte per row), all-reduce those rows' gradients
    and average them, as DDP would have. The L2 term's gradient (the same on every rank: the
    weights agree) is added after, so it is not counted ``size`` times. One process: never used.
    """

    def __init__(self, model: torch.nn.Module) -> None:
        self.tables: dict[str, torch.nn.Embedding] = {
            name: module for name, module in model.named_modules()
            if isinstance(module, torch.nn.Embedding) and module.weight.requires_grad and not module.sparse
        }
        self._used: dict[str, list[torch.Tensor]] = {name: [] for name in self.tables}
        self._hooks = [module.register_forward_hook(self._recorder(name)) for name, module in self.tables.items()]
        for module in self.tables.values():
            dist.broadcast(module.weight.data, src=0)  # DDP broadcasts the rest of the model at wrapping
        self.ignored = [f"{name}.weight" for name in self.tables]

    def close(self) -> None:
        """Remove the forward hooks (training is over)."""
        for hook in self._hooks:
            hook.remove()

    @property
    def parameters(self) -> set[int]:
        return {id(module.weight) for module in self.tables.values()}

    def _recorder(self, name: str) -> Any:
        def record(module: torch.nn.Module, inputs: tuple[Any, ...], output: Any) -> None:
            if module.training and torch.is_grad_enabled():
                self._used[name].append(inputs[0].detach().reshape(-1))
        return record

    def sync(self, l2: float = 0.0) -> None:
        """Average the used rows' gradients across ranks; then add ``2 * l2 * weight`` (the L2 term)."""
        size = world()[1]
        for name, module in self.tables.items():
            weight, used = module.weight, self._used[name]
            self._used[name] = []
            if weight.grad is None:
                weight.grad = torch.zeros_like(weight)
            mask = torch.zeros(weight.shape[0], dtype=torch.uint8, device=weight.device)
            if used:
                mask[torch.cat(used)] = 1
            dist.all_reduce(mask, op=dist.ReduceOp.MAX)
            rows = mask.nonzero().squeeze(1)
            shared = weight.grad.index_select(0, rows)
            dist.all_reduce(shared)
            weight.grad.index_copy_(0, rows, shared / size)
            if l2:
                weight.grad.add_(weight.detach(), alpha=2 * l2)
