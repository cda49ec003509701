"""The public object: ``Classifier`` with ``fit / predict / predict_proba / explain / save / load``.

    >>> from cinesense import Classifier
    >>> clf = Classifier.load("runs/default/text_model")
    >>> clf.predict(["这部电影太好看了"])

The config's ``modality`` picks the model: "text" (Word2Vec + Att-BiLSTM), "image" (ImageNet
VGG16 + spatial attention, trained on cached conv features) or "fused" (both branches and a fusion,
see :mod:`cinesense.fusion`; a comment may have text, images, or both).
"""

from __future__ import annotations

import platform
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import numpy as np
import torch
from gensim.models import KeyedVectors

from cinesense import __version__, bundle
from cinesense.config import ConfigError, ExperimentConfig, from_dict
from cinesense.data.schema import Record, one_record_per_image
from cinesense.fusion.model import FusedModel, FusionModelConfig, collate_comments
from cinesense.fusion.training import fit_fused, new_fused_model
from cinesense.image.branch import ImageBranch, ImageSource
from cinesense.image.model import AttVGG16, AttVGG16Config
from cinesense.model_inputs import InputError, check_inputs
from cinesense.text.branch import TextBranch
from cinesense.text.model import AttBiLSTM, AttBiLSTMConfig
from cinesense.progress import say
from cinesense.train import History, fit, predict_logits

MODALITIES = ("text", "image", "fused")
ImageInput = Union[ImageSource, Sequence[ImageSource], None]  # one comment's image(s), or None


@dataclass
class Explanation:
    """Why the model decided: the tokens it read and the attention weight of each, and/or the
    attention map over each image's spatial grid (rows x columns, summing to 1).

    ``image_attentions`` holds one grid per image, in the order the images were given;
    ``image_attention`` is the first of them (None without an image), kept for compatibility.
    """

    label: str
    probabilities: dict[str, float]
    tokens: list[str] = field(default_factory=list)
    weights: list[float] = field(default_factory=list)
    image_attention: list[list[float]] | None = None
    image_attentions: list[list[list[float]]] = field(default_factory=list)

    def top_tokens(self, k: int = 5) -> list[tuple[str, float]]:
        order = np.argsort(self.weights)[::-1][:k]
        return [(self.tokens[i], float(self.weights[i])) for i in order]


class Classifier:
    """Sentiment classifier of comments.

    ``__init__`` only stores the config; ``fit`` (or ``load``) sets ``classes_``, ``modality_``,
    ``model_``, ``history_`` and the branch state ``text_`` (tokenizer, vocabulary, Word2Vec
    vectors) and/or ``image_`` (preprocessing). A fused model's ``fit`` also keeps the single-branch
    classifiers it was built from in ``branches_`` ({"text": ..., "image": ...}).
    """

    def __init__(self, config: ExperimentConfig | None = None) -> None:
        self.config = config if config is not None else ExperimentConfig()

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
        if cfg.modality not in MODALITIES:
            raise ConfigError(f"modality must be one of {', '.join(MODALITIES)}, got {cfg.modality!r}")
        self.modality_ = cfg.modality
        self.classes_ = sorted(set(cfg.data.labels))
        for split, records in (("train", train), ("dev", dev or [])):
            _check_labels(records, self.classes_, split)
        self.skipped_: list[tuple[str, str]] = []
        if self.modality_ == "fused":
            return self._fit_fused(train, dev, extra_texts, word_vectors, dict(branches or {}), progress)
        if self.modality_ == "text":
            self.text_ = TextBranch.build(
                _texts(train, "train"), cfg.text, cfg.word2vec, extra_texts=extra_texts, vectors=word_vectors, seed=cfg.seed
            )
            self.model_: torch.nn.Module = self.text_.new_model(cfg.text_model, len(self.classes_), cfg.seed)
        else:
            self.image_ = ImageBranch.from_config(cfg.image_model)
            self.model_ = self.image_.new_model(cfg.image_model, len(self.classes_), cfg.seed)
        train_data = self._encode_labelled(train, "train", progress)
        dev_data = self._encode_labelled(dev, "dev", progress) if dev else None
        self.history_: History = fit(
            self.model_, train_data, dev_data, self._collate, self.classes_, cfg.train, cfg.seed, progress,
            lengths=[len(x) for x in train_data[0]] if self.modality_ == "text" else None,
        )
        self.model_.eval()
        return self

    def _fit_fused(
        self,
        train: Sequence[Record],
        dev: Sequence[Record] | None,
        extra_texts: Sequence[str],
        word_vectors: KeyedVectors | None,
        branches: dict[str, "Classifier"],
        progress: bool,
    ) -> "Classifier":
        cfg, dev = self.config, list(dev or [])
        if "text" not in branches:
            say(progress, "fused model: training the text branch")
            branches["text"] = fit_branch(cfg, "text", train, dev, extra_texts=extra_texts, word_vectors=word_vectors, progress=progress)
        if "image" not in branches:
            say(progress, "fused model: training the image branch")
            branches["image"] = fit_branch(cfg, "image", train, dev, progress=progress)
        for name, branch in branches.items():
            if branch.classes_ != self.classes_ or branch.modality_ != name:
                raise ValueError(f"the {name} branch must be a {name} model over classes {self.classes_}")
        self.branches_ = branches
        self.text_, self.image_ = branches["text"].text_, branches["image"].image_
        self.model_ = new_fused_model(cfg, len(self.classes_), branches["text"], branches["image"])
        say(progress, f"fused model: {cfg.fusion.method} fusion")
        train_data = self._encode_labelled(train, "train", progress)
        dev_data = self._encode_labelled(dev, "dev", progress) if dev else None
        self.history_ = fit_fused(self.model_, cfg, self.classes_, train_data, dev_data, progress)
        self.model_.eval()
        return self

    @property
    def _collate(self):
        return {"text": TextBranch.collate, "image": ImageBranch.collate, "fused": collate_comments}[self.modality_]

    def _encode_labelled(self, records: Sequence[Record], split: str, progress: bool) -> tuple[list, list[int]]:
        index = {c: i for i, c in enumerate(self.classes_)}
        examples, kept, failures = self._encode_records(records, split, progress)
        self.skipped_.extend((f"{split}: {path}", reason) for path, reason in failures)
        return examples, [index[records[i].label] for i in kept]

    def _encode_records(
        self, records: Sequence[Record], split: str, progress: bool = False
    ) -> tuple[list, list[int], list[tuple[Path, str]]]:
        """Model inputs of the records that can be encoded, their positions in ``records``, and
        the images that could not be read (path, reason)."""
        if self.modality_ == "text":
            return self.text_.encode(_texts(records, split)), list(range(len(records))), []
        if self.modality_ == "fused":
            return self._encode_comments(records, progress)
        missing = [r.id for r in records if r.image is None]
        if missing:
            raise ValueError(f"{split}: {len(missing)} record(s) have no image (e.g. {missing[0]!r}); the image model needs one")
        outputs, failures = self.image_.cached_stem_outputs(self.model_, [r.image for r in records], progress)
        kept = [i for i, o in enumerate(outputs) if o is not None]
        return [outputs[i] for i in kept], kept, failures

    def _encode_comments(self, records: Sequence[Record], progress: bool) -> tuple[list, list[int], list[tuple[Path, str]]]:
        """Fused-model inputs (token ids, stem outputs) through the feature cache; an unreadable
        image is dropped from its comment, a comment left with neither text nor image is left out."""
        paths = [p for r in records for p in r.images]
        outputs, failures = self.image_.cached_stem_outputs(self.model_.image, paths, progress) if paths else ([], [])
        stems = iter(outputs)
        examples = []
        for r in records:
            images = [o for o in (next(stems) for _ in r.images) if o is not None]
            examples.append((self._token_ids(r.text), images))
        kept = [i for i, (ids, images) in enumerate(examples) if ids or images]
        return [examples[i] for i in kept], kept, failures

    def _token_ids(self, text: str | None) -> list[int]:
        """Token ids of a comment's text; [] when it has none (an empty text still gives <unk>)."""
        return self.text_.vocabulary.encode(self.text_.tokenizer(text)) if text else []

    # ---------------------------------------------------------------- inference
    @torch.inference_mode()
    def predict_proba(
        self, texts: Sequence[str | None] | None = None, images: Sequence[ImageInput] | None = None, batch_size: int = 64
    ) -> np.ndarray:
        """Class probabilities (n, C); columns follow ``classes_``; rows sum to 1.

        A text model needs ``texts``; an image model needs ``images`` (paths, bytes or PIL images).
        A fused model takes both, aligned (one entry per comment): a text may be None and an image
        entry None, one image or a list of images; each comment needs text or an image. Every
        comment is checked by :func:`cinesense.model_inputs.check_inputs` (strict: a text model
        refuses images, an image model texts; an empty text, or one without any word the model
        reads, follows the rule of :mod:`cinesense.model_inputs`); errors are ``InputError``
        naming the argument and position, e.g. ``texts[2]``.
        """
        self._check_fitted()
        if isinstance(texts, str):
            raise TypeError("pass a list of texts, not a single string")
        if self.modality_ == "text" and texts is None:
            raise InputError("argument 'texts' is required: this is a text model", "texts")
        if self.modality_ == "image" and images is None:
            raise InputError("argument 'images' is required: this is an image model", "images")
        texts, images, tokens = self._checked(texts, images, lambda i: (f"texts[{i}]", f"images[{i}]"))
        if self.modality_ == "fused":
            return self._proba(self._comments(tokens, images, batch_size), batch_size)
        if self.modality_ == "text":
            return self._proba([self.text_.vocabulary.encode(t) for t in tokens], batch_size)  # type: ignore[arg-type]
        outputs = [self.image_.stem_outputs(self.model_, images[i : i + batch_size]) for i in range(0, len(images), batch_size)]
        return self._proba([o for chunk in outputs for o in chunk], batch_size)

    def _checked(
        self, texts: Sequence[str | None] | None, images: Sequence[ImageInput] | None, fields: Any
    ) -> tuple[list[str | None], list[ImageInput], list[list[str] | None]]:
        """Aligned texts and image entries, each comment checked by ``check_inputs`` (strict; field
        names from ``fields(i)``), and the words of each text (None: no text, or one without words,
        which a fused model reads as no text)."""
        if texts is None and images is None:
            raise InputError("pass texts, images or both", "texts")
        n = len(texts) if texts is not None else len(images)  # type: ignore[arg-type]
        texts = list(texts) if texts is not None else [None] * n
        images = list(images) if images is not None else [None] * n
        if len(images) != n:
            raise InputError(f"texts and images must be aligned: {n} texts, {len(images)} image entries", "images")
        reads_text = self.modality_ != "image"
        tokens: list[list[str] | None] = []
        for i, (text, image) in enumerate(zip(texts, images)):
            words = self.text_.tokenizer(text) if reads_text and isinstance(text, str) and text.strip() else None
            given = image if self.modality_ == "image" or _image_list(image) else None
            check_inputs(self.modality_, text, given, strict=True, tokens=words, fields=fields(i))
            tokens.append(words or None)
        return texts, images, tokens

    def _comments(
        self, tokens: Sequence[list[str] | None], images: Sequence[ImageInput], batch_size: int
    ) -> list[tuple[list[int], list[torch.Tensor]]]:
        """Fused-model inputs of checked comments: the words of each text (None: read as no text)
        and aligned image entries (no cache: images are read each time)."""
        comments = []
        for start in range(0, len(images), batch_size):
            chunk = [_image_list(entry) for entry in images[start : start + batch_size]]
            flat = [image for entry in chunk for image in entry]
            stems = iter(self.image_.stem_outputs(self.model_.image, flat) if flat else [])
            for offset, entry in enumerate(chunk):
                words = tokens[start + offset]
                ids = self.text_.vocabulary.encode(words) if words else []
                comments.append((ids, [next(stems) for _ in entry]))
        return comments

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
        examples, kept, failures = self._encode_records(records, "data")
        proba = self._proba(examples, 64)
        if not unreadable:
            return proba, kept
        failed = {Path(path): reason for path, reason in failures}
        read = {"text": lambda r: (), "image": lambda r: r.images[:1]}.get(self.modality_, lambda r: r.images)
        found = [(i, path, failed[Path(path)]) for i, r in enumerate(records) for path in read(r) if Path(path) in failed]
        return proba, kept, found

    def _proba(self, examples: list, batch_size: int) -> np.ndarray:
        proba = np.empty((len(examples), len(self.classes_)), dtype=np.float64)
        if not examples:
            return proba
        order = np.arange(len(examples))
        if self.modality_ != "image":  # batch similar lengths together
            order = np.argsort([len(x if self.modality_ == "text" else x[0]) for x in examples], kind="stable")
        logits = predict_logits(self.model_, [examples[i] for i in order], self._collate, batch_size)
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
        model reads a text without words as no text, and its explanation then has no tokens.
        """
        self._check_fitted()
        self.model_.eval()
        if self.modality_ == "image" and isinstance(image, (list, tuple)):
            raise InputError("argument 'image': an image model explains one image at a time, not a list", "image")
        _, _, (tokens,) = self._checked([text], [image], lambda i: ("text", "image"))
        if self.modality_ == "fused":
            return self._explain_fused(tokens, image)
        if self.modality_ == "text":
            assert tokens  # check_inputs refused a text without words
            features, weights = self.model_.forward_features(**TextBranch.collate([self.text_.vocabulary.encode(tokens)]))
            extra: dict[str, Any] = {"tokens": tokens, "weights": weights[0, : len(tokens)].tolist()}
        else:
            features, attention = self.model_.forward_features(self.image_.stem_outputs(self.model_, [image]))
            extra = {"image_attention": attention[0].tolist(), "image_attentions": [attention[0].tolist()]}
        return self._explanation(self.model_.forward_head(features), extra)

    def _explain_fused(self, tokens: list[str] | None, image: ImageInput) -> Explanation:
        (comment,) = self._comments([tokens], [image], 1)
        encoded = self.model_.encode(**collate_comments([comment]))
        extra: dict[str, Any] = {}
        if tokens:
            extra.update(tokens=tokens, weights=encoded["token_weights"][0, : len(tokens)].tolist())
        if comment[1]:  # one (h, w) map per image, in the order given
            grids = [grid.tolist() for grid in encoded["image_attention"]]
            extra.update(image_attention=grids[0], image_attentions=grids)
        return self._explanation(self.model_.fuse(encoded), extra)

    def _explanation(self, logits: torch.Tensor, extra: dict[str, Any]) -> Explanation:
        proba = torch.softmax(logits.double(), dim=-1)[0].numpy()
        return Explanation(
            label=self.classes_[int(proba.argmax())],
            probabilities={c: float(p) for c, p in zip(self.classes_, proba)},
            **extra,
        )

    # --------------------------------------------------------------- persistence
    def save(self, directory: str | Path, *, metrics: dict[str, Any] | None = None, provenance: dict[str, Any] | None = None) -> Path:
        """Write the model bundle (manifest, branch files, safetensors weights) to ``directory``."""
        self._check_fitted()
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        branch: dict[str, Any] = {}
        if self.modality_ in ("text", "fused"):
            branch.update(self.text_.save(directory))
        if self.modality_ in ("image", "fused"):
            branch.update(self.image_.save())
        if self.modality_ == "fused":
            model_section = {
                "fusion": self.model_.config.to_dict(),
                "text": self.model_.text.config.to_dict(),
                "image": self.model_.image.config.to_dict(),
            }
            if self.model_.config.method == "late":
                w_text, w_image = self.model_.late.modality_weights().tolist()
                branch["fusion_weights"] = {"text": w_text, "image": w_image}
        else:
            model_section = self.model_.config.to_dict()
        manifest = {
            "cinesense_version": __version__,
            "modality": self.modality_,
            "classes": self.classes_,
            **branch,
            "model": model_section,
            "config": self.config.to_dict(),
            "metrics": metrics or {},
            "provenance": {"python": platform.python_version(), "torch": torch.__version__, **(provenance or {})},
        }
        return bundle.write_bundle(directory, manifest, self.model_.state_dict())

    @classmethod
    def load(cls, directory: str | Path) -> "Classifier":
        """Load a bundle written by ``save``, validating everything; nothing is unpickled."""
        directory = Path(directory)
        manifest = bundle.read_manifest(directory)
        source = str(directory / bundle.MANIFEST)
        modality = manifest.get("modality", "text")
        if modality not in MODALITIES:
            raise bundle.BundleError(f"{source}: unknown modality {modality!r}")
        needed = {
            "text": ("tokenizer", "vocabulary"),
            "image": ("preprocessing",),
            "fused": ("tokenizer", "vocabulary", "preprocessing"),
        }[modality]
        missing = [key for key in needed if key not in manifest]
        if missing:
            raise bundle.BundleError(f"{source}: manifest of a {modality} model lacks field(s) {', '.join(missing)}")
        clf = cls(_manifest_config(manifest, source))
        clf.modality_, clf.manifest_ = modality, manifest
        try:
            sections = manifest["model"] if modality == "fused" else {modality: manifest["model"]}
            if modality in ("text", "fused"):
                text_config = AttBiLSTMConfig(**sections["text"])
                clf.text_ = TextBranch.load(directory, manifest)
                if len(clf.text_.vocabulary) != text_config.vocab_size:
                    raise bundle.BundleError(
                        f"{source}: vocabulary has {len(clf.text_.vocabulary)} tokens, the model expects {text_config.vocab_size}"
                    )
            if modality in ("image", "fused"):
                image_config = AttVGG16Config(**sections["image"])
                clf.image_ = ImageBranch.load(manifest)
            if modality == "text":
                model_config: Any = text_config
                model: torch.nn.Module = AttBiLSTM(text_config)
            elif modality == "image":
                model_config, model = image_config, AttVGG16(image_config)
            else:
                model_config = FusionModelConfig(**sections["fusion"])
                model = FusedModel(AttBiLSTM(text_config), AttVGG16(image_config), model_config)
        except (KeyError, TypeError, ValueError, OSError) as error:
            if isinstance(error, bundle.BundleError):
                raise
            raise bundle.BundleError(f"{source}: invalid model or preprocessing settings ({error})") from None
        classes = manifest["classes"]
        if not isinstance(classes, list) or len(classes) != model_config.num_classes:
            raise bundle.BundleError(f"{source}: 'classes' must list {model_config.num_classes} labels")
        bundle.load_state_checked(model, bundle.read_weights(directory, manifest), str(directory / bundle.WEIGHTS))
        model.eval()
        clf.classes_, clf.model_ = list(classes), model
        return clf

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
    """One branch of a fused model trained alone on comments: the text branch on every comment's
    text, the image branch on every image (each with its comment's label)."""
    if modality == "text":
        return Classifier(config.branch_config("text")).fit(
            [r for r in train if r.text], [r for r in dev if r.text] or None,
            extra_texts=extra_texts, word_vectors=word_vectors, progress=progress,
        )
    return Classifier(config.branch_config("image")).fit(
        one_record_per_image(train), one_record_per_image(dev) or None, progress=progress
    )


def _image_list(entry: ImageInput) -> list[ImageSource]:
    """One comment's image entry (None, one image, or several) as a list."""
    if entry is None:
        return []
    if isinstance(entry, (list, tuple)):
        return [image for image in entry if image is not None]
    return [entry]



def _texts(records: Sequence[Record], split: str) -> list[str]:
    missing = [r.id for r in records if not r.text]
    if missing:
        raise ValueError(f"{split}: {len(missing)} record(s) have no text (e.g. {missing[0]!r}); the text model needs text")
    return [r.text for r in records]  # type: ignore[misc]


def _check_labels(records: Sequence[Record], classes: list[str], split: str) -> None:
    unknown = sorted({str(r.label) for r in records if r.label not in classes})
    if unknown:
        raise ValueError(f"{split}: labels {unknown} are not in the configured labels {classes}")
