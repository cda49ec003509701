"""The HTTP service with a text model, through FastAPI's test client: the API contract, every limit
and every error path; inference off the event loop."""

from __future__ import annotations

import socket
import threading
import time

import numpy as np
import pytest
from fastapi.testclient import TestClient

from cinesense import Classifier
from cinesense.classifier import Explanation
from cinesense.serve import Limits, create_app

TEXTS = ["这部电影真的好看！", "剧情无聊，失望", "演员 非常 精彩"]


@pytest.fixture(scope="module")
def model_dir(tiny_text_model):  # test_serve_image.py overrides it and reuses the fixtures below
    return tiny_text_model


@pytest.fixture(scope="module")
def classifier(model_dir):
    return Classifier.load(model_dir)


@pytest.fixture(scope="module")
def client(classifier):
    with TestClient(create_app(classifier)) as client:
        yield client


def limited(classifier, **limits) -> TestClient:
    return TestClient(create_app(classifier, Limits(**limits)))


def assert_error(response, status: int, *, field=None, limit=None, says: str = "") -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"detail", "field", "limit"}
    assert body["field"] == field and body["limit"] == limit
    assert says in body["detail"]
    return body


# ----------------------------------------------------------------------------------- the contract
def test_healthz(client):
    assert client.get("/healthz").json() == {"status": "ok", "pending": 0}


def test_serve_command_builds_the_app_with_its_limits(model_dir, monkeypatch, capsys):
    import uvicorn

    from cinesense.cli import main

    started = {}

    def run(server, sockets=None):
        (sock,) = sockets
        started.update(config=server.config, address=sock.getsockname(), listening=sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN))

    monkeypatch.setattr(uvicorn.Server, "run", run)
    assert main(["serve", "--model", str(model_dir), "--port", "0", "--max-batch", "7", "--log-level", "warning"]) == 0
    host, port = started["address"]
    assert host == "127.0.0.1" and port > 0 and started["listening"] == 0  # bound, not yet listening: uvicorn listens
    assert started["config"].log_level == "warning"
    assert started["config"].app.state.limits == Limits(max_batch=7)
    assert f"serving {model_dir} (text model) on http://127.0.0.1:{port}/" in capsys.readouterr().out
    assert main(["serve", "--model", str(model_dir), "--max-batch", "0"]) == 2
    assert "max_batch must be at least 1" in capsys.readouterr().err


def test_serve_on_a_busy_port_says_so_before_serving(model_dir, monkeypatch, capsys):
    import uvicorn

    from cinesense.cli import main

    monkeypatch.setattr(uvicorn.Server, "run", lambda *a, **k: pytest.fail("uvicorn must not start on a busy port"))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "--model", str(model_dir), "--port", str(port)]) == 2
    out, err = capsys.readouterr()
    assert "serving" not in out
    assert err == f"cinesense serve: error: 127.0.0.1:{port} is already in use\n"


def test_serve_on_an_unknown_host_is_a_one_line_error(model_dir, capsys):
    from cinesense.cli import main

    assert main(["serve", "--model", str(model_dir), "--host", "no-such-host.invalid", "--port", "0"]) == 2
    out, err = capsys.readouterr()
    assert "serving" not in out
    assert err.startswith("cinesense serve: error: cannot listen on no-such-host.invalid:0: ") and err.count("\n") == 1


def test_model_describes_classes_version_metrics_and_limits(client, classifier):
    info = client.get("/v1/model").json()
    assert info["modality"] == "text" and info["classes"] == classifier.classes_
    assert len(info["version"]) == 12 and info["version"] == classifier.manifest_["weights_sha256"][:12]
    assert info["metrics"] == {"dev": {"accuracy": 1.0}}
    assert info["limits"] == Limits().to_dict()


def test_predict_json_answers_label_probabilities_and_attention(client, classifier):
    response = client.post("/v1/predict", json={"text": TEXTS[0]})
    assert response.status_code == 200
    body = response.json()
    expected = classifier.predict_proba([TEXTS[0]])[0]
    assert body["probabilities"] == pytest.approx(dict(zip(classifier.classes_, expected)), abs=1e-6)
    assert sum(body["probabilities"].values()) == pytest.approx(1.0)
    assert body["label"] == classifier.classes_[int(expected.argmax())] == "positive"
    assert body["probability"] == pytest.approx(expected.max(), abs=1e-6)
    assert len(body["tokens"]) == len(body["weights"]) and sum(body["weights"]) == pytest.approx(1.0, abs=1e-5)
    assert "".join(h["text"] for h in body["highlights"]) == TEXTS[0]
    assert [h["text"] for h in body["highlights"] if h["weight"] is not None] == body["tokens"]
    assert body["image_attention"] is None


def test_predict_multipart_matches_json(client):
    as_json = client.post("/v1/predict", json={"text": TEXTS[1]}).json()
    as_form = client.post("/v1/predict", data={"text": TEXTS[1]}).json()
    with_empty_file_input = client.post("/v1/predict", data={"text": TEXTS[1]}, files={"image": ("", b"", "application/octet-stream")})
    assert as_form == as_json == with_empty_file_input.json()
    assert as_json["label"] == "negative"


def test_batch_keeps_order_and_matches_predict_proba(client, classifier):
    response = client.post("/v1/predict/batch", json={"items": [{"text": t} for t in TEXTS]})
    assert response.status_code == 200
    predictions = response.json()["predictions"]
    expected = classifier.predict_proba(TEXTS)
    assert [p["label"] for p in predictions] == classifier.predict(TEXTS)
    for prediction, row in zip(predictions, expected):
        assert list(prediction["probabilities"].values()) == pytest.approx(list(row), abs=1e-6)
    assert client.post("/v1/predict/batch", json={"items": []}).json() == {"predictions": []}


def test_openapi_and_docs(client):
    schema = client.get("/openapi.json").json()
    assert {"/v1/predict", "/v1/predict/batch", "/v1/model", "/healthz"} <= set(schema["paths"])
    assert set(schema["paths"]["/v1/predict"]["post"]["requestBody"]["content"]) == {"application/json", "multipart/form-data"}
    assert "PredictRequest" in schema["components"]["schemas"]
    assert client.get("/docs").status_code == 200


def test_page_and_static_files_are_served(client):
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<script src="/static/app.js"' in page.text
    assert client.get("/static/app.js").status_code == 200
    assert client.get("/static/style.css").status_code == 200


# ------------------------------------------------------------------------------------- the limits
def test_text_over_max_text_chars(classifier):
    client = limited(classifier, max_text_chars=10)
    assert client.post("/v1/predict", json={"text": "好" * 10}).status_code == 200
    assert_error(client.post("/v1/predict", json={"text": "好" * 11}), 413, field="text", limit="max_text_chars", says="11")
    assert_error(client.post("/v1/predict", data={"text": "好" * 11}), 413, field="text", limit="max_text_chars")
    batch = {"items": [{"text": "好看"}, {"text": "好" * 11}]}
    assert_error(client.post("/v1/predict/batch", json=batch), 413, field="items[1].text", limit="max_text_chars")


def test_batch_over_max_batch(classifier):
    client = limited(classifier, max_batch=3)
    assert client.post("/v1/predict/batch", json={"items": [{"text": "好看"}] * 3}).status_code == 200
    assert_error(client.post("/v1/predict/batch", json={"items": [{"text": "好看"}] * 4}), 413, field="items", limit="max_batch",
                 says="batch of comments 4")


def test_body_over_max_body_bytes_declared_or_streamed(classifier):
    client = limited(classifier, max_body_bytes=1000)
    body = ('{"text": "' + "好" * 400 + '"}').encode()
    assert_error(client.post("/v1/predict", content=body, headers={"content-type": "application/json"}), 413, limit="max_body_bytes")

    def chunks():  # no Content-Length: the limit is counted as the body streams in
        yield body[:600]
        yield body[600:]

    assert_error(client.post("/v1/predict", content=chunks(), headers={"content-type": "application/json"}), 413, limit="max_body_bytes")
    assert client.post("/v1/predict", json={"text": "好看"}).status_code == 200


class BlockingClassifier:
    """Stands in for a model that is busy: explain() waits until released."""

    modality_, classes_ = "text", ["negative", "positive"]

    def __init__(self) -> None:
        self.started, self.release = threading.Event(), threading.Event()

    def explain(self, text=None, image=None):
        self.started.set()
        assert self.release.wait(10)
        if text == "boom":
            raise RuntimeError("model exploded")
        return Explanation("positive", {"negative": 0.2, "positive": 0.8}, ["好看"], [1.0])


def test_health_answers_while_the_model_works_and_max_pending_is_enforced():
    model = BlockingClassifier()
    with TestClient(create_app(model, Limits(max_pending=1))) as client:
        results = []
        worker = threading.Thread(target=lambda: results.append(client.post("/v1/predict", json={"text": "好看"})))
        worker.start()
        assert model.started.wait(10)
        tick = time.perf_counter()
        assert client.get("/healthz").json() == {"status": "ok", "pending": 1}
        assert time.perf_counter() - tick < 2.0
        assert_error(client.post("/v1/predict", json={"text": "好看"}), 503, limit="max_pending", says="busy")
        model.release.set()
        worker.join(10)
        assert results[0].status_code == 200 and results[0].json()["label"] == "positive"


def test_an_internal_error_is_a_500_and_the_service_goes_on():
    model = BlockingClassifier()
    model.release.set()
    with TestClient(create_app(model)) as client:
        assert_error(client.post("/v1/predict", json={"text": "boom"}), 500, says="RuntimeError")
        assert client.post("/v1/predict", json={"text": "好看"}).status_code == 200
        assert client.get("/healthz").status_code == 200


# ------------------------------------------------------------------------------------- bad requests
@pytest.mark.parametrize(
    ("body", "field", "says"),
    [
        ({"txt": "好看"}, "txt", "Extra inputs"),
        ({"text": 3}, "text", "valid string"),
        ({}, "text", "required: this is a text model"),
        ({"text": "   "}, "text", "empty"),
        ({"text": "好看", "image": "aGVsbG8="}, "image", "does not read images"),
    ],
)
def test_invalid_json_fields_are_named(client, body, field, says):
    assert_error(client.post("/v1/predict", json=body), 422, field=field, says=says)


def test_batch_fields_are_named(client):
    assert_error(client.post("/v1/predict/batch", json={"items": [{"text": "好"}, {"text": None}]}), 422, field="items[1].text")
    assert_error(client.post("/v1/predict/batch", json={"items": [{"text": "好"}, {"text": 1}]}), 422, field="items[1].text")
    assert_error(client.post("/v1/predict/batch", json={"texts": ["好"]}), 422, field="items")
    assert_error(client.post("/v1/predict/batch", json=["好"]), 422)


def test_malformed_json_is_a_400(client):
    for path in ("/v1/predict", "/v1/predict/batch"):
        assert_error(client.post(path, content=b'{"text": ', headers={"content-type": "application/json"}), 400, says="not valid JSON")


def test_unsupported_content_type_is_a_415(client):
    assert_error(client.post("/v1/predict", content=b"text=x", headers={"content-type": "text/plain"}), 415, says="text/plain")


def test_multipart_field_errors(client):
    assert_error(client.post("/v1/predict", data={"text": "好看", "caption": "x"}), 422, field="caption")
    assert_error(client.post("/v1/predict", files={"text": ("t.txt", b"x", "text/plain")}), 422, field="text", says="not a file")


def test_unknown_path_and_method(client):
    assert client.get("/v1/nothing").status_code == 404
    assert client.get("/v1/predict").status_code == 405


def test_predictions_do_not_depend_on_the_route(client, classifier):
    single = [client.post("/v1/predict", json={"text": t}).json()["probabilities"] for t in TEXTS]
    batch = [p["probabilities"] for p in client.post("/v1/predict/batch", json={"items": [{"text": t} for t in TEXTS]}).json()["predictions"]]
    np.testing.assert_allclose([list(p.values()) for p in single], [list(p.values()) for p in batch], atol=1e-6)


# ------------------------------------------------------------ documented statuses, every endpoint
@pytest.mark.parametrize(
    ("options", "media"),
    [
        ({"files": {"items": ("items.json", b'{"items": []}', "application/json")}}, "multipart/form-data"),
        ({"data": {"items": "[]"}}, "application/x-www-form-urlencoded"),
        ({"content": b'{"items": []}', "headers": {"content-type": "text/plain"}}, "text/plain"),
        ({"content": b'{"items": []}'}, "none"),
    ],
)
def test_batch_takes_json_only_anything_else_is_a_415(client, options, media):
    assert_error(client.post("/v1/predict/batch", **options), 415, says=f"content type '{media}' is not supported")
    ok = client.post("/v1/predict/batch", content=b'{"items": []}', headers={"content-type": "application/json; charset=utf-8"})
    assert ok.status_code == 200 and ok.json() == {"predictions": []}


def test_batch_body_that_is_not_utf8_json_is_a_400(client):
    body = '{"items": [{"text": "好'.encode() + b'\xff"}]}'
    assert_error(client.post("/v1/predict/batch", content=body, headers={"content-type": "application/json"}), 400, says="not valid JSON")


def test_openapi_documents_the_batch_body_as_json_only(client):
    schema = client.get("/openapi.json").json()
    content = schema["paths"]["/v1/predict/batch"]["post"]["requestBody"]["content"]
    assert set(content) == {"application/json"}
    assert content["application/json"]["schema"]["$ref"] == "#/components/schemas/BatchRequest"
    assert {"BatchRequest", "PredictRequest"} <= set(schema["components"]["schemas"])
    assert "415" in schema["paths"]["/v1/predict/batch"]["post"]["responses"]


@pytest.mark.parametrize(
    ("headers", "says"),
    [({"content-type": "multipart/form-data"}, "boundary"), ({"content-type": "multipart/form-data; boundary=xx"}, "multipart")],
)
def test_malformed_multipart_is_a_400_with_the_error_body(client, headers, says):
    assert_error(client.post("/v1/predict", content=b"garbage", headers=headers), 400, says=says)


def test_404_and_405_have_the_error_body(client):
    assert_error(client.get("/v1/nothing"), 404, says="Not Found")
    response = client.get("/v1/predict/batch")
    assert_error(response, 405, says="Method Not Allowed")
    assert response.headers["allow"] == "POST"
    assert_error(client.post("/healthz"), 405)
    assert_error(client.post("/v1/model"), 405)


def test_a_form_field_sent_twice_is_named(client):
    assert_error(client.post("/v1/predict", data={"text": ["好看", "难看"]}), 422, field="text", says="2 times")


@pytest.mark.parametrize("text", ["😡😡", "！！！"])
def test_a_text_without_words_is_a_422_naming_the_field(client, text):
    """The Classifier refuses a text model a text with no word it reads (a ValueError): a 422 naming
    the request's field, never a 500."""
    assert_error(client.post("/v1/predict", json={"text": text}), 422, field="text", says="no word")
    assert_error(client.post("/v1/predict", data={"text": text}), 422, field="text", says="no word")
    batch = {"items": [{"text": "好看"}, {"text": text}]}
    assert_error(client.post("/v1/predict/batch", json=batch), 422, field="items[1].text", says="no word")
    assert client.get("/healthz").json()["status"] == "ok"


class RefusingClassifier(BlockingClassifier):
    """A model whose own check refuses the input with a plain ValueError (no field)."""

    def explain(self, text=None, image=None):
        raise ValueError("this text cannot be read")

    def predict_proba(self, texts=None, images=None):
        raise ValueError("comment 1: this text cannot be read")


def test_a_value_error_from_the_model_is_a_422_not_a_500():
    with TestClient(create_app(RefusingClassifier())) as client:
        assert_error(client.post("/v1/predict", json={"text": "好看"}), 422, field="text", says="cannot be read")
        assert_error(client.post("/v1/predict/batch", json={"items": [{"text": "好看"}, {"text": "x"}]}), 422, field="items", says="cannot be read")
