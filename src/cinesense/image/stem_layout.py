"""The memory layout of the VGG16 conv base at prediction time, chosen by measuring where it runs.

    from cinesense.image.stem_layout import set_stem_layout
    set_stem_layout(classifier, "auto")   # -> "nchw" or "channels-last"; None for a model without images

Which layout is faster depends on the machine: on one 2-core machine channels-last ran the conv
base 1.5x faster than NCHW, on another of the same kind the opposite was reported. ``"auto"``
times one batch-1 pass of the stem in each layout on the model's device (best of ``repeats``
after a warm-up, on a seeded random image of the model's input size) and keeps the faster; the
choice is remembered in ``$CINESENSE_CACHE/stem_layout.json`` under a key naming the torch version,
the device (the CPU's model name or the GPU's), the thread count and the input size, so the
measurement runs once per machine and setting. Both layouts compute the same convolutions (the
outputs agree to float rounding); the stem's output is handed on in the standard (contiguous)
layout either way, so the sticker cache and the head see the same tensors.

``cinesense serve`` and ``cinesense predict-file`` take ``--stem-layout auto|nchw|channels-last``
(default auto). Training and the feature cache keep NCHW.
"""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path
from typing import Any

import torch

from cinesense.atomic import atomic_open
from cinesense.cache import default_cache_dir

LAYOUTS = ("nchw", "channels-last")
CHOICES = ("auto", *LAYOUTS)
CACHE_FILE = "stem_layout.json"


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "cpu"


def layout_key(device: torch.device, input_size: int) -> str:
    """What the measurement depends on: torch, the device, its threads and the input size."""
    threads = torch.get_num_threads() if device.type == "cpu" else 0
    return f"torch {torch.__version__} | {device.type}: {device_name(device)} | {threads} threads | {input_size} px"


def apply_layout(stem: torch.nn.Module, layout: str) -> None:
    """Put the stem's convolutions (and the images it is given) in ``layout``."""
    if layout not in LAYOUTS:
        raise ValueError(f"stem layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
    channels_last = layout == "channels-last"
    stem.to(memory_format=torch.channels_last if channels_last else torch.contiguous_format)
    stem.channels_last = channels_last


@torch.inference_mode()
def measure_layouts(stem: torch.nn.Module, input_size: int, device: torch.device, repeats: int = 3) -> dict[str, float]:
    """Seconds of one batch-1 stem pass in each layout (best of ``repeats`` after a warm-up); the
    stem is left in NCHW."""
    generator = torch.Generator().manual_seed(0)
    image = (torch.rand(1, 3, input_size, input_size, generator=generator) * 255 - 128).to(device)
    seconds = {}
    for layout in LAYOUTS:
        apply_layout(stem, layout)
        stem(image)  # warm-up (oneDNN picks its kernels)
        best = float("inf")
        for _ in range(repeats):
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            tick = time.perf_counter()
            stem(image)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            best = min(best, time.perf_counter() - tick)
        seconds[layout] = best
    apply_layout(stem, "nchw")
    return seconds


def _stem_of(classifier: Any) -> tuple[torch.nn.Module, int] | None:
    """The conv base of an image or fused classifier and its input size; None without one."""
    model = getattr(classifier, "model_", None)
    stem = getattr(getattr(model, "image", model), "stem", None)
    adapter = getattr(classifier, "adapter", None)
    branch = adapter.branch("image") if adapter is not None else None
    if stem is None or not hasattr(stem, "channels_last") or branch is None:
        return None
    return stem, int(branch.preprocessing.input_size)


def set_stem_layout(classifier: Any, layout: str = "auto", cache_file: str | Path | None = None) -> str | None:
    """Run the classifier's conv base in ``layout`` ("auto": the faster one here, measured once and
    remembered in ``cache_file``, default ``$CINESENSE_CACHE/stem_layout.json``); returns the layout
    set, or None for a model that reads no image."""
    if layout not in CHOICES:
        raise ValueError(f"stem layout must be one of {', '.join(CHOICES)}, got {layout!r}")
    found = _stem_of(classifier)
    if found is None:
        return None
    stem, input_size = found
    if layout == "auto":
        layout = _remembered_choice(stem, input_size, Path(cache_file) if cache_file else default_cache_dir() / CACHE_FILE)
    apply_layout(stem, layout)
    return layout


def _remembered_choice(stem: torch.nn.Module, input_size: int, path: Path) -> str:
    device = next(stem.parameters()).device
    key = layout_key(device, input_size)
    try:
        known = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        known = {}  # missing or unreadable: measure again and rewrite it
    if not isinstance(known, dict):
        known = {}
    entry = known.get(key)
    if isinstance(entry, dict) and entry.get("layout") in LAYOUTS:
        return entry["layout"]
    seconds = measure_layouts(stem, input_size, device)
    choice = min(seconds, key=seconds.get)
    known[key] = {"layout": choice, "seconds_per_image": seconds}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_open(path, "w", encoding="utf-8") as handle:
            json.dump(known, handle, indent=2)
    except OSError:
        pass  # a read-only cache: the choice still holds for this process
    return choice
