"""The request bodies of the OpenAPI schema, as the served model and its limits accept them.

The pydantic models of :mod:`cinesense.serve.schemas` say which fields a request may carry; this
module narrows them to what the service really accepts from the model it serves (issue 16: a
request the schema allows is answered, a request it forbids is refused with a 4xx):

* a text is a string with at least one non-whitespace character (``TEXT_PATTERN``, Python's
  ``str.isspace`` spelled out, so that every regex flavour reads it the same) of at most
  ``max_text_chars`` characters;
* an image is base64 (JSON, ``BASE64_PATTERN``) or a file (multipart); a list holds 1 to
  ``max_images`` of them (1 for a model that reads one image per comment);
* a text model takes no image (``null`` or ``[]`` only), an image model no text; a fused model
  needs a text or an image; the fields the model needs are required.

What no JSON schema can say, and the service still answers 422 for, naming the field: a text
that has no word the model reads (only emoji, symbols, punctuation or links; see
:mod:`cinesense.adapter`) and bytes that are not a decodable image (an empty file included; 413
for a file over ``max_image_bytes``).
"""

from __future__ import annotations

import copy
from typing import Any

from cinesense.serve.limits import Limits

#: One character that is not whitespace (the service refuses a text that ``str.strip()`` empties).
TEXT_PATTERN = r"[^\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
#: Base64 (padded, at least one byte), optionally as a data: URL: what ``decode_base64_image`` decodes.
BASE64_PATTERN = r"^(?:data:[^,]*;base64,)?(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{4}|[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)$"
CONTENT_RULE = ("refused with 422 when it has no word the model reads (only emoji, symbols, punctuation or links) "
                "or an image is not a decodable image")


def _text(limits: Limits) -> dict[str, Any]:
    return {"type": "string", "minLength": 1, "maxLength": limits.max_text_chars, "pattern": TEXT_PATTERN,
            "description": "the comment's text: at least one non-whitespace character", "examples": ["这部电影太好看了"]}


def _base64_length(size: int) -> int:
    return 4 * -(-size // 3)


def _images(adapter: Any, limits: Limits, one: dict[str, Any]) -> dict[str, Any]:
    most = 1 if adapter.images_per_comment == 1 else limits.max_images
    return {"type": "array", "items": one, "minItems": 1, "maxItems": most}


def json_request(adapter: Any, limits: Limits, base: dict[str, Any]) -> dict[str, Any]:
    """The ``PredictRequest`` component (``base``: the one pydantic made) for ``adapter``'s model."""
    schema = copy.deepcopy(base)
    one = {"type": "string", "format": "byte", "pattern": BASE64_PATTERN, "maxLength": _base64_length(limits.max_image_bytes),
           "description": "a sticker, base64-encoded (a data: URL is accepted too)"}
    no_image = [{"type": "null"}, {"type": "array", "maxItems": 0}]
    properties = schema.setdefault("properties", {})
    text, image = properties.get("text", {}), properties.get("image", {})
    keep = {key: value for key, value in (("title", text.get("title")),) if value}
    if adapter.reads_text and adapter.reads_image:
        properties["text"] = {"anyOf": [_text(limits), {"type": "null"}], **keep}
        properties["image"] = {"anyOf": [one, _images(adapter, limits, one), *no_image], "description": image.get("description", "")}
        schema["anyOf"] = [{"required": ["text"], "properties": {"text": {"type": "string"}}},
                           {"required": ["image"], "properties": {"image": {"anyOf": [{"type": "string"}, {"type": "array", "minItems": 1}]}}}]
    elif adapter.reads_text:
        properties["text"] = {**_text(limits), **keep}
        properties["image"] = {"anyOf": no_image, "description": f"this {adapter.kind} model reads no image"}
        schema["required"] = ["text"]
    else:
        properties["text"] = {"type": "null", "description": f"this {adapter.kind} model reads no text"}
        properties["image"] = {"anyOf": [one, _images(adapter, limits, one)], "description": image.get("description", "")}
        schema["required"] = ["image"]
    if CONTENT_RULE not in schema.get("description", ""):  # (FastAPI hands back the schema it made, narrowed already)
        schema["description"] = f"{schema.get('description', '')} A schema-valid comment is {CONTENT_RULE}.".strip()
    return schema


def multipart_request(adapter: Any, limits: Limits) -> dict[str, Any]:
    """The multipart form of ``POST /v1/predict`` for ``adapter``'s model."""
    one = {"type": "string", "format": "binary", "description": f"a non-empty image file of at most {limits.max_image_bytes:,} bytes"}
    properties: dict[str, Any] = {}
    if adapter.reads_text:
        properties["text"] = _text(limits)
    if adapter.reads_image:
        properties["image"] = {**_images(adapter, limits, one),
                               "description": "the sticker file(s): repeat the field for several stickers on one comment"}
    schema: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False,
                              "description": f"A schema-valid form is {CONTENT_RULE}."}
    if adapter.reads_text and adapter.reads_image:
        schema["minProperties"] = 1
    else:
        schema["required"] = list(properties)
    return schema


def apply(schema: dict[str, Any], adapter: Any, limits: Limits) -> dict[str, Any]:
    """Narrow the request bodies of an OpenAPI ``schema`` (in place) to ``adapter``'s model and ``limits``."""
    components = schema.get("components", {}).get("schemas", {})
    if "PredictRequest" in components:
        components["PredictRequest"] = json_request(adapter, limits, components["PredictRequest"])
    if "BatchRequest" in components:
        items = components["BatchRequest"].get("properties", {}).get("items")
        if isinstance(items, dict):
            items.update(minItems=0, maxItems=limits.max_batch)
    content = schema.get("paths", {}).get("/v1/predict", {}).get("post", {}).get("requestBody", {}).get("content", {})
    if "multipart/form-data" in content:
        content["multipart/form-data"]["schema"] = multipart_request(adapter, limits)
    return schema
