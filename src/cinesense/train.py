"""A small, generic training loop: ``train_one_epoch`` / ``predict_proba`` / ``fit``.

A model is any ``nn.Module`` returning logits from ``model(**inputs)``; a ``collate`` function turns
a list of examples into ``inputs`` (a dict of tensors). Loss = cross-entropy + ``l2 * sum(theta^2)``
over the trainable parameters (the paper's eq. 9). Early stopping keeps the weights of the best
epoch on dev.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

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


def l2_penalty(model: nn.Module) -> torch.Tensor:
    """sum(theta^2) over trainable parameters (eq. 9)."""
    return sum((p.pow(2).sum() for p in model.parameters() if p.requires_grad), torch.zeros(()))


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
) -> list[float]:
    """One pass over shuffled ``examples``; returns the loss of each step.

    With ``lengths`` (and ``config.bucket_by_length``), batches hold examples of similar length:
    shuffled windows of 50 batches are sorted by length and cut, and the batches shuffled, so a
    recurrent model steps through far less padding."""
    model.train()
    order = torch.randperm(len(examples), generator=generator).tolist()
    size = config.batch_size
    if lengths is not None and config.bucket_by_length:
        window = 50 * size
        order = [i for start in range(0, len(order), window) for i in sorted(order[start : start + window], key=lengths.__getitem__)]
    batches = [order[i : i + size] for i in range(0, len(order), size)]
    if lengths is not None and config.bucket_by_length:
        batches = [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]
    losses = []
    bar = LoopProgress(len(batches), description, enabled=progress)
    for batch in batches:
        inputs = collate([examples[i] for i in batch])
        logits = model(**inputs)
        loss = nn.functional.cross_entropy(logits, targets[batch], weight=class_weights)
        total = loss + config.l2 * l2_penalty(model) if config.l2 else loss
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        if config.grad_clip:
            nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        losses.append(loss.item())
        bar.update(1, f"loss {np.mean(losses[-20:]):.4f}")
    bar.close()
    return losses


@torch.inference_mode()
def predict_logits(model: nn.Module, examples: Sequence[Any], collate: Collate, batch_size: int = 256) -> torch.Tensor:
    """Logits (n, C) for ``examples``, in order."""
    model.eval()
    outputs = [model(**collate(examples[i : i + batch_size])) for i in range(0, len(examples), batch_size)]
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
        lengths: length of each training example, for ``config.bucket_by_length``.
    """
    generator = seed_everything(seed)
    if config.threads:
        torch.set_num_threads(config.threads)
    examples, labels = train
    targets = torch.as_tensor(list(labels), dtype=torch.long)
    class_weights = _class_weights(targets, len(classes)) if config.class_weights == "balanced" else None
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=config.learning_rate)
    history = History()
    best_score, best_state, stale = -np.inf, None, 0
    started = time.perf_counter()
    seen = 0
    for epoch in range(1, config.epochs + 1):
        tick = time.perf_counter()
        losses = train_one_epoch(
            model, examples, targets, collate, optimizer, config, generator, progress, f"epoch {epoch}", class_weights, lengths
        )
        seen += len(examples)
        history.step_losses.extend(losses)
        dev_loss = dev_metrics = None
        if dev is not None:
            logits = predict_logits(model, dev[0], collate)
            dev_targets = torch.as_tensor(list(dev[1]), dtype=torch.long)
            dev_loss = float(nn.functional.cross_entropy(logits, dev_targets))
            proba = torch.softmax(logits, dim=-1).numpy()
            dev_metrics = classification_metrics([classes[i] for i in dev[1]], proba, classes)
            dev_metrics["loss"] = dev_loss
        record = EpochRecord(epoch, float(np.mean(losses)), dev_loss, dev_metrics, time.perf_counter() - tick)
        history.epochs.append(record)
        if progress:
            shown = f" dev {config.select_metric} {dev_metrics[config.select_metric]:.4f}" if dev_metrics else ""
            tqdm.write(f"epoch {epoch}: train loss {record.train_loss:.4f}{shown} ({record.seconds:.1f}s)")
        score = _selection_score(dev_metrics, config.select_metric, epoch)
        if score > best_score:
            best_score, best_state, stale = score, copy.deepcopy(model.state_dict()), 0
            history.best_epoch = epoch
        else:
            stale += 1
            if stale >= config.patience:
                break
    history.examples_per_second = seen / max(time.perf_counter() - started, 1e-9)
    if best_state is not None:
        model.load_state_dict(best_state)
    return history


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
