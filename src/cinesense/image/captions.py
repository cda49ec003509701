"""The words written on a sticker, read by OCR, so that they go through the text branch.

Real comments carry captioned stickers (a face with "气死我了", a card that says "太好看了"): the
picture is often neutral and the caption says the sentiment. A fused model's image branch sees pixels
only; with a caption reader attached, each sticker's caption joins its comment's text before
segmentation, so the Att-BiLSTM reads it (and its attention shows which caption words counted).

    from cinesense.image.captions import attach_caption_reader
    reader = attach_caption_reader(classifier)      # a fused model; needs `pip install 'cinesense[ocr]'`
    classifier.predict([None], images=["card.png"])  # the caption is now read as the comment's text
    reader.stats()                                   # {"hits", "misses", "entries", "captioned", ...}

The OCR engine is rapidocr (PP-OCRv4 Chinese + English detection and recognition, ONNX Runtime,
Apache-2.0; its models ship in the wheel, nothing is downloaded). It is an optional dependency: a
clear error says how to install it. Reading costs about 0.2-0.6 s a sticker on a laptop core, so
captions are cached by image content (the SHA-256 of the decoded pixels: the same sticker under two
names or encodings is read once), in a bounded LRU. Lines below ``min_confidence`` are dropped;
the rest are joined top to bottom, left to right. Off by default (``make run``'s emoji stickers have
no captions); ``cinesense predict / serve / predict-file --read-captions`` turn it on.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np

from cinesense.hashing import sha256_pixels
from cinesense.image.loading import ImageError, ImageSource, as_rgb

INSTALL_HINT = "pip install 'cinesense[ocr]' (rapidocr-onnxruntime, onnxruntime, opencv-python)"
DEFAULT_MAX_ENTRIES = 4096
#: Recognised lines scoring below this are left out (rapidocr's own default threshold).
DEFAULT_MIN_CONFIDENCE = 0.5


class OCRUnavailable(RuntimeError):
    """rapidocr (the optional ``ocr`` extra) is not installed."""


def _engine(threads: int) -> Any:
    try:
        from rapidocr_onnxruntime import RapidOCR
    except ImportError as error:
        raise OCRUnavailable(f"reading sticker captions needs the OCR engine: {INSTALL_HINT} ({error})") from None
    options = {"intra_op_num_threads": threads} if threads > 0 else {}
    return RapidOCR(**options)


def caption_of(lines: Sequence[Any] | None, min_confidence: float = DEFAULT_MIN_CONFIDENCE) -> str:
    """One caption from rapidocr's lines ``[box, text, score]`` (box: four corner points): lines at
    or above ``min_confidence``, in reading order, joined by a space; "" when nothing is read.
    Reading order: rows top to bottom (a line starting above the middle of a row's first line is in
    that row), each row left to right."""
    kept = []
    for box, text, score in lines or ():
        text = str(text).strip()
        if text and float(score) >= min_confidence:
            corners = np.asarray(box, dtype=np.float64).reshape(-1, 2)
            kept.append((float(corners[:, 1].min()), float(corners[:, 1].max()), float(corners[:, 0].min()), text))
    rows: list[list[tuple[float, float, float, str]]] = []
    for line in sorted(kept):
        if rows and line[0] < (rows[-1][0][0] + rows[-1][0][1]) / 2:
            rows[-1].append(line)
        else:
            rows.append([line])
    return " ".join(text for row in rows for _, _, _, text in sorted(row, key=lambda line: line[2]))


def join_caption(text: str | None, captions: Sequence[str]) -> str | None:
    """A comment's text with its stickers' captions after it, joined by "，" (punctuation: the
    tokenizer cuts each part on its own); unchanged when there is no caption."""
    parts = [part for part in (text, *captions) if part and part.strip()]
    if not parts:
        return text
    return "，".join(parts)


class CaptionReader:
    """OCR of sticker captions with a bounded content-addressed cache; thread-safe (OCR runs outside
    the lock, one engine call at a time).

    Args:
        min_confidence: lines read with a lower score are left out.
        max_entries: captions kept in memory (least recently used evicted first).
        threads: ONNX Runtime threads of the engine (0 = its default: every core).
    """

    def __init__(self, min_confidence: float = DEFAULT_MIN_CONFIDENCE, max_entries: int = DEFAULT_MAX_ENTRIES, threads: int = 0) -> None:
        if not 0.0 <= min_confidence <= 1.0:
            raise ValueError(f"min_confidence must be in [0, 1], got {min_confidence}")
        if max_entries < 0:
            raise ValueError(f"max_entries must be >= 0, got {max_entries}")
        self.min_confidence, self.max_entries = min_confidence, max_entries
        self._engine = _engine(threads)
        self._entries: OrderedDict[str, str] = OrderedDict()
        self._lock, self._run = threading.Lock(), threading.Lock()
        self._counts = {"hits": 0, "misses": 0, "captioned": 0, "unreadable": 0}

    def read(self, image: ImageSource) -> str:
        """The caption of one sticker ("" when it has none). An image that cannot be decoded reads as
        "" here (counted as ``unreadable``): the model's own image loading reports it, naming it."""
        try:
            rgb = as_rgb(image)
        except ImageError:
            with self._lock:
                self._counts["unreadable"] += 1
            return ""
        key = sha256_pixels(rgb)
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                self._counts["hits"] += 1
                return self._entries[key]
        with self._run:
            lines, _ = self._engine(rgb)
        caption = caption_of(lines, self.min_confidence)
        with self._lock:
            self._counts["misses"] += 1
            self._counts["captioned"] += bool(caption)
            if self.max_entries:
                self._entries[key] = caption
                while len(self._entries) > self.max_entries:
                    self._entries.popitem(last=False)
        return caption

    def caption_text(self, text: str | None, images: Sequence[ImageSource]) -> str | None:
        """``text`` with the captions of ``images`` joined after it."""
        return join_caption(text, [self.read(image) for image in images])

    def stats(self) -> dict[str, int | float]:
        with self._lock:
            return {**self._counts, "entries": len(self._entries), "max_entries": self.max_entries, "min_confidence": self.min_confidence}


def attach_caption_reader(classifier: Any, reader: CaptionReader | None = None) -> CaptionReader:
    """Make ``classifier`` (a fused model: it reads text and images) read each sticker's caption as
    part of its comment's text in ``predict / predict_proba / explain``; returns the reader.
    ``detach_caption_reader`` turns it off again."""
    adapter = getattr(classifier, "adapter", None)
    if adapter is None:
        raise RuntimeError("this Classifier is not fitted: call fit() or Classifier.load()")
    if not (adapter.reads_text and adapter.reads_image):
        raise ValueError(f"sticker captions need a model that reads text and images (a fused model), not a {classifier.modality_} model")
    classifier.caption_reader_ = reader if reader is not None else CaptionReader()
    return classifier.caption_reader_


def detach_caption_reader(classifier: Any) -> None:
    classifier.__dict__.pop("caption_reader_", None)
