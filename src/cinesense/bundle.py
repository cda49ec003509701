"""The model bundle: one directory with a JSON manifest, a JSON vocabulary and safetensors weights.

The manifest records the SHA-256 of the weights (``weights_sha256``) and of every other file it
names (the vocabulary's ``vocabulary.sha256``, the tokenizer files' ``tokenizer_sha256``). Loading
validates the manifest, reads each file under the plain file name the manifest gives (no folders, no
path out of the bundle), checks its digest, the vocabulary, and every tensor's name and shape, and
refuses a truncated or mismatched bundle with a message naming the file. Bundles written before the
file digests were recorded load without that check. Nothing is unpickled.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from cinesense.hashing import sha256_file

FORMAT = "cinesense-model"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
WEIGHTS = "model.safetensors"
VOCABULARY = "vocab.json"
REQUIRED_KEYS = ("format", "format_version", "classes", "model", "weights_sha256")


class BundleError(ValueError):
    """A model directory is missing, truncated or inconsistent; the message names the file."""


def write_bundle(directory: str | Path, manifest: dict[str, Any], state: dict[str, torch.Tensor]) -> Path:
    """Write weights then the manifest (last, atomically: a bundle without one is incomplete)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    weights = directory / WEIGHTS
    save_file({k: v.detach().contiguous().cpu() for k, v in state.items()}, str(weights))
    full = {"format": FORMAT, "format_version": FORMAT_VERSION, **manifest, "weights_sha256": sha256_file(weights)}
    temporary = directory / (MANIFEST + ".tmp")
    temporary.write_text(json.dumps(full, ensure_ascii=False, indent=2), encoding="utf-8")
    os.replace(temporary, directory / MANIFEST)
    return directory


def read_manifest(directory: str | Path) -> dict[str, Any]:
    """Read and check a bundle's manifest."""
    path = Path(directory) / MANIFEST
    if not Path(directory).is_dir():
        raise BundleError(f"{directory}: model directory not found")
    if not path.is_file():
        raise BundleError(f"{path}: missing manifest; is {directory} a model saved by cinesense?")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise BundleError(f"{path}: manifest is not valid JSON ({error})") from None
    except RecursionError:
        raise BundleError(f"{path}: manifest is not valid JSON (nested too deeply)") from None
    if not isinstance(manifest, dict):
        raise BundleError(f"{path}: manifest must be a JSON object")
    missing = [k for k in REQUIRED_KEYS if k not in manifest]
    if missing:
        raise BundleError(f"{path}: manifest lacks field(s) {', '.join(missing)}")
    if manifest["format"] != FORMAT:
        raise BundleError(f"{path}: format {manifest['format']!r} is not {FORMAT!r}")
    if manifest["format_version"] != FORMAT_VERSION:
        raise BundleError(f"{path}: format_version {manifest['format_version']} is not supported (this cinesense reads {FORMAT_VERSION})")
    return manifest


def bundle_file(directory: str | Path, name: Any, field: str) -> Path:
    """The path of a file the manifest names in ``field``; the name must be a plain file name
    inside the bundle directory (no folder, no ``..``, not absolute)."""
    manifest = Path(directory) / MANIFEST
    if not isinstance(name, str) or not name.strip():
        raise BundleError(f"{manifest}: field '{field}' must be a file name, got {name!r}")
    if name in (".", "..") or "/" in name or "\\" in name or "\0" in name or Path(name).name != name or Path(name).is_absolute():
        raise BundleError(f"{manifest}: field '{field}' must be a plain file name inside the model directory, got {name!r}")
    return Path(directory) / name


def check_sha256(path: Path, expected: Any, field: str) -> None:
    """Refuse ``path`` unless its SHA-256 is ``expected`` (a manifest's ``field``); ``expected``
    None (a bundle written before digests were recorded) skips the check."""
    if expected is None:
        return
    if not isinstance(expected, str):
        raise BundleError(f"{Path(path).parent / MANIFEST}: field '{field}' must be a hex SHA-256 string, got {expected!r}")
    if not Path(path).is_file():
        raise BundleError(f"{path}: file missing (the manifest names it in '{field}')")
    actual = sha256_file(path)
    if actual != expected.lower():
        raise BundleError(
            f"{path}: SHA-256 {actual[:12]}... does not match the manifest's '{field}' ({expected[:12]}...): "
            "the file was changed, truncated or comes from another model"
        )


def read_weights(directory: str | Path, manifest: dict[str, Any]) -> dict[str, torch.Tensor]:
    """Read the weights after checking their SHA-256 against the manifest."""
    path = Path(directory) / WEIGHTS
    if not path.is_file():
        raise BundleError(f"{path}: weights file missing")
    if sha256_file(path) != manifest["weights_sha256"]:
        raise BundleError(f"{path}: checksum mismatch: the weights file is truncated, corrupted or from another model")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as error:
        raise BundleError(f"{path}: cannot read weights ({error})") from None


def saved_tensor_names(directory: str | Path) -> list[str] | None:
    """The tensor names in the bundle's weights file, from its header only (None when it cannot be read:
    ``read_weights`` says why), so that a manifest can be compared with the weights before a model is built."""
    try:
        with safe_open(str(Path(directory) / WEIGHTS), framework="pt") as handle:
            return list(handle.keys())
    except (SafetensorError, OSError, ValueError):
        return None


def load_state_checked(module: torch.nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    """``load_state_dict`` with messages that name the missing, unexpected or mis-shaped tensor."""
    expected = module.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise BundleError(f"{source}: weights do not match the model: missing {missing[:5]}, unexpected {unexpected[:5]}")
    for name, tensor in expected.items():
        if tuple(state[name].shape) != tuple(tensor.shape):
            raise BundleError(f"{source}: tensor {name!r} has shape {tuple(state[name].shape)}, the model expects {tuple(tensor.shape)}")
    module.load_state_dict(state)
