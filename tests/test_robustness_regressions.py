"""One named example for each failure the property tests and Schemathesis found (issue 16); the
list, with the test covering each, is ``tests/robustness_regressions.json``."""

from __future__ import annotations

import json
import shutil

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from cinesense import Classifier
from cinesense.bundle import MANIFEST, BundleError, read_manifest
from cinesense.config import ConfigError, load_config
from cinesense.crawl.parse import ResponseError, as_int, decode_body
from cinesense.data.csvfile import load_csv
from cinesense.data.jsonl import load_jsonl
from cinesense.data.schema import DataError
from cinesense.image.loading import ImageError, load_image
from cinesense.serve import create_app
from cinesense.text.tokenize import Tokenizer
from cinesense.text.vocab import Vocabulary

DEEP = "[" * 100_000 + "]" * 100_000


def test_jsonl_deeply_nested_line_is_a_data_error(tmp_path):
    (tmp_path / "a.jsonl").write_text('{"id": 1, "text": "好", "label": "positive"}\n' + DEEP + "\n")
    with pytest.raises(DataError, match=r"a\.jsonl:2: malformed JSON: nested too deeply"):
        load_jsonl(tmp_path / "a.jsonl")


def test_jsonl_duplicated_field_is_refused_not_last_one_wins(tmp_path):
    (tmp_path / "a.jsonl").write_text('{"id": 1, "text": "好", "label": "positive", "label": "negative"}\n')
    with pytest.raises(DataError, match=r"a\.jsonl:1: duplicated field 'label'"):
        load_jsonl(tmp_path / "a.jsonl")


def test_jsonl_lone_surrogate_is_refused_so_records_can_be_written_back(tmp_path):
    (tmp_path / "a.jsonl").write_text('{"id": 1, "text": "好\\ud800", "label": "positive"}\n')
    with pytest.raises(DataError, match=r"a\.jsonl:1: not valid Unicode \(a lone surrogate"):
        load_jsonl(tmp_path / "a.jsonl")
    (tmp_path / "b.jsonl").write_text('{"id": 1, "text": "好\\ud83d\\ude00", "label": "positive"}\n')  # a pair is a character
    assert load_jsonl(tmp_path / "b.jsonl").records[0].text == "好😀"


def test_jsonl_image_path_with_nul_names_the_field(tmp_path):
    (tmp_path / "a.jsonl").write_text('{"id": 1, "image": "a\\u0000b.png", "label": "positive"}\n')
    with pytest.raises(DataError, match=r"a\.jsonl:1: field 'image'/'images' must not contain a NUL"):
        load_jsonl(tmp_path / "a.jsonl")


def test_csv_field_over_the_csv_limit_is_a_data_error_naming_its_line(tmp_path):
    (tmp_path / "a.csv").write_text("review,label\n好,1\n" + "好" * 200_000 + ",1\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"a\.csv:3: malformed CSV \(field larger than field limit"):
        load_csv(tmp_path / "a.csv")


def test_csv_duplicated_column_is_refused(tmp_path):
    (tmp_path / "a.csv").write_text("review,label,review\n好,1,坏\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"a\.csv:1: column 'review' appears more than once"):
        load_csv(tmp_path / "a.csv")


def test_config_table_without_a_required_key_is_a_config_error(tmp_path):
    (tmp_path / "c.toml").write_text("[[data.extra_corpora]]\nformat = 'csv'\n")
    with pytest.raises(ConfigError, match=r"c\.toml: data\.extra_corpora\[0\]: missing key\(s\) path"):
        load_config(tmp_path / "c.toml")


def test_config_nested_too_deeply_is_a_config_error(tmp_path):
    (tmp_path / "c.toml").write_text("x = " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(ConfigError, match=r"c\.toml: not valid TOML: nested too deeply"):
        load_config(tmp_path / "c.toml")
    with pytest.raises(ConfigError, match=r"--set seed=\[+.*nested too deeply"):
        load_config(None, ["seed=" + "[" * 5000 + "]" * 5000])


def test_user_dictionary_superscript_digit_is_an_error_naming_file_and_line(tmp_path):
    (tmp_path / "dict.txt").write_text("好看 ² n\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"dict\.txt:1: expected 'word \[frequency\] \[tag\]'"):
        Tokenizer(user_dict=str(tmp_path / "dict.txt"))


def test_image_path_with_nul_is_an_image_error():
    with pytest.raises(ImageError, match="cannot read file"):
        load_image("sticker\x00.png")


def test_premultiplied_la_image_is_decoded():
    image = load_image(Image.new("La", (3, 2), (200, 255)))
    assert image.mode == "RGB" and image.size == (3, 2)


def test_crawl_infinite_numbers_fall_back_to_the_default():
    assert as_int(float("inf")) == 0 and as_int("1e400", default=None) is None and as_int("-inf", 7) == 7


def test_crawl_deeply_nested_body_is_a_response_error():
    with pytest.raises(ResponseError, match="nested too deeply"):
        decode_body('{"a": ' + DEEP + "}")


def test_vocabulary_and_manifest_nested_too_deeply_are_refused_naming_the_file(tmp_path):
    (tmp_path / "vocab.json").write_text(DEEP)
    with pytest.raises(ValueError, match=r"vocab\.json: vocabulary is not valid JSON \(nested too deeply\)"):
        Vocabulary.load(tmp_path / "vocab.json")
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / MANIFEST).write_text(DEEP)
    with pytest.raises(BundleError, match=r"manifest\.json: manifest is not valid JSON \(nested too deeply\)"):
        read_manifest(tmp_path / "m")


def test_vocabulary_with_a_lone_surrogate_is_refused(tmp_path):
    (tmp_path / "vocab.json").write_text('["<pad>", "<unk>", "\\ud800"]')
    with pytest.raises(ValueError, match="not valid Unicode"):
        Vocabulary.load(tmp_path / "vocab.json")


def _changed_model(tiny_text_model, tmp_path, **model):
    directory = tmp_path / "model"
    shutil.copytree(tiny_text_model, directory)
    manifest = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    for key, value in model.items():
        if key == "modality":
            manifest["modality"] = value
        else:
            manifest["model"][key] = value
    (directory / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    return directory


def test_manifest_with_a_tokenizer_setting_of_the_wrong_type_is_a_bundle_error(tiny_text_model, tmp_path):
    directory = tmp_path / "model"
    shutil.copytree(tiny_text_model, directory)
    manifest = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    manifest["tokenizer"]["max_tokens"] = [None]  # loaded, then every prediction raised TypeError
    (directory / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(BundleError, match="max_tokens must be a whole number"):
        Classifier.load(directory)


@pytest.mark.parametrize("change", [{"modality": []}, {"embedding_dim": -3}, {"hidden_size": 10**15}, {"num_layers": 10**15}],
                         ids=["unhashable modality", "negative size", "impossible size", "endless layers"])
def test_manifest_with_impossible_model_settings_is_a_bundle_error(tiny_text_model, tmp_path, change):
    with pytest.raises(BundleError, match="manifest.json"):
        Classifier.load(_changed_model(tiny_text_model, tmp_path, **change))


def test_the_service_answers_after_being_started_again(tiny_text_model):
    app = create_app(Classifier.load(tiny_text_model))
    for _ in range(2):  # a second lifespan (a restart, a second test client) found the worker thread shut down
        with TestClient(app) as client:
            assert client.post("/v1/predict", json={"text": "好看"}).status_code == 200


def test_an_empty_multipart_text_is_outside_the_schema_and_refused(tiny_text_model):
    with TestClient(create_app(Classifier.load(tiny_text_model))) as client:
        form = client.get("/openapi.json").json()["paths"]["/v1/predict"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
        assert form["properties"]["text"]["minLength"] == 1 and form["required"] == ["text"]
        response = client.post("/v1/predict", data={"text": ""}, files={})
        assert response.status_code == 422 and response.json()["field"] == "text"


def test_an_empty_image_in_a_batch_for_a_text_model_is_outside_the_schema_and_refused(tiny_text_model):
    with TestClient(create_app(Classifier.load(tiny_text_model))) as client:
        schema = client.get("/openapi.json").json()["components"]["schemas"]["PredictRequest"]
        assert schema["properties"]["image"]["anyOf"] == [{"type": "null"}, {"type": "array", "maxItems": 0}]
        response = client.post("/v1/predict/batch", json={"items": [{"text": "好看", "image": ""}]})
        assert response.status_code == 422 and response.json()["field"] == "items[0].image"
        assert client.post("/v1/predict/batch", json={"items": [{"text": "好看", "image": None}, {"text": "无聊", "image": []}]}).status_code == 200
