"""What every kind of model has in common: one adapter per kind (``Adapter``), and the input rule.

The kinds of model are in :data:`cinesense.classifier.ADAPTERS`: "text" (:class:`~cinesense.text.branch.TextBranch`),
"image" (:class:`~cinesense.image.branch.ImageBranch`), "fused" (:class:`~cinesense.fusion.branch.FusedBranch`)
"encoder" (:class:`~cinesense.text.encoder_branch.EncoderBranch`) and "distilled"
(:class:`~cinesense.text.distilled_branch.DistilledBranch`).
An adapter owns everything that differs by kind: building and training its model, encoding
labelled records, model inputs of requests, the input check below, collate, the extras of an
explanation and its sections of the model bundle. ``Classifier`` holds one and delegates to it; the
CLI, the service, predict-file, the explain page and ``data import`` ask it (or the classifier).

Which inputs a model reads: a "text" model reads text, an "image" model an image, a "fused" model
(and any later kind reading both) text and/or an image. Errors are ``InputError`` (a ``ValueError``)
whose message names the field.

The rule for text, the same at every entry point (``Classifier.predict / predict_proba / explain``
apply it through :meth:`Adapter.check`, so the CLI, the service, predict-file and the explain page do
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
from pathlib import Path
from typing import Any, ClassVar, Union

from PIL import Image

ImageSource = Union[str, Path, bytes, Image.Image]
ImageInput = Union[ImageSource, Sequence[ImageSource], None]  # one comment's image(s), or None

NO_WORDS = (
    "has no word the model reads (only emoji, symbols, punctuation, control characters or links): "
    "emoji and symbols inside text are not read yet; attach them as images"
)


class InputError(ValueError):
    """A comment's inputs do not suit the model; ``field`` names the offending field."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


def image_list(entry: ImageInput) -> list[ImageSource]:
    """One comment's image entry (None, one image, or several) as a list."""
    if entry is None:
        return []
    if isinstance(entry, (list, tuple)):
        return [image for image in entry if image is not None]
    return [entry]


class Adapter:
    """One kind of model. Class-level facts and checks need no trained state (the service and
    predict-file ask them of any classifier by its ``modality_``); the rest is an instance holding
    the kind's preprocessing state (tokenizer, vocabulary, image preprocessing...).

    A subclass sets ``kind``, ``reads_text`` / ``reads_image``, ``manifest_fields`` and
    ``collate``, and implements ``build``, ``train``, ``encode``, ``inputs``, ``explain``, ``save``
    and ``load`` (see :class:`cinesense.text.branch.TextBranch` for the simplest).
    """

    kind: ClassVar[str]
    reads_text: ClassVar[bool] = False
    reads_image: ClassVar[bool] = False
    images_per_comment: ClassVar[int | None] = None  # None: any number (a model that reads images)
    manifest_fields: ClassVar[tuple[str, ...]] = ()  # the bundle's manifest must have these
    branch_kinds: ClassVar[tuple[str, ...]] = ()  # kinds trained alone first and built upon (fused, distilled)
    collate: Any

    # ---------------------------------------------------------------- the input rule
    @classmethod
    def check(
        cls,
        text: Any,
        image: Any,
        *,
        where: str = "",
        strict: bool = True,
        tokens: Sequence[str] | None = None,
        fields: tuple[str, str] | None = None,
    ) -> None:
        """Raise ``InputError`` naming the field if a comment's inputs do not suit the model (the
        rule is in the module docstring).

        Args:
            text, image: the comment's inputs (None when absent).
            where: prefix of the field names in messages, e.g. ``"items[3]."``.
            strict: also refuse an input the model does not read (explicit requests); data files,
                whose records often carry both, pass False and the unused input is ignored.
            tokens: the words the model reads in ``text``, when known (the Classifier passes them);
                an empty list is a text without words. None: not checked here (the Classifier checks).
            fields: the two field names (text, image) in full, instead of ``where`` + "text" / "image".
        """
        field_text, field_image = fields or (f"{where}text", f"{where}image")
        if text is not None and not isinstance(text, str):
            raise InputError(f"field '{field_text}' must be a string or None, got {type(text).__name__}", field_text)
        if isinstance(text, str) and not text.strip():
            raise InputError(f"field '{field_text}' is empty: give a text, or no text (None) for a comment without one", field_text)
        wordless = text is not None and tokens is not None and not tokens
        if cls.reads_text and cls.reads_image:
            if text is None and image is None:
                raise InputError(f"fields '{field_text}' and '{field_image}' are both missing: give a text, an image or both", field_text)
            if wordless and image is None:
                raise InputError(f"field '{field_text}' {NO_WORDS}; this comment has no image either", field_text)
            return
        read, field, other, other_field = (text, field_text, image, field_image) if cls.reads_text else (image, field_image, text, field_text)
        other_noun = "images" if cls.reads_text else "text"
        if read is None:
            raise InputError(f"field '{field}' is required: this is {_article(cls.kind)} {cls.kind} model", field)
        if strict and other is not None:
            raise InputError(f"field '{other_field}': this {cls.kind} model does not read {other_noun}", other_field)
        if wordless:
            raise InputError(f"field '{field_text}' {NO_WORDS}", field_text)

    @classmethod
    def require_arguments(cls, texts: Any, images: Any) -> None:
        """``predict_proba``'s check that the argument the model reads is given at all."""
        if cls.reads_text and not cls.reads_image and texts is None:
            raise InputError(f"argument 'texts' is required: this is {_article(cls.kind)} {cls.kind} model", "texts")
        if cls.reads_image and not cls.reads_text and images is None:
            raise InputError(f"argument 'images' is required: this is {_article(cls.kind)} {cls.kind} model", "images")

    @classmethod
    def record_inputs(cls, text: str | None, images: Sequence[Any]) -> tuple[str | None, Any]:
        """What the model reads of a data record (its text, its images): ``(text, image)`` with None
        for what it does not read; the image is None, one image, or (for a model that reads several
        images per comment) the list when there are several."""
        image = None
        if cls.reads_image and images:
            several = len(images) > 1 and cls.images_per_comment != 1
            image = list(images) if several else images[0]
        return (text if cls.reads_text else None), image

    @classmethod
    def given_image(cls, image: ImageInput) -> ImageInput:
        """A request's image entry as the check sees it: an empty list is no image, except for a
        model that reads images only (which then names the missing image)."""
        return image if (cls.reads_image and not cls.reads_text) or image_list(image) else None

    @classmethod
    def check_explained(cls, image: Any) -> None:
        """``explain``'s check of its ``image`` argument beyond :meth:`check` (none by default)."""

    @classmethod
    def branches_for(cls, config: Any) -> tuple[str, ...]:
        """The kinds of the branches this kind trains first under ``config`` (``branch_kinds``)."""
        return cls.branch_kinds

    @staticmethod
    def branch_records(records: Sequence[Any]) -> list[Any]:
        """What this kind trains on as a branch of a model built upon it (``branch_kinds``)."""
        return list(records)

    # ---------------------------------------------------------------- per-instance helpers
    def words(self, text: Any) -> list[str] | None:
        """The words the model reads in a request's text (None: no text, or a model without text)."""
        return None

    def branch(self, kind: str) -> Any:
        """The branch state of ``kind`` ("text": tokenizer and vocabulary, "image": preprocessing) this
        adapter holds, or None."""
        return self if kind == self.kind else None

    def length(self, example: Any) -> int | None:
        """Sort key batching examples of similar length together (None: no sorting)."""
        return None


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"
