"""Request and response bodies of the HTTP service (pydantic models; they make the OpenAPI schema)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class PredictRequest(BaseModel):
    """One comment: its text, its image (base64 or a ``data:`` URL), or both, as the model reads."""

    model_config = ConfigDict(extra="forbid")

    text: str | None = Field(None, description="the comment's text", examples=["这部电影太好看了"])
    image: str | list[str] | None = Field(
        None, description="the attached image (sticker), base64-encoded (a data: URL is accepted), or a list of them: several "
        "stickers on one comment (a fused model; at most the max_images limit)"
    )


class BatchRequest(BaseModel):
    """Several comments, predicted together."""

    model_config = ConfigDict(extra="forbid")

    items: list[PredictRequest] = Field(..., description="the comments (at most the max_batch limit)")


class Prediction(BaseModel):
    label: str = Field(..., description="the predicted class")
    probability: float = Field(..., description="the probability of that class")
    probabilities: dict[str, float] = Field(..., description="probability of every class (they sum to 1)")


class Highlight(BaseModel):
    text: str = Field(..., description="a piece of the comment's text")
    weight: float | None = Field(None, description="the attention weight of the token it is; null between tokens")


class Explained(Prediction):
    """A prediction with the attention behind it."""

    tokens: list[str] = Field(default_factory=list, description="the tokens the model read")
    weights: list[float] = Field(default_factory=list, description="the attention weight of each token (they sum to 1)")
    highlights: list[Highlight] = Field(default_factory=list, description="the text cut into pieces, each token's piece with its weight")
    image_attention: list[list[float]] | None = Field(
        None, description="attention over the (first) image's centre square, rows x columns (sums to 1); null without an image"
    )
    image_attentions: list[list[list[float]]] = Field(
        default_factory=list, description="one attention grid per image, in the order sent ([] without an image)"
    )
    read_text: str | None = Field(
        None, description="the text the model read when the service reads sticker captions and a sticker had one "
        "(the comment's text, then each caption); highlights cut this text. null otherwise"
    )


class BatchResponse(BaseModel):
    predictions: list[Prediction]


class ModelInfo(BaseModel):
    modality: str = Field(..., description='"text", "image" or "fused"')
    classes: list[str]
    version: str | None = Field(None, description="the first 12 hex digits of the weights' SHA-256")
    cinesense_version: str | None = Field(None, description="the cinesense that trained the model")
    server_version: str = Field(..., description="the cinesense serving it")
    name: str | None = None
    metrics: dict = Field(default_factory=dict, description="the metrics saved with the model")
    limits: dict[str, int]


class StickerCacheStats(BaseModel):
    hits: int = Field(..., description="images served from memory (the VGG16 stem did not run)")
    disk_hits: int = Field(..., description="images served from the disk tier")
    misses: int = Field(..., description="distinct images the stem ran on")
    evictions: int = Field(..., description="entries dropped to stay within max_bytes")
    entries: int = Field(..., description="stickers held now")
    bytes: int = Field(..., description="bytes held now (at most max_bytes)")
    max_bytes: int
    directory: str | None = None


class CaptionStats(BaseModel):
    hits: int = Field(..., description="stickers whose caption came from the cache (OCR did not run)")
    misses: int = Field(..., description="distinct stickers OCR read")
    captioned: int = Field(..., description="of those, stickers with a caption")
    unreadable: int = Field(..., description="images OCR could not decode (the model reports them)")
    entries: int = Field(..., description="captions held now")
    max_entries: int
    min_confidence: float


class ServiceMetrics(BaseModel):
    sticker_cache: StickerCacheStats | None = Field(None, description="null for a model without images, or with the cache off")
    captions: CaptionStats | None = Field(None, description="the sticker caption reader (OCR); null unless the service reads captions")
    pending: int = Field(..., description="requests waiting for or in inference")


class Health(BaseModel):
    status: str
    pending: int = Field(..., description="requests waiting for or in inference")


class ErrorBody(BaseModel):
    detail: str = Field(..., description="what is wrong")
    field: str | None = Field(None, description="the request field concerned, e.g. items[2].image")
    limit: str | None = Field(None, description="the limit exceeded, e.g. max_text_chars")
