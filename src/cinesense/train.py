"""A small, generic training loop: ``train_one_epoch`` / ``predict_proba`` / ``fit``.

A model is any ``nn.Module`` returning logits from ``model(**inputs)``; a ``collate`` function turns
a list of examples into ``inputs`` (a dict of tensors). Loss = cross-entropy + ``l2 * sum(theta^2)``
over the trainable parameters (the paper's eq. 9). Early stopping keeps the weights of the best
epoch on dev.
"""

from __future__ import annotations

import contextlib
import copy
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from cinesense import checkpoint, distributed
from cinesense.config import TrainConfig
from cinesense.evaluate.metrics import classification_metrics
from cinesense.progress import LoopProgress
from cinesense.seeding import seed_everything

Collate = Callable[[Sequence[Any]], dict[str, torch.Tensor]]


@dataclass
class EpochRecord:
    epoch: int
    train_loss: float
    dev_loss: float | None
    dev_metrics: dict[str, Any] | None
    seconds: float


@dataclass
class History:
    """What happened during training: per-epoch and per-step losses, and the epoch kept."""

    epochs: list[EpochRecord] = field(default_factory=list)
    step_losses: list[float] = field(default_factory=list)
    best_epoch: int = 0
    examples_per_second: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def l2_penalty(model: nn.Module, skip: set[int] = frozenset()) -> torch.Tensor:
    """sum(theta^2) over trainable parameters (eq. 9), but those whose ``id`` is in ``skip``."""
    return sum((p.pow(2).sum() for p in model.parameters() if p.requires_grad and id(p) not in skip), torch.zeros(()))


def train_one_epoch(
    model: nn.Module,
    examples: Sequence[Any],
    targets: torch.Tensor,
    collate: Collate,
    optimizer: torch.optim.Optimizer,
    config: TrainConfig,
    generator: torch.Generator,
    progress: bool = True,
    description: str = "train",
    class_weights: torch.Tensor | None = None,
    lengths: Sequence[int] | None = None,
    device: torch.device | None = None,
    row_sync: distributed.EmbeddingRowSync | None = None,
) -> list[float]:
    """One pass over shuffled ``examples``; returns the loss of each step.

    With ``lengths`` (and ``config.bucket_by_length``), batches hold examples of similar length:
    shuffled windows of 50 batches are sorted by length and cut, and the batches shuffled, so a
    recurrent model steps through far less padding. Under torchrun every rank draws the same
    batches and trains on its share of each (``model`` is then the DistributedDataParallel wrapper,
    and ``row_sync`` averages the embedding tables it leaves out)."""
    model.train()
    rank, size = distributed.world()
    order = torch.randperm(len(examples), generator=generator).tolist()
    batch_size = config.batch_size
    if lengths is not None and config.bucket_by_length:
        window = 50 * batch_size
        order = [i for start in range(0, len(order), window) for i in sorted(order[start : start + window], key=lengths.__getitem__)]
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    if lengths is not None and config.bucket_by_length:
        batches = [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]
    if size > 1:  # each rank its share; a last batch too small to share is left out on every rank alike
        batches = [batch[rank::size] for batch in batches if len(batch) >= size]
    device = device or torch.device("cpu")
    autocast = _autocast(config, device)
    losses = []
    bar = LoopProgress(len(batches), description, enabled=progress)
    for batch in batches:
        inputs = _to_device(collate([examples[i] for i in batch]), device)
        with autocast:
            logits = model(**inputs)
        loss = nn.functional.cross_entropy(logits.float(), targets[batch].to(device), weight=class_weights)
        skip = row_sync.parameters if row_sync else frozenset()
        total = loss + config.l2 * l2_penalty(model, skip) if config.l2 else loss
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        if row_sync:
            row_sync.sync(config.l2)
        if config.grad_clip:
            nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        losses.append(loss.item())
        bar.update(1, f"loss {np.mean(losses[-20:]):.4f}")
    bar.close()
    return losses


def _to_device(inputs: dict[str, Any], device: torch.device) -> dict[str, Any]:
    if device.type == "cpu":
        return inputs
    return {key: value.to(device, non_blocking=True) if torch.is_tensor(value) else value for key, value in inputs.items()}


def _autocast(config: TrainConfig, device: torch.device) -> Any:
    if config.precision == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


@torch.inference_mode()
def predict_logits(model: nn.Module, examples: Sequence[Any], collate: Collate, batch_size: int = 256) -> torch.Tensor:
    """Logits (n, C) for ``examples``, in order, on the CPU (computed where ``model`` is)."""
    model.eval()
    device = next(iter(model.parameters()), torch.empty(0)).device
    outputs = [model(**_to_device(collate(examples[i : i + batch_size]), device)).float().cpu() for i in range(0, len(examples), batch_size)]
    return torch.cat(outputs) if outputs else torch.empty(0)


def fit(
    model: nn.Module,
    train: tuple[Sequence[Any], Sequence[int]],
    dev: tuple[Sequence[Any], Sequence[int]] | None,
    collate: Collate,
    classes: Sequence[str],
    config: TrainConfig,
    seed: int = 0,
    progress: bool = True,
    lengths: Sequence[int] | None = None,
) -> History:
    """Train ``model`` in place, keeping the best epoch on dev by ``config.select_metric``.

    Args:
        train, dev: (examples, class indices). Without dev every epoch runs and the last is kept.
            Train's targets may instead be an (n, C) array of class probabilities (soft targets,
            as a distilled model learns from its teacher: cross-entropy against them).
        lengths: length of each training example, for ``config.bucket_by_length``.

    Inside :func:`cinesense.checkpoint.checkpointing` the state is saved after every epoch and a
    resumed run continues from it (a fit that had finished is not run again): the same model as an
    uninterrupted run, bit for bit in one CPU process. Under torchrun (:mod:`cinesense.distributed`)
    the model trains with DistributedDataParallel; every rank ends with the same weights. The model
    trains on ``config.device`` and is handed back on the CPU.
    """
    generator = seed_everything(seed)
    if config.threads:
        torch.set_num_threads(config.threads)
    device = distributed.resolve_device(config.device)
    distributed.init_from_env(device)
    rank, size = distributed.world()
    if size > 1:
        torch.manual_seed(seed + rank)  # dropout differs by rank; the batch order (generator) does not
    examples, labels = train
    soft = isinstance(labels, (np.ndarray, torch.Tensor)) and labels.ndim == 2
    targets = torch.as_tensor(labels, dtype=torch.float32) if soft else torch.as_tensor(list(labels), dtype=torch.long)
    slot = checkpoint.slot_for(model, config, seed, len(examples))
    saved = slot.load() if slot else None
    if saved is not None and saved.info["finished"]:
        model.load_state_dict(saved.group("model"))
        return _history(saved.info["history"])
    model.to(device)
    hard = targets.argmax(dim=-1) if soft else targets
    class_weights = _class_weights(hard, len(classes)).to(device) if config.class_weights == "balanced" else None
    row_sync = distributed.EmbeddingRowSync(model) if size > 1 else None
    if row_sync:
        nn.parallel.DistributedDataParallel._set_params_and_buffers_to_ignore_for_model(model, row_sync.ignored)
    trained = nn.parallel.DistributedDataParallel(model, find_unused_parameters=getattr(model, "skips_parameters", False)) if size > 1 else model
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=config.learning_rate)
    history = History()
    best_score, best_state, stale, first_epoch, stopped = -np.inf, None, 0, 1, False
    if saved is not None:
        model.load_state_dict(saved.group("model"))
        checkpoint.restore_optimizer(optimizer, saved)
        checkpoint.restore_rng(generator, saved)
        history = _history(saved.info["history"])
        best_score, stale, stopped = saved.info["best_score"], saved.info["stale"], saved.info["stopped"]
        best_state = saved.group("best") or None
        first_epoch = saved.info["epoch"] + 1
    started = time.perf_counter()
    seen = 0
    for epoch in range(first_epoch, config.epochs + 1):
        if stopped:
            break
        tick = time.perf_counter()
        losses = train_one_epoch(
            trained, examples, targets, collate, optimizer, config, generator, progress, f"epoch {epoch}", class_weights, lengths, device, row_sync
        )
        seen += len(examples)
        history.step_losses.extend(losses)
        dev_loss = dev_metrics = None
        if dev is not None:
            logits = _dev_logits(model, dev[0], collate)
            dev_targets = torch.as_tensor(list(dev[1]), dtype=torch.long)
            dev_loss = float(nn.functional.cross_entropy(logits, dev_targets))
            proba = torch.softmax(logits, dim=-1).numpy()
            dev_metrics = classification_metrics([classes[i] for i in dev[1]], proba, classes)
            dev_metrics["loss"] = dev_loss
        record = EpochRecord(epoch, float(np.mean(losses)) if losses else float("nan"), dev_loss, dev_metrics, time.perf_counter() - tick)
        history.epochs.append(record)
        if progress and distributed.is_main():
            shown = f" dev {config.select_metric} {dev_metrics[config.select_metric]:.4f}" if dev_metrics else ""
            tqdm.write(f"epoch {epoch}: train loss {record.train_loss:.4f}{shown} ({record.seconds:.1f}s)")
        score = distributed.broadcast(_selection_score(dev_metrics, config.select_metric, epoch))  # rank 0 decides for all
        if score > best_score:
            best_score, best_state, stale = score, copy.deepcopy(model.state_dict()), 0
            history.best_epoch = epoch
        else:
            stale += 1
            stopped = stale >= config.patience
        if slot is not None and distributed.is_main():
            slot.save(_fit_state(model, optimizer, generator, history, epoch, best_score, best_state, stale, stopped))
    history.examples_per_second = seen / max(time.perf_counter() - started, 1e-9)
    if row_sync:
        row_sync.close()
    if best_state is not None:
        model.load_state_dict(best_state)
    model.to("cpu")
    if slot is not None and distributed.is_main():
        slot.save(checkpoint.FitState({f"model.{k}": v for k, v in model.state_dict().items()}, {"finished": True, "history": history.to_dict()}))
    distributed.barrier()
    return history


def _dev_logits(model: nn.Module, examples: Sequence[Any], collate: Collate) -> torch.Tensor:
    """Dev logits; under torchrun each rank scores its share and every rank gets them all."""
    rank, size = distributed.world()
    if size == 1:
        return predict_logits(model, examples, collate)
    mine = predict_logits(model, examples[rank::size], collate)
    shares = distributed.all_gather(mine)
    logits = torch.empty((len(examples), mine.shape[-1]), dtype=mine.dtype)
    for r, share in enumerate(shares):
        logits[r::size] = share
    return logits


def _fit_state(
    model: nn.Module, optimizer: torch.optim.Optimizer, generator: torch.Generator, history: History,
    epoch: int, best_score: float, best_state: dict[str, torch.Tensor] | None, stale: int, stopped: bool,
) -> checkpoint.FitState:
    optim_tensors, optim_info = checkpoint.optimizer_tensors(optimizer)
    rng_tensors, rng_info = checkpoint.rng_state(generator)
    tensors = {
        **{f"model.{k}": v for k, v in model.state_dict().items()},
        **{f"best.{k}": v for k, v in (best_state or {}).items()},
        **optim_tensors, **rng_tensors,
    }
    info = {
        "finished": False, "epoch": epoch, "best_score": best_score, "stale": stale, "stopped": stopped,
        "history": history.to_dict(), "rng": rng_info, **optim_info,
    }
    return checkpoint.FitState(tensors, info)


def _history(saved: dict[str, Any]) -> History:
    epochs = [EpochRecord(**record) for record in saved["epochs"]]
    return History(epochs, list(saved["step_losses"]), saved["best_epoch"], saved["examples_per_second"])


def _class_weights(targets: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Inverse class frequency, normalised so that the weights average 1 over the examples."""
    counts = torch.bincount(targets, minlength=num_classes).double().clamp(min=1)
    return (len(targets) / (num_classes * counts)).float()


def _selection_score(metrics: dict[str, Any] | None, name: str, epoch: int) -> float:
    if metrics is None:
        return float(epoch)  # no dev set: keep the last epoch
    if name == "loss":
        return -metrics["loss"]
    value = metrics.get(name)
    if value is None:
        raise ValueError(f"select_metric {name!r} is not available on dev (have: {sorted(metrics)})")
    return float(value)
