"""The HTTP service: ``create_app(classifier, limits)`` builds the FastAPI application.

(Over 300 lines: the two endpoints' request parsing — JSON and multipart, with the field names
every error carries — and the OpenAPI wiring belong together; the input rules are the model's
adapter's, limits in ``serve/limits.py``, the schemas in ``serve/schemas.py``.)

    POST /v1/predict        one comment (JSON with base64 image(s), or multipart with file(s)) -> verdict + attention
    POST /v1/predict/batch  several comments (JSON) -> verdicts
    GET  /v1/model          classes, version, metrics, limits
    GET  /v1/metrics        the sticker cache's hit / miss / size counters
    GET  /healthz           liveness (answers while the model works)
    GET  /                  the web page;  /docs, /openapi.json  the API's documentation
"""

from __future__ import annotations

import math
import re
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ValidationError
from pydantic.json_schema import models_json_schema
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from cinesense import __version__
from cinesense.explain.highlight import align_tokens
from cinesense.image.loading import ImageError, load_image
from cinesense.image.stem_cache import DEFAULT_MAX_BYTES, attach_sticker_cache
from cinesense.adapter import InputError
from cinesense.serve.limits import (ApiError, BodySizeLimit, Limits, check_batch_size, check_image, check_image_count, check_text,
                                     decode_base64_image)
from cinesense.serve import request_schema
from cinesense.serve.runner import InferenceRunner
from cinesense.serve.schemas import BatchRequest, BatchResponse, ErrorBody, Explained, Health, ModelInfo, PredictRequest, ServiceMetrics

STATIC = Path(__file__).parent / "static"
ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text}
    for status, text in (
        (400, "malformed request"),
        (413, "over a limit (the body says which)"),
        (415, "unsupported content type"),
        (422, "invalid field (the body names it)"),
        (503, "too many requests waiting"),
    )
}
MULTIPART_SCHEMA = {
    "type": "object",
    "properties": {"text": {"type": "string"},
                   "image": {"type": "array", "items": {"type": "string", "format": "binary"},
                             "description": "the sticker file(s): repeat the field for several stickers on one comment"}},
}


def create_app(classifier: Any, limits: Limits | None = None, *, sticker_cache_bytes: int = DEFAULT_MAX_BYTES) -> FastAPI:
    """The service for a loaded ``Classifier`` (any modality) under ``limits`` (default ``Limits()``).

    An image or fused model gets an in-memory sticker cache of ``sticker_cache_bytes``
    (:mod:`cinesense.image.stem_cache`; 0: none), unless its image branch has one already."""
    from cinesense.classifier import adapter_for

    limits = limits or Limits()
    runner = InferenceRunner(limits.max_pending)
    adapter = adapter_for(classifier.modality_)  # which inputs the model reads

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        runner.open()  # (again, when the application is started after a shutdown)
        yield
        runner.close()

    app = FastAPI(title="cinesense", version=__version__, lifespan=lifespan,
                  description="Sentiment of Chinese movie-review comments (text and sticker images), with the attention behind each verdict.")
    app.add_middleware(BodySizeLimit, limits=limits)
    app.state.classifier, app.state.limits, app.state.runner = classifier, limits, runner
    _add_error_handlers(app)
    info = _model_info(classifier, limits)
    image_branch = classifier.adapter.branch("image") if hasattr(classifier, "adapter") else None
    sticker_cache = getattr(image_branch, "stem_cache", None)
    if sticker_cache is None and sticker_cache_bytes and image_branch is not None:
        sticker_cache = attach_sticker_cache(classifier, sticker_cache_bytes)

    @app.get("/healthz", response_model=Health, tags=["service"])
    async def healthz() -> Health:
        return Health(status="ok", pending=runner.pending)

    @app.get("/v1/model", response_model=ModelInfo, tags=["model"])
    async def model() -> ModelInfo:
        return info

    @app.get("/v1/metrics", response_model=ServiceMetrics, tags=["service"])
    async def metrics() -> ServiceMetrics:
        """Counters of the sticker cache (null for a model without images or with the cache off) and
        of the caption reader (null unless the service reads sticker captions)."""
        captions = getattr(classifier, "caption_reader_", None)
        return ServiceMetrics(sticker_cache=sticker_cache.stats() if sticker_cache is not None else None,
                              captions=captions.stats() if captions is not None else None, pending=runner.pending)

    @app.post(
        "/v1/predict", response_model=Explained, responses=ERRORS, tags=["model"],
        openapi_extra={"requestBody": {"required": True, "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/PredictRequest"}},
            "multipart/form-data": {"schema": MULTIPART_SCHEMA},
        }}},
    )
    async def predict(request: Request) -> Explained:
        """One comment, as JSON (``{"text", "image": base64 or a list}``) or as multipart form fields
        ``text`` and ``image`` (a file; repeated for several stickers)."""
        text, images = await _read_comment(request, limits)
        check_text(text, "text", limits)
        _check_comment(adapter, text, images, "", limits)
        return await runner.run(partial(_explain, classifier, text, images, limits))

    @app.post(
        "/v1/predict/batch", response_model=BatchResponse, responses=ERRORS, tags=["model"],
        openapi_extra={"requestBody": {"required": True, "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/BatchRequest"}},
        }}},
    )
    async def predict_batch(request: Request) -> BatchResponse:
        """Several comments in one call (JSON only; images base64). Verdicts only, in the order given."""
        media = _media_type(request)
        if media != "application/json":
            raise _unsupported(media, "send application/json (this endpoint takes JSON only)")
        body = _parse_json(await request.body(), BatchRequest)
        check_batch_size(len(body.items), limits)
        texts, images = [], []
        for i, item in enumerate(body.items):
            where = f"items[{i}]."
            check_text(item.text, f"{where}text", limits)
            item_images = _json_images(item.image, where, limits)
            _check_comment(adapter, item.text, item_images, where, limits)
            texts.append(item.text)
            images.append(item_images)
        return await runner.run(partial(_predict_many, classifier, texts, images, limits))

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    _document_bodies(app, BatchRequest, PredictRequest, rules=partial(request_schema.apply, adapter=adapter, limits=limits))
    return app


def _document_bodies(app: FastAPI, *models: type[BaseModel], rules: Any = None) -> None:
    """Put ``models`` (request bodies the endpoints parse themselves) in the OpenAPI components,
    narrowed by ``rules`` (:func:`cinesense.serve.request_schema.apply`) to what the served model accepts."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        schema = generate()
        _, definitions = models_json_schema([(m, "validation") for m in models], ref_template="#/components/schemas/{model}")
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for name, definition in definitions.get("$defs", {}).items():
            components.setdefault(name, definition)
        return rules(schema) if rules is not None else schema

    app.openapi = openapi  # type: ignore[method-assign]


def warm_up(classifier: Any) -> None:
    """One prediction, so that the first request does not pay for loading jieba's dictionary etc."""
    from PIL import Image

    from cinesense.classifier import adapter_for

    text, image = adapter_for(classifier.modality_).record_inputs("这部电影很好看", [Image.new("RGB", (64, 64), "white")])
    classifier.predict_proba(texts=[text], images=[image])


def _model_info(classifier: Any, limits: Limits) -> ModelInfo:
    manifest = getattr(classifier, "manifest_", None) or {}
    sha = manifest.get("weights_sha256")
    config = getattr(classifier, "config", None)
    return ModelInfo(
        modality=classifier.modality_, classes=list(classifier.classes_), version=sha[:12] if isinstance(sha, str) else None,
        cinesense_version=manifest.get("cinesense_version"), server_version=__version__,
        name=getattr(config, "name", None), metrics=_finite(manifest.get("metrics") or {}), limits=limits.to_dict(),
    )


def _finite(value: Any) -> Any:
    """``value`` with NaN and infinities (which JSON cannot carry) replaced by None."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class Images(list):
    """A comment's encoded images (``bytes``), each with the field name that errors give it:
    ``image`` for one image sent alone, ``image[j]`` for the images of a list (or several files)."""

    def __init__(self, data: list[bytes], field: str, listed: bool) -> None:
        super().__init__(data)
        self.field = field
        self.names = [f"{field}[{j}]" for j in range(len(data))] if listed else [field] * len(data)


def _check_comment(adapter: Any, text: str | None, images: Images, where: str, limits: Limits) -> None:
    """422 (or 413) naming the field if the comment does not suit the model (its adapter's check) or
    its images are over a limit."""
    try:
        adapter.check(text, images or None, where=where, strict=True)
    except InputError as error:
        raise ApiError(422, str(error), field=error.field) from None
    check_image_count(len(images), images.field, limits)
    if adapter.images_per_comment == 1 and len(images) > 1:
        raise ApiError(422, f"field '{images.field}': this {adapter.kind} model reads one image per comment, got {len(images)}",
                       field=images.field)
    for data, name in zip(images, images.names):
        check_image(data, name, limits)


def _json_images(value: str | list[str] | None, where: str, limits: Limits) -> Images:
    """The images of a JSON comment (``image``: base64, a list of them, or null)."""
    field = f"{where}image"
    if value is None or isinstance(value, str):
        return Images([] if value is None else [decode_base64_image(value, field, limits)], field, listed=False)
    check_image_count(len(value), field, limits)
    return Images([decode_base64_image(v, f"{field}[{j}]", limits) for j, v in enumerate(value)], field, listed=True)


def _model_image(images: list) -> Any:
    """The ``image`` argument of the model for a comment's decoded images: None, one, or the list."""
    if not images:
        return None
    return images[0] if len(images) == 1 else list(images)


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def _unsupported(media: str, hint: str) -> ApiError:
    return ApiError(415, f"content type {media or 'none'!r} is not supported: {hint}")


def _parse_json(body: bytes, model: type[BaseModel]) -> Any:
    """``body`` validated as ``model``: 400 if it is not JSON, 422 naming the field otherwise."""
    try:
        return model.model_validate_json(body)
    except ValidationError as error:
        raise _validation_error(error.errors()) from None


async def _read_comment(request: Request, limits: Limits) -> tuple[str | None, Images]:
    """``(text, images)`` of a JSON or multipart request to /v1/predict."""
    media = _media_type(request)
    if media == "application/json":
        body = _parse_json(await request.body(), PredictRequest)
        return body.text, _json_images(body.image, "", limits)
    if media not in ("multipart/form-data", "application/x-www-form-urlencoded"):
        raise _unsupported(media, "send application/json or multipart/form-data")
    try:
        form = await request.form(max_files=limits.max_images, max_fields=4)
    except HTTPException as error:
        if "too many files" in str(error.detail).lower():
            raise ApiError(413, f"field 'image': more than {limits.max_images:,} images on one comment, over the limit "
                                f"max_images={limits.max_images:,}", field="image", limit="max_images") from None
        raise
    try:
        unknown = sorted(set(form) - {"text", "image"})
        if unknown:
            raise ApiError(422, f"field '{unknown[0]}' is not known (send 'text' and/or 'image')", field=unknown[0])
        texts = form.getlist("text")
        if len(texts) > 1:
            raise ApiError(422, f"field 'text' is sent {len(texts)} times: send it once", field="text")
        text = texts[0] if texts else None
        if text is not None and not isinstance(text, str):
            raise ApiError(422, "field 'text' must be a form field, not a file", field="text")
        files = [f for f in form.getlist("image") if not (f == "" or isinstance(f, UploadFile) and not f.filename and not f.size)]
        if any(not isinstance(f, UploadFile) for f in files):  # (empty file inputs are left out above)
            raise ApiError(422, "field 'image' must be a file", field="image")
        data = [await f.read(limits.max_image_bytes + 1) for f in files]  # type: ignore[union-attr]
        return text, Images(data, "image", listed=len(data) > 1)
    finally:
        await form.close()


def _decoded(image: bytes | None, field: str, limits: Limits):
    """The decoded RGB image (in the worker thread), or a 422 naming the field: the one decode of a
    served image (``check_image`` read its header only; the model takes this image as it is)."""
    if image is None:
        return None
    try:
        return load_image(image, max_pixels=limits.max_image_pixels, name=field)
    except ImageError as error:
        raise ApiError(422, f"field '{field}': {error.reason}", field=field) from None


def _explain(classifier: Any, text: str | None, images: Images, limits: Limits) -> Explained:
    decoded = [_decoded(data, name, limits) for data, name in zip(images, images.names)]
    try:
        explanation = classifier.explain(text=text, image=_model_image(decoded))
    except ValueError as error:  # the model's own check of the comment (e.g. a text without words)
        given = [name for name, value in (("text", text), ("image", images)) if value]
        raise _refused(error, lambda field: field, given[0] if len(given) == 1 else None) from None
    attentions = getattr(explanation, "image_attentions", None)
    if not attentions and explanation.image_attention is not None:
        attentions = [explanation.image_attention]  # a classifier that explains one image only
    read = getattr(explanation, "read_text", None)  # the text with its stickers' captions, when they are read
    shown = read if read is not None else text
    highlights = align_tokens(shown, explanation.tokens, explanation.weights) if shown is not None else []
    return Explained(
        label=explanation.label,
        probability=explanation.probabilities[explanation.label],
        probabilities=explanation.probabilities,
        tokens=explanation.tokens,
        weights=explanation.weights,
        highlights=[{"text": s.text, "weight": s.weight} for s in highlights],
        image_attention=explanation.image_attention,
        image_attentions=attentions or [],
        read_text=read,
    )


def _predict_many(classifier: Any, texts: list, images: list[Images], limits: Limits) -> BatchResponse:
    decoded = [_model_image([_decoded(data, name, limits) for data, name in zip(item, item.names)])
               for item in images]
    try:
        proba = classifier.predict_proba(texts=texts, images=decoded)
    except ValueError as error:
        raise _refused(error, _item_field, "items") from None
    classes = classifier.classes_
    predictions = []
    for row in proba:
        best = int(row.argmax())
        predictions.append({"label": classes[best], "probability": float(row[best]),
                            "probabilities": {c: float(p) for c, p in zip(classes, row)}})
    return BatchResponse(predictions=predictions)


def _item_field(field: str) -> str:
    """The batch request's name for a field the Classifier names: texts[3] -> items[3].text, images[3] -> items[3].image."""
    match = re.fullmatch(r"(texts|images)(?:\[(\d+)\](.*))?", field)
    if match is None:
        return field
    kind, index, rest = match.groups()
    return "items" if index is None else f"items[{index}].{kind[:-1]}{rest}"


def _refused(error: ValueError, rename: Any, default: str | None) -> ApiError:
    """A 422 for a ValueError of the model, naming the request's field (the model's field renamed, or
    ``default`` when the model names none)."""
    message, field = str(error), getattr(error, "field", None)
    if field is None:
        return ApiError(422, f"field '{default}': {message}" if default else message, field=default)
    renamed = rename(field)
    return ApiError(422, message.replace(f"'{field}'", f"'{renamed}'"), field=renamed)


def _field_name(location: tuple) -> str:
    parts = [p for p in location if p != "body"]
    name = ""
    for part in parts:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name


def _validation_error(errors: list[dict]) -> ApiError:
    first = errors[0]
    if first.get("type") == "json_invalid":
        return ApiError(400, f"request body is not valid JSON ({first.get('ctx', {}).get('error', first['msg'])})")
    field = _field_name(tuple(first.get("loc", ())))
    more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
    if not field:
        return ApiError(422, f"request body: {first['msg']}{more}")
    return ApiError(422, f"field '{field}': {first['msg']}{more}", field=field)


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_: Request, error: ApiError) -> JSONResponse:
        return JSONResponse(error.body(), status_code=error.status)

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, error: HTTPException) -> JSONResponse:
        """404, 405, a malformed form, ...: Starlette's refusals, in the service's error body."""
        return JSONResponse({"detail": str(error.detail), "field": None, "limit": None}, status_code=error.status_code,
                            headers=error.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        problem = _validation_error(list(error.errors()))
        return JSONResponse(problem.body(), status_code=problem.status)

    @app.exception_handler(Exception)
    async def unexpected(_: Request, error: Exception) -> JSONResponse:
        return JSONResponse({"detail": f"internal error ({type(error).__name__}); see the server log", "field": None, "limit": None}, status_code=500)
