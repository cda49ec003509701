"""The HTTP service against its own OpenAPI schema, with Schemathesis (issue 16).

Every operation of ``/openapi.json`` (JSON and multipart bodies), for a text, an image and a fused
model, with schema-valid (positive) and schema-violating (negative) requests, under every check
Schemathesis has: no 5xx, status codes, content types, headers and bodies as documented,
schema-violating requests refused, unsupported methods refused, and schema-valid requests accepted.

That last check is Schemathesis's ``positive_data_acceptance`` made exact for this service: a
schema-valid request must be answered 2xx, except for the two refusals no JSON schema can express,
which the schema documents (``serve/request_schema.py``) and which must come as a 422 naming the
field: a text with no word the model reads, and bytes that are not a decodable image. Base64
images are drawn from real small PNG / GIF / JPEG / WebP / BMP files as well as arbitrary bytes,
so that schema-valid requests do reach the model.
"""

from __future__ import annotations

import base64
import io

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image
from schemathesis import GenerationMode
from schemathesis.core.failures import AcceptedNegativeData
from schemathesis.specs.openapi.checks import positive_data_acceptance

from cinesense import Classifier
from cinesense.serve import Limits, create_app
from fuzzing import fuzz_settings, tried
from test_serve_fused import tiny_fused_model

#: the refusals of schema-valid requests the schema documents (serve/request_schema.py): content, not form
CONTENT_REFUSALS = ("has no word the model reads", "not a recognised image", "corrupt, truncated or unsupported image", "is an empty file")


def _encoded_image(mode: str, size: tuple[int, int], fmt: str, colour: int) -> bytes:
    image = Image.new("RGB", size, ((colour * 7) % 256, (colour * 13) % 256, colour % 256)).convert(mode)
    buffer = io.BytesIO()
    try:
        image.save(buffer, format=fmt)
    except OSError:  # a mode the format cannot hold (LA as BMP, RGBA as JPEG...)
        buffer = io.BytesIO()
        image.convert("RGB").save(buffer, format=fmt)
    return buffer.getvalue()


IMAGE_BYTES = st.builds(_encoded_image, st.sampled_from(["RGB", "RGBA", "L", "P", "LA"]),
                        st.tuples(st.integers(1, 40), st.integers(1, 40)),
                        st.sampled_from(["PNG", "GIF", "JPEG", "WEBP", "BMP"]), st.integers(0, 255))
# base64 images: mostly real ones, some arbitrary bytes (a refusal the schema documents)
schemathesis.openapi.format("byte", st.one_of(IMAGE_BYTES, IMAGE_BYTES, st.binary(min_size=1, max_size=48))
                            .map(lambda data: base64.b64encode(data).decode("ascii")))


# small batches and few stickers a comment (the schema says so: its maxItems follow the limits), so that each request is quick
LIMITS = Limits(max_batch=4, max_images=2, max_text_chars=300)
# a schema-violating request is refused with one of the statuses the schema documents (413: over a limit)
CONFIG = schemathesis.Config.from_str("""
[checks.negative_data_rejection]
expected-statuses = [400, 413, 415, 422]
""")


@schemathesis.check
def schema_valid_accepted(ctx, response, case):
    """A schema-valid request is answered 2xx, or 422 naming the field for a documented content refusal."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or response.status_code < 400:
        return None
    body = response.json()
    if response.status_code == 422 and body.get("field") and any(reason in body["detail"] for reason in CONTENT_REFUSALS):
        return None
    raise AssertionError(f"schema-valid request refused: {response.status_code} {body}")


def _form_field_typed(case, error) -> bool:
    """Whether every failure is a negative multipart case whose fault does not survive the form: a
    field's JSON type (a number for the text, say: a form carries text, so the server received a
    string and was right to read it), or an unknown field whose value is an empty list (no part is
    sent for it)."""
    if not (case.media_type or "").startswith("multipart/"):
        return False
    unsent = isinstance(case.body, dict) and all(value in ([], None) for key, value in case.body.items() if key not in ("text", "image"))
    found = getattr(error, "exceptions", [error])
    return all(isinstance(e, AcceptedNegativeData) and ("violates `type`" in str(e) or unsent and "additionalProperties" in str(e))
               for e in found)


@pytest.fixture(scope="module")
def fused_model(tiny_text_model, tiny_image_model, tmp_path_factory):
    return tiny_fused_model(tiny_text_model, tiny_image_model, tmp_path_factory.mktemp("st-fused"))


@pytest.fixture(scope="module")
def schemas(tiny_text_model, tiny_image_model, fused_model):
    """modality -> the Schemathesis schema of a service of that model (read from its /openapi.json)."""
    loaded = {}
    for modality, directory in (("text", tiny_text_model), ("image", tiny_image_model), ("fused", fused_model)):
        app = create_app(Classifier.load(directory), LIMITS)
        loaded[modality] = schemathesis.openapi.from_asgi("/openapi.json", app, config=CONFIG)
    return loaded


OPERATIONS = [("POST", "/v1/predict", "application/json"), ("POST", "/v1/predict", "multipart/form-data"),
              ("POST", "/v1/predict/batch", "application/json"), ("GET", "/v1/model", None), ("GET", "/v1/metrics", None),
              ("GET", "/healthz", None)]
CASES = [(modality, *operation, mode) for modality in ("text", "image", "fused") for operation in OPERATIONS
         for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE) if operation[0] == "POST" or mode.is_positive]


@pytest.mark.parametrize(("modality", "method", "path", "media", "mode"), CASES,
                         ids=[f"{m}-{verb} {p} {media or ''}-{mode.value}" for m, verb, p, media, mode in CASES])
def test_the_service_keeps_to_its_schema(schemas, modality, method, path, media, mode):
    if path not in schemas[modality].raw_schema.get("paths", {}):
        pytest.skip(f"{path} is not in this service's schema")
    operation = schemas[modality][path][method]
    strategy = operation.as_strategy(mode, media_type=media) if media else operation.as_strategy(mode)
    entry = f"serve {method} {path}" + (f" ({media.split('/')[-1]})" if method == "POST" else "")
    failures: list[str] = []

    @given(case=strategy)
    @fuzz_settings(50)
    def check(case):
        response = case.call()
        tried(entry)
        tried(entry, f"{response.status_code // 100}xx")
        try:
            case.validate_response(response, excluded_checks=[positive_data_acceptance])
        except (Exception, BaseExceptionGroup) as error:  # noqa: BLE001 - collected (Schemathesis's FailureGroup is a BaseExceptionGroup)
            if _form_field_typed(case, error):
                tried(entry, "form mutations lost in the form (not failures)")
                return
            failures.append(f"{case.method} {case.path} {case.media_type} body={case.body!r:.300} -> {response.status_code} "
                            f"{response.text[:300]}: {type(error).__name__}: {str(error)[:500]}")

    check()
    assert not failures, f"{len(failures)} request(s) broke the schema contract, e.g.\n" + "\n".join(failures[:5])


@pytest.fixture(scope="module")
def text_client(tiny_text_model):
    with TestClient(create_app(Classifier.load(tiny_text_model))) as client:
        yield client


def test_the_schema_says_a_text_model_needs_a_non_blank_text_and_no_image(text_client):
    schema = text_client.get("/openapi.json").json()
    request = schema["components"]["schemas"]["PredictRequest"]
    assert request["required"] == ["text"]
    assert request["properties"]["text"]["minLength"] == 1 and request["properties"]["text"]["maxLength"] == 2000
    form = schema["paths"]["/v1/predict"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert form["required"] == ["text"] and form["properties"]["text"]["minLength"] == 1 and "image" not in form["properties"]
    assert schema["components"]["schemas"]["BatchRequest"]["properties"]["items"]["maxItems"] == 64
