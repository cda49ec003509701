"""The service's limits, and the checks that answer a request over one with a 4xx naming the limit.

Every error the service gives is an :class:`ApiError`: an HTTP status, a message, and the field and
the limit concerned (when there is one), answered as ``{"detail", "field", "limit"}``.
"""

from __future__ import annotations

import base64
import binascii
import io
import warnings
from dataclasses import dataclass, fields

from PIL import Image

PAYLOAD_TOO_LARGE = 413
UNPROCESSABLE = 422


@dataclass(frozen=True)
class Limits:
    """What one request may carry, and how many may wait for the model.

    Attributes:
        max_text_chars: characters of one comment's text.
        max_image_bytes: encoded size of one image (after base64 decoding).
        max_image_pixels: width x height of one image.
        max_images: images (stickers) on one comment.
        max_batch: comments in one ``/v1/predict/batch`` request.
        max_body_bytes: size of a request body as sent (base64 included).
        max_pending: requests waiting for or in inference; more are answered 503 at once.
    """

    max_text_chars: int = 2_000
    max_image_bytes: int = 5 * 1024 * 1024
    max_image_pixels: int = 16_000_000
    max_images: int = 8
    max_batch: int = 64
    max_body_bytes: int = 32 * 1024 * 1024
    max_pending: int = 64

    def __post_init__(self) -> None:
        for item in fields(self):
            if getattr(self, item.name) < 1:
                raise ValueError(f"limit {item.name} must be at least 1, got {getattr(self, item.name)}")

    def to_dict(self) -> dict[str, int]:
        return {item.name: getattr(self, item.name) for item in fields(self)}


class ApiError(Exception):
    """A request the service refuses: answered with ``status`` and ``{"detail", "field", "limit"}``."""

    def __init__(self, status: int, detail: str, *, field: str | None = None, limit: str | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.field, self.limit = status, detail, field, limit

    def body(self) -> dict[str, str | None]:
        return {"detail": self.detail, "field": self.field, "limit": self.limit}


def over_limit(what: str, value: int, limits: Limits, name: str, field: str | None = None) -> ApiError:
    """413 saying which limit ``value`` exceeds."""
    where = f"field '{field}': " if field else ""
    return ApiError(PAYLOAD_TOO_LARGE, f"{where}{what} {value:,}, over the limit {name}={getattr(limits, name):,}", field=field, limit=name)


def check_text(text: str | None, field: str, limits: Limits) -> None:
    if text is not None and len(text) > limits.max_text_chars:
        raise over_limit("characters", len(text), limits, "max_text_chars", field)


def check_image_count(n: int, field: str, limits: Limits) -> None:
    if n > limits.max_images:
        raise over_limit("images on one comment", n, limits, "max_images", field)


def check_batch_size(n: int, limits: Limits) -> None:
    if n > limits.max_batch:
        raise over_limit("batch of comments", n, limits, "max_batch", "items")


def decode_base64_image(value: str, field: str, limits: Limits) -> bytes:
    """The bytes of a base64 image (a ``data:`` URL is accepted too), size-checked before decoding."""
    if value.startswith("data:"):
        header, _, value = value.partition(",")
        if not header.endswith(";base64"):
            raise ApiError(UNPROCESSABLE, f"field '{field}': a data: URL must be base64-encoded", field=field)
    value = "".join(value.split())
    if len(value) // 4 * 3 > limits.max_image_bytes + 2:
        raise over_limit("image bytes", len(value) // 4 * 3, limits, "max_image_bytes", field)
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(UNPROCESSABLE, f"field '{field}' is not valid base64", field=field) from None


def check_image(data: bytes, field: str, limits: Limits) -> None:
    """Size, format and pixel count of an encoded image, from its header (nothing is decoded)."""
    if not data:
        raise ApiError(UNPROCESSABLE, f"field '{field}' is an empty file", field=field)
    if len(data) > limits.max_image_bytes:
        raise over_limit("image bytes", len(data), limits, "max_image_bytes", field)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
    except Image.DecompressionBombError:
        raise ApiError(PAYLOAD_TOO_LARGE, f"field '{field}': image has too many pixels (max_image_pixels={limits.max_image_pixels:,})",
                       field=field, limit="max_image_pixels") from None
    except Exception:  # noqa: BLE001 - any failure to read the header of untrusted bytes
        raise ApiError(UNPROCESSABLE, f"field '{field}' is not a recognised image (PNG, JPEG, GIF, WebP, BMP, ...)", field=field) from None
    if width * height > limits.max_image_pixels:
        raise over_limit(f"image of {width}x{height} pixels =", width * height, limits, "max_image_pixels", field)


class BodySizeLimit:
    """ASGI middleware: a request body over ``limits.max_body_bytes`` (declared or as it streams in)
    is answered 413 before the application sees it."""

    def __init__(self, app, limits: Limits) -> None:
        self.app, self.limits = app, limits

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        maximum = self.limits.max_body_bytes
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > maximum:
            await self._refuse(int(declared), scope, receive, send)
            return
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break  # the client went away
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > maximum:
                await self._refuse(size, scope, receive, send)
                return
            if not message.get("more_body", False):
                break
        body, delivered = b"".join(chunks), False

        async def replay():
            nonlocal delivered
            if delivered:
                return await receive()
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _refuse(self, size: int, scope, receive, send) -> None:
        from starlette.responses import JSONResponse

        error = over_limit("request body bytes", size, self.limits, "max_body_bytes")
        await JSONResponse(error.body(), status_code=error.status)(scope, receive, send)
