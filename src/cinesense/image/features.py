"""On-disk cache of frozen-stem outputs, so training the image branch never re-runs the frozen VGG16.

Each image's stem output (e.g. (512, 14, 14) float32 for a 224 input) is stored as one safetensors
file (no pickle) named after a key that hashes together

* the SHA-256 of the image file's bytes (so renamed or duplicated files share one entry, and an
  edited file gets a new one),
* the SHA-256 of the stem weights (``weights_sha256``),
* the :class:`~cinesense.image.weights.Preprocessing` dict,
* the stem's name (what part of the network it is) and the cache format version,

so a change of any of them recomputes. Layout: ``directory/<key[:2]>/<key>.safetensors``; each file
carries its key's components as metadata. Writes are atomic (temporary file + rename), so concurrent
writers or an interrupted run never leave a half-written entry under the final name; an unreadable
entry is recomputed and overwritten.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Sequence
from pathlib import Path

import torch
from torch import nn
from tqdm.auto import tqdm

from cinesense.image.loading import DEFAULT_MAX_PIXELS, ImageError, load_image
from cinesense.cache import default_cache_dir, read_entry, write_entry
from cinesense.image.weights import Preprocessing, preprocess_image

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
_TENSOR_NAME = "features"


def default_features_dir() -> Path:
    """``$CINESENSE_CACHE/features`` if ``CINESENSE_CACHE`` is set, else ``~/.cache/cinesense/features``."""
    return default_cache_dir() / "features"


def state_dict_sha256(module: nn.Module) -> str:
    """SHA-256 of a module's parameters and buffers (names, dtypes, shapes and values).

    Use it as ``weights_sha256`` when the weights do not come from a pinned file (random
    initialisation, fine-tuned weights).
    """
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        data = tensor.detach().cpu().contiguous()
        digest.update(f"{name}|{data.dtype}|{tuple(data.shape)}|".encode())
        digest.update(data.view(torch.uint8).numpy().tobytes() if data.numel() else b"")
    return digest.hexdigest()


def stem_batch_size(device: torch.device) -> int:
    """Images per stem forward pass: 1 on a CPU, where oneDNN runs VGG16 fastest one image at a time
    (14.9 images/s against 12.1 in batches of 8, ``bench/image_throughput.py``) and memory stays
    flat; 16 on an accelerator."""
    return 1 if device.type == "cpu" else 16


class FeatureCache:
    """Compute a frozen stem's output once per image and keep it on disk.

    Args:
        directory: where the entries live (created on demand); None = :func:`default_features_dir`.
        stem: the frozen module, (B, 3, H, W) -> (B, C, h, w); it is run in eval mode under
            ``torch.inference_mode`` on the device of its parameters.
        preprocessing: how images become the stem's input.
        weights_sha256: identifies the stem's weights (e.g. ``VGG16_SAFETENSORS_SHA256``, or
            :func:`state_dict_sha256`).
        stem_name: identifies what the stem computes (e.g. ``AttVGG16.stem_name``).
        batch_size: images per stem forward pass; None = :func:`stem_batch_size` of the stem's device.
        max_pixels: largest accepted image, see :func:`~cinesense.image.loading.load_image`.
        progress: show a tqdm bar while computing.
    """

    def __init__(
        self,
        directory: str | Path | None,
        stem: nn.Module,
        preprocessing: Preprocessing,
        weights_sha256: str,
        stem_name: str,
        *,
        batch_size: int | None = None,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        progress: bool = True,
    ) -> None:
        if batch_size is not None and batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if not weights_sha256 or not stem_name:
            raise ValueError("weights_sha256 and stem_name must be non-empty")
        self.directory = Path(directory) if directory is not None else default_features_dir()
        self.stem = stem
        self.preprocessing = preprocessing
        self.weights_sha256 = weights_sha256
        self.stem_name = stem_name
        self.batch_size = batch_size
        self.max_pixels = max_pixels
        self.progress = progress
        #: Images whose stem output was computed (not read from disk) by this object, all calls together.
        self.computed = 0
        #: Images served from disk by this object, all calls together.
        self.hits = 0

    # -- keys -------------------------------------------------------------------------------------

    def _key_fields(self, image_sha256: str) -> dict[str, str]:
        return {
            "format": str(FORMAT_VERSION),
            "image_sha256": image_sha256,
            "weights_sha256": self.weights_sha256,
            "preprocessing": json.dumps(self.preprocessing.to_dict(), sort_keys=True),
            "stem_name": self.stem_name,
        }

    def key(self, image_bytes: bytes) -> str:
        """Cache key of an image's encoded bytes under this cache's stem, weights and preprocessing."""
        return self._key_for(hashlib.sha256(image_bytes).hexdigest())

    def _key_for(self, image_sha256: str) -> str:
        return hashlib.sha256(json.dumps(self._key_fields(image_sha256), sort_keys=True).encode()).hexdigest()

    def path_for(self, key: str) -> Path:
        """File holding the entry ``key``."""
        return self.directory / key[:2] / f"{key}.safetensors"

    # -- storage ----------------------------------------------------------------------------------

    def _read(self, key: str) -> torch.Tensor | None:
        entry = read_entry(self.path_for(key), "feature cache entry")
        return None if entry is None or _TENSOR_NAME not in entry else entry[_TENSOR_NAME]

    def _write(self, key: str, image_sha256: str, features: torch.Tensor) -> None:
        try:
            write_entry(self.path_for(key), {_TENSOR_NAME: features}, self._key_fields(image_sha256))
        except OSError as error:  # a full or read-only cache costs speed, never the result
            logger.warning("could not write feature cache entry %s: %s", self.path_for(key), error)

    # -- public API -------------------------------------------------------------------------------

    def get(self, paths: Iterable[str | Path]) -> tuple[torch.Tensor, list[tuple[Path, str]]]:
        """Stem outputs of the images at ``paths``, computing and storing the missing ones.

        An image that cannot be read or decoded is logged and reported, never fatal. Images with the
        same content (under any names) are computed once.

        Args:
            paths: image files.

        Returns:
            ``(features, failures)``: ``features`` (N, C, h, w) float32 on the CPU, one row per path that
            loaded, in input order (N = number of paths not named in ``failures``); ``failures`` holds
            ``(path, reason)`` for each path that did not (a repeated bad path is reported each time).
        """
        items: list[tuple[Path, str | None, bytes | None, str | None]] = []  # (path, key, bytes, image sha)
        failures: list[tuple[Path, str]] = []
        for raw in paths:
            path = Path(raw)
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                items.append((path, None, None, "file not found"))
                continue
            except OSError as exc:
                items.append((path, None, None, f"cannot read file ({exc.strerror or exc})"))
                continue
            image_sha = hashlib.sha256(data).hexdigest()
            items.append((path, self._key_for(image_sha), data, image_sha))

        found: dict[str, torch.Tensor] = {}
        missing: dict[str, tuple[Path, bytes, str]] = {}  # key -> first (path, bytes, image sha)
        for path, key, data, image_sha in items:
            if key is None or key in found or key in missing:
                continue
            cached = self._read(key)
            if cached is not None:
                found[key] = cached
                self.hits += 1
            else:
                assert data is not None and image_sha is not None
                missing[key] = (path, data, image_sha)

        bad: dict[str, str] = {}  # key -> reason
        if missing:
            computed, bad = self._compute(missing)
            found.update(computed)

        rows: list[torch.Tensor] = []
        for path, key, _, detail in items:
            if key is None:
                reason = detail or "unreadable"
            elif key in bad:
                reason = bad[key]
            else:
                rows.append(found[key])
                continue
            logger.warning("skipping image %s: %s", path, reason)
            failures.append((path, reason))
        if failures:
            logger.warning("%d of %d images could not be loaded", len(failures), len(items))
        if rows:
            return torch.stack(rows), failures  # (N, C, h, w)
        return torch.empty(0), failures

    def _compute(self, missing: dict[str, tuple[Path, bytes, str]]) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
        """Decode, preprocess and run the stem on the ``missing`` images in batches; store each result."""
        out: dict[str, torch.Tensor] = {}
        bad: dict[str, str] = {}
        try:
            device = next(self.stem.parameters()).device
        except StopIteration:
            device = torch.device("cpu")
        batch_size = self.batch_size or stem_batch_size(device)
        was_training = self.stem.training
        self.stem.eval()
        pending: list[tuple[str, str, torch.Tensor]] = []  # (key, image sha, (3, H, W))
        bar = tqdm(total=len(missing), desc="stem features", unit="img", disable=not self.progress, leave=False)
        try:
            for key, (path, data, image_sha) in missing.items():
                try:
                    image = load_image(data, max_pixels=self.max_pixels, name=str(path))
                    pending.append((key, image_sha, preprocess_image(image, self.preprocessing)))  # (3, H, W)
                except ImageError as exc:
                    bad[key] = exc.reason
                    bar.update(1)
                if len(pending) >= batch_size:
                    self._run_batch(pending, device, out)
                    bar.update(len(pending))
                    pending = []
            if pending:
                self._run_batch(pending, device, out)
                bar.update(len(pending))
        finally:
            bar.close()
            self.stem.train(was_training)
        return out, bad

    def _run_batch(self, pending: Sequence[tuple[str, str, torch.Tensor]], device: torch.device, out: dict[str, torch.Tensor]) -> None:
        batch = torch.stack([tensor for _, _, tensor in pending]).to(device)  # (B, 3, H, W)
        with torch.inference_mode():
            features = self.stem(batch).float().cpu()  # (B, C, h, w)
        for (key, image_sha, _), row in zip(pending, features, strict=True):
            row = row.clone()  # (C, h, w), an ordinary tensor owning its storage
            self._write(key, image_sha, row)
            out[key] = row
            self.computed += 1
