"""The public object: ``Classifier`` with ``fit / predict / predict_proba / explain / save / load``.

    >>> from cinesense import Classifier
    >>> clf = Classifier.load("runs/default/text_model")
    >>> clf.predict(["这部电影太好看了"])

The config's ``modality`` picks the kind of model, and with it the adapter (``ADAPTERS``, see
:mod:`cinesense.adapter`) that does everything that differs by kind: "text" (Word2Vec + Att-BiLSTM),
"image" (ImageNet VGG16 + spatial attention, trained on cached conv features), "fused" (both
branches and a fusion, see :mod:`cinesense.fusion`; a comment may have text, images, or both) or
"encoder" (a pretrained sentence encoder, frozen, alone or beside the Att-BiLSTM, see
:mod:`cinesense.text.encoder_branch`) or "distilled" (an Att-BiLSTM taught by an encoder model, see
:mod:`cinesense.text.distilled_branch`).
"""

from __future__ import annotations

import copy
import platform
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from gensim.models import KeyedVectors

from cinesense import __version__, bundle, default_model, distributed
from cinesense.adapter import Adapter, ImageInput, InputError, image_list
from cinesense.config import MODALITIES as CONFIG_MODALITIES
from cinesense.config import ConfigError, ExperimentConfig, from_dict
from cinesense.data.schema import Record
from cinesense.explain.explanation import Explanation
from cinesense.fusion.branch import FusedBranch
from cinesense.image.branch import ImageBranch
from cinesense.progress import say
from cinesense.text.branch import TextBranch
from cinesense.text.distilled_branch import DistilledBranch
from cinesense.text.encoder_branch import EncoderBranch
from cinesense.train import History, predict_logits

ADAPTERS: dict[str, type[Adapter]] = {  # the one switch on the kind
    "text": TextBranch, "image": ImageBranch, "fused": FusedBranch, "encoder": EncoderBranch, "distilled": DistilledBranch,
}
MODALITIES = tuple(ADAPTERS)
assert MODALITIES == CONFIG_MODALITIES, "config.MODALITIES must list the kinds of ADAPTERS"
__all__ = ["ADAPTERS", "MODALITIES", "Classifier", "Explanation", "InputError", "adapter_for", "fit_branch"]
adapter_for = ADAPTERS.__getitem__  # the adapter class of a kind of model (a classifier's ``modality_``)


class Classifier:
    """Sentiment classifier of comments. ``__init__`` only stores the config; ``fit`` (or ``load``)
    sets ``classes_``, ``modality_``, ``model_``, ``history_``, the kind's ``adapter`` and through it
    the branch state ``text_`` (tokenizer, vocabulary, Word2Vec vectors) and/or ``image_``
    (preprocessing). A fused model's ``fit`` keeps the branch classifiers in ``branches_``."""

    def __init__(self, config: ExperimentConfig | None = None) -> None:
        self.config = config if config is not None else ExperimentConfig()

    text_ = property(lambda self: self._branch("text"), doc="the text branch state (TextBranch)")
    image_ = property(lambda self: self._branch("image"), doc="the image branch state (ImageBranch)")

    def _branch(self, kind: str) -> Any:
        found = self.__dict__["adapter"].branch(kind) if "adapter" in self.__dict__ else None
        if found is None:
            raise AttributeError(f"{kind}_")
        return found

    # ------------------------------------------------------------------ training
    def fit(
        self,
        train: Sequence[Record],
        dev: Sequence[Record] | None = None,
        *,
        extra_texts: Sequence[str] = (),
        word_vectors: KeyedVectors | None = None,
        branches: dict[str, "Classifier"] | None = None,
        progress: bool = True,
    ) -> "Classifier":
        """Train on ``train``, selecting the best epoch on ``dev``.

        Text: Word2Vec on train (+ ``extra_texts``) text, then the Att-BiLSTM. Image: conv features
        of every image computed once (cached), then the attention head. Records whose image cannot
        be read are left out and listed in ``skipped_`` (path, reason). Fused: the text branch is
        trained on every record's text and the image branch on every image (with its comment's
        label) unless trained ``branches`` are given, then the fusion (``config.fusion``); an
        unreadable image is dropped from its comment and listed in ``skipped_``.
        """
        cfg = self.config
        if cfg.modality not in ADAPTERS:
            raise ConfigError(f"modality must be one of {', '.join(MODALITIES)}, got {cfg.modality!r}")
        kind, self.modality_ = ADAPTERS[cfg.modality], cfg.modality
        self.classes_ = sorted(set(cfg.data.labels))
        for split, records in (("train", train), ("dev", dev or [])):
            _check_labels(records, self.classes_, split)
        self.skipped_: list[tuple[str, str]] = []
        branches = dict(branches or {})
        if kind.branches_for(cfg):
            dev = list(dev or [])
            for name in kind.branches_for(cfg):
                if name not in branches:
                    say(progress, f"{cfg.modality} model: training the {name} branch")
                    branches[name] = fit_branch(cfg, name, train, dev, extra_texts=extra_texts, word_vectors=word_vectors, progress=progress)
            for name, branch in branches.items():
                if branch.classes_ != self.classes_ or branch.modality_ != name:
                    raise ValueError(f"the {name} branch must be a {name} model over classes {self.classes_}")
            self.branches_ = branches
        self.adapter, self.model_ = kind.create(
            cfg, len(self.classes_), train, extra_texts=extra_texts, word_vectors=word_vectors, branches=branches, progress=progress
        )
        with distributed.rank_zero_first():  # under torchrun: features are computed (and cached) once, by rank 0
            train_data = self._encode_labelled(train, "train", progress)
            dev_data = self._encode_labelled(dev, "dev", progress) if dev else None
        self.history_: History = self.adapter.train(self.model_, cfg, self.classes_, train_data, dev_data, progress)
        self.model_.eval()
        return self

    def _encode_labelled(self, records: Sequence[Record], split: str, progress: bool) -> tuple[list, list[int]]:
        index = {c: i for i, c in enumerate(self.classes_)}
        examples, kept, failures = self.adapter.encode_records(self.model_, records, split, progress)
        self.skipped_.extend((f"{split}: {path}", reason) for path, reason in failures)
        return examples, [index[records[i].label] for i in kept]

    # ---------------------------------------------------------------- inference
    @torch.inference_mode()
    def predict_proba(
        self, texts: Sequence[str | None] | None = None, images: Sequence[ImageInput] | None = None, batch_size: int = 64
    ) -> np.ndarray:
        """Class probabilities (n, C); columns follow ``classes_``; rows sum to 1.

        A text model needs ``texts``, an image model ``images`` (paths, bytes or PIL images), a fused
        model either or both; given both, they are aligned (one entry per comment; a text may be
        None, an image entry None, one image or a list). Every comment is checked by the adapter's
        :meth:`~cinesense.adapter.Adapter.check` (strict; the rule of :mod:`cinesense.adapter`);
        errors are ``InputError`` naming the argument and position, e.g. ``texts[2]``.
        """
        self._check_fitted()
        if isinstance(texts, str):
            raise TypeError("pass a list of texts, not a single string")
        self.adapter.require_arguments(texts, images)
        texts, images, tokens = self._checked(texts, images, lambda i: (f"texts[{i}]", f"images[{i}]"))
        return self._proba(self.adapter.inputs(self._cpu_model(), tokens, images, batch_size), batch_size)

    def _checked(
        self, texts: Sequence[str | None] | None, images: Sequence[ImageInput] | None, fields: Any
    ) -> tuple[list[str | None], list[ImageInput], list[list[str] | None]]:
        """Aligned texts and image entries, each comment checked by the adapter (strict; field names
        from ``fields(i)``), and the words of each text (None: no text, or one without words, which
        a fused model reads as no text). Each text is tokenised here, once."""
        if texts is None and images is None:
            raise InputError("pass texts, images or both", "texts")
        n = len(texts) if texts is not None else len(images)  # type: ignore[arg-type]
        texts = list(texts) if texts is not None else [None] * n
        images = list(images) if images is not None else [None] * n
        if len(images) != n:
            raise InputError(f"texts and images must be aligned: {n} texts, {len(images)} image entries", "images")
        tokens: list[list[str] | None] = []
        for i, (text, image) in enumerate(zip(texts, images)):
            words = self.adapter.words(text)
            self.adapter.check(text, self.adapter.given_image(image), strict=True, tokens=words, fields=fields(i))
            tokens.append(words or None)
        reader = self.__dict__.get("caption_reader_")  # image/captions.py: stickers' captions join their comment's text
        if reader is not None:
            for i, (text, image) in enumerate(zip(texts, images)):
                read = reader.caption_text(text, image_list(image))
                if read != text:
                    texts[i], tokens[i] = read, self.adapter.words(read) or None
        return texts, images, tokens

    def predict_records(
        self, records: Sequence[Record], *, unreadable: bool = False
    ) -> tuple[np.ndarray, list[int]] | tuple[np.ndarray, list[int], list[tuple[int, Path, str]]]:
        """Probabilities for labelled-data records (images through the feature cache), and the
        positions of the records they belong to. An image that cannot be read is dropped: an image
        model leaves its record out; a fused model scores the record on what remains (its text, its
        other images) and leaves it out only when nothing remains.

        With ``unreadable=True``, also returns every image that could not be read, once per record
        that has it: ``(position in records, path, reason)``, in record order.
        """
        self._check_fitted()
        examples, kept, failures = self.adapter.encode_records(self._cpu_model(), records, "data")
        proba = self._proba(examples, 64)
        if not unreadable:
            return proba, kept
        failed = {Path(path): reason for path, reason in failures}
        read = [(i, image_list(self.adapter.record_inputs(r.text, r.images)[1])) for i, r in enumerate(records)]
        found = [(i, path, failed[Path(path)]) for i, paths in read for path in paths if Path(path) in failed]
        return proba, kept, found

    def _proba(self, examples: list, batch_size: int) -> np.ndarray:
        proba = np.empty((len(examples), len(self.classes_)), dtype=np.float64)
        if not examples:
            return proba
        order = np.arange(len(examples))
        lengths = [self.adapter.length(x) for x in examples]
        if lengths[0] is not None:  # batch similar lengths together
            order = np.argsort(lengths, kind="stable")
        logits = predict_logits(self.model_, [examples[i] for i in order], self.adapter.collate, batch_size)
        proba[order] = torch.softmax(logits.double(), dim=-1).numpy()
        return proba

    def predict(self, texts: Sequence[str | None] | None = None, images: Sequence[ImageInput] | None = None) -> list[str]:
        """Predicted label of each comment."""
        proba = self.predict_proba(texts, images)
        return [self.classes_[i] for i in proba.argmax(axis=1)]

    @torch.inference_mode()
    def explain(self, text: str | None = None, image: ImageInput = None) -> Explanation:
        """Prediction with the attention weight of every token and/or each image's attention map.

        A fused model takes one image or a list of images (several stickers on one comment) and
        gives one attention map per image in ``image_attentions``; an image model takes one image.
        The inputs are checked as by ``predict_proba`` (fields ``text`` and ``image``); a fused
        model reads a text without words as no text, and its explanation then has no tokens. With a
        caption reader attached (:mod:`cinesense.image.captions`), ``read_text`` is the text the
        model read: the comment's text with its stickers' captions.
        """
        self._check_fitted()
        self.model_.eval()
        self.adapter.check_explained(image)
        (read,), _, (tokens,) = self._checked([text], [image], lambda i: ("text", "image"))
        logits, extra = self.adapter.explain(self._cpu_model(), tokens, image)
        proba = torch.softmax(logits.double(), dim=-1)[0].numpy()
        if read != text:
            extra["read_text"] = read
        return Explanation(self.classes_[int(proba.argmax())], {c: float(p) for c, p in zip(self.classes_, proba)}, **extra)

    # --------------------------------------------------------------- persistence
    def save(self, directory: str | Path, *, metrics: dict[str, Any] | None = None, provenance: dict[str, Any] | None = None) -> Path:
        """Write the model bundle (manifest, branch files, safetensors weights) to ``directory``."""
        self._check_fitted()
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        sections, model_section = self.adapter.save(directory, self.model_)
        manifest = {
            "cinesense_version": __version__,
            "modality": self.modality_,
            "classes": self.classes_,
            **sections,
            "model": model_section,
            "config": self.config.to_dict(),
            "metrics": metrics or {},
            "provenance": {"python": platform.python_version(), "torch": torch.__version__, **(provenance or {})},
        }
        return bundle.write_bundle(directory, manifest, self._cpu_model().state_dict())

    def to(self, device: str | torch.device = "cpu") -> "Classifier":
        """Predict on ``device`` ("auto": a GPU when there is one, "cpu", "cuda", "cuda:N"); batches
        (``predict_proba``, ``predict-file``, the service) run there; preprocessing (tokens, image
        features) and ``explain`` run on a CPU copy of the model."""
        self._check_fitted()
        self.device_ = device if isinstance(device, torch.device) else distributed.resolve_device(str(device))
        self.model_.to(self.device_)
        self.__dict__.pop("_cpu_copy", None)
        return self

    def _cpu_model(self) -> torch.nn.Module:
        if getattr(self, "device_", torch.device("cpu")).type == "cpu":
            return self.model_
        if "_cpu_copy" not in self.__dict__:
            self._cpu_copy = copy.deepcopy(self.model_).to("cpu").eval()
        return self._cpu_copy

    @classmethod
    def load(cls, directory: str | Path, device: str = "cpu") -> "Classifier":
        """Load a bundle written by ``save``, validating everything; nothing is unpickled.
        ``"default"`` (when no such model folder is here) is the default model, the one ``make run``
        built (:mod:`cinesense.default_model`). ``device``: see :meth:`to`."""
        if str(directory) == default_model.NAME and not (Path(directory) / bundle.MANIFEST).is_file():
            directory = default_model.resolve()
        directory = Path(directory)
        manifest = bundle.read_manifest(directory)
        source = str(directory / bundle.MANIFEST)
        modality = manifest.get("modality", "text")
        if not isinstance(modality, str) or modality not in ADAPTERS:
            raise bundle.BundleError(f"{source}: unknown modality {modality!r}")
        kind = ADAPTERS[modality]
        missing = [key for key in kind.manifest_fields if key not in manifest]
        if missing:
            raise bundle.BundleError(f"{source}: manifest of a {modality} model lacks field(s) {', '.join(missing)}")
        clf = cls(_manifest_config(manifest, source))
        clf.modality_, clf.manifest_ = modality, manifest
        try:
            adapter, model = kind.load(directory, manifest)
        except (KeyError, TypeError, ValueError, OSError, RuntimeError) as error:  # RuntimeError: torch refusing a negative or impossible size
            if isinstance(error, bundle.BundleError):
                raise
            raise bundle.BundleError(f"{source}: invalid model or preprocessing settings ({error})") from None
        classes, num_classes = manifest["classes"], model.config.num_classes
        if not isinstance(classes, list) or len(classes) != num_classes:
            raise bundle.BundleError(f"{source}: 'classes' must list {num_classes} labels")
        bundle.load_state_checked(model, bundle.read_weights(directory, manifest), str(directory / bundle.WEIGHTS))
        model.eval()
        clf.classes_, clf.model_, clf.adapter = list(classes), model, adapter
        return clf.to(device) if str(device) != "cpu" else clf

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise RuntimeError("this Classifier is not fitted: call fit() or Classifier.load()")


def _manifest_config(manifest: dict[str, Any], source: str) -> ExperimentConfig:
    if not isinstance(manifest.get("config"), dict):
        return ExperimentConfig()
    try:
        return from_dict(ExperimentConfig, manifest["config"])
    except ConfigError as error:
        raise bundle.BundleError(f"{source}: invalid 'config' section ({error})") from None


def fit_branch(
    config: ExperimentConfig,
    modality: str,
    train: Sequence[Record],
    dev: Sequence[Record],
    *,
    extra_texts: Sequence[str] = (),
    word_vectors: KeyedVectors | None = None,
    progress: bool = True,
) -> Classifier:
    """One branch of a fused model trained alone on what its adapter reads of the comments (text:
    each comment's text; image: each image, with its comment's label)."""
    kind, words = ADAPTERS[modality], {"extra_texts": extra_texts, "word_vectors": word_vectors}
    return Classifier(config.branch_config(modality)).fit(
        kind.branch_records(train), kind.branch_records(dev) or None, progress=progress, **(words if kind.reads_text else {})
    )


def _check_labels(records: Sequence[Record], classes: list[str], split: str) -> None:
    unknown = sorted({str(r.label) for r in records if r.label not in classes})
    if unknown:
        raise ValueError(f"{split}: labels {unknown} are not in the configured labels {classes}")
