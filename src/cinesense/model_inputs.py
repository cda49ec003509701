"""Which inputs a model reads, by modality, checked in one place for the Classifier, the CLI, the
service, predict-file and the explain page.

A "text" model reads text, an "image" model an image, a "fused" model (and any later modality) text
and/or an image. Errors are ``InputError`` (a ``ValueError``) whose message names the field.

The rule for text, the same at every entry point (``Classifier.predict / predict_proba / explain``
apply it through :func:`check_inputs`, so the CLI, the service, predict-file and the explain page do
too):

* an empty or whitespace-only text is refused, naming the field: a comment without text passes
  None (no text), never "";
* a text that has characters but leaves no word once cleaned (only emoji, symbols, punctuation,
  control characters or links: "😡😡", "\\u0000", "!!!") has no word the model reads — emoji and
  symbols inside text are not read yet (attach them as images). A text model refuses it; a fused
  model treats it as no text: the comment is read from its images alone (its explanation has no
  tokens), and refused when it has none.

Training and the scoring of labelled data (``fit``, ``predict_records``, ``cinesense evaluate``) read
every record as the model was trained on it, so a wordless training text still counts there.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

NO_WORDS = (
    "has no word the model reads (only emoji, symbols, punctuation, control characters or links): "
    "emoji and symbols inside text are not read yet; attach them as images"
)


class InputError(ValueError):
    """A comment's inputs do not suit the model; ``field`` names the offending field."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


def check_inputs(
    modality: str,
    text: Any,
    image: Any,
    *,
    where: str = "",
    strict: bool = True,
    tokens: Sequence[str] | None = None,
    fields: tuple[str, str] | None = None,
) -> None:
    """Raise ``InputError`` naming the field if a comment's inputs do not suit the model (the rule
    is in the module docstring).

    Args:
        modality: the model's ``modality_``.
        text, image: the comment's inputs (None when absent).
        where: prefix of the field names in messages, e.g. ``"items[3]."``.
        strict: also refuse an input the model does not read (explicit requests); data files, whose
            records often carry both, pass False and the unused input is ignored.
        tokens: the words the model reads in ``text``, when known (the Classifier passes them); an
            empty list is a text without words. None: not checked here (the Classifier checks).
        fields: the two field names (text, image) in full, instead of ``where`` + "text" / "image".
    """
    field_text, field_image = fields or (f"{where}text", f"{where}image")
    if text is not None and not isinstance(text, str):
        raise InputError(f"field '{field_text}' must be a string or None, got {type(text).__name__}", field_text)
    if isinstance(text, str) and not text.strip():
        raise InputError(f"field '{field_text}' is empty: give a text, or no text (None) for a comment without one", field_text)
    wordless = text is not None and tokens is not None and not tokens
    if modality == "text":
        if text is None:
            raise InputError(f"field '{field_text}' is required: this is a text model", field_text)
        if strict and image is not None:
            raise InputError(f"field '{field_image}': this text model does not read images", field_image)
        if wordless:
            raise InputError(f"field '{field_text}' {NO_WORDS}", field_text)
    elif modality == "image":
        if image is None:
            raise InputError(f"field '{field_image}' is required: this is an image model", field_image)
        if strict and text is not None:
            raise InputError(f"field '{field_text}': this image model does not read text", field_text)
    elif text is None and image is None:
        raise InputError(f"fields '{field_text}' and '{field_image}' are both missing: give a text, an image or both", field_text)
    elif wordless and image is None:
        raise InputError(f"field '{field_text}' {NO_WORDS}; this comment has no image either", field_text)


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
