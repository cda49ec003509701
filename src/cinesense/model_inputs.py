"""Which inputs a model reads, by modality, checked in one place for the CLI, the service and predict-file.

A "text" model reads text, an "image" model an image, a "fused" model (and any later modality) text
and/or an image. Errors are ``InputError`` (a ``ValueError``) whose message names the field.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class InputError(ValueError):
    """A comment's inputs do not suit the model; ``field`` names the offending field."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


def check_inputs(modality: str, text: Any, image: Any, *, where: str = "", strict: bool = True) -> None:
    """Raise ``InputError`` naming the field if a comment's inputs do not suit the model.

    Args:
        modality: the model's ``modality_``.
        text, image: the comment's inputs (None when absent).
        where: prefix of the field names in messages, e.g. ``"items[3]."``.
        strict: also refuse an input the model does not read (explicit requests); data files, whose
            records often carry both, pass False and the unused input is ignored.
    """
    field_text, field_image = f"{where}text", f"{where}image"
    if isinstance(text, str) and not text.strip():
        raise InputError(f"field '{field_text}' is empty", field_text)
    if modality == "text":
        if text is None:
            raise InputError(f"field '{field_text}' is required: this is a text model", field_text)
        if strict and image is not None:
            raise InputError(f"field '{field_image}': this text model does not read images", field_image)
    elif modality == "image":
        if image is None:
            raise InputError(f"field '{field_image}' is required: this is an image model", field_image)
        if strict and text is not None:
            raise InputError(f"field '{field_text}': this image model does not read text", field_text)
    elif text is None and image is None:
        raise InputError(f"fields '{field_text}' and '{field_image}' are both missing: give a text, an image or both", field_text)


def proba_inputs(modality: str, texts: Sequence[Any], images: Sequence[Any]) -> dict[str, list[Any]]:
    """Keyword arguments of ``Classifier.predict_proba`` for checked comments (same order)."""
    if modality == "text":
        return {"texts": list(texts)}
    if modality == "image":
        return {"images": list(images)}
    return {"texts": list(texts), "images": list(images)}


def record_image(modality: str, images: Sequence[Any]) -> Any:
    """A data record's image input: None, its image, or (for a fused model) the list of its images
    when it has several."""
    if not images:
        return None
    if len(images) > 1 and modality not in ("text", "image"):
        return list(images)
    return images[0]


def explain_inputs(modality: str, text: Any, image: Any) -> dict[str, Any]:
    """Keyword arguments of ``Classifier.explain`` for one checked comment."""
    if modality == "text":
        return {"text": text}
    if modality == "image":
        return {"image": image}
    return {"text": text, "image": image}
