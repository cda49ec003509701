"""predict-file on Ray Data (cinesense.predict_ray): the same rows as the single-process engine, from
an actor pool on a local Ray with 2 CPUs; JSONL and Parquet in and out; bad lines."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import tiny_texts

ray = pytest.importorskip("ray", reason="the optional extra 'ray' (in the test extra) is not installed")

from cinesense import Classifier  # noqa: E402
from cinesense.cli import main  # noqa: E402
from cinesense.data.schema import DataError  # noqa: E402
from cinesense.predict_file import predict_file  # noqa: E402
from cinesense.predict_ray import iter_output, predict_file_ray  # noqa: E402


@pytest.fixture(scope="module")
def local_ray():
    if ray.is_initialized():
        ray.shutdown()
    ray.init(num_cpus=2, include_dashboard=False, logging_level="warning", log_to_driver=False)
    yield
    ray.shutdown()


def write_comments(path, n=57, seed=7, extra=()):
    lines = [json.dumps({"id": f"c{i}", "text": text, "label": label}, ensure_ascii=False)
             for i, (text, label) in enumerate(tiny_texts(n, seed=seed))]
    lines.insert(3, "")  # blank: skipped, not answered; the numbers after it move on by one
    lines.extend(extra)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def read(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def assert_same_rows(ray_rows, single_rows):
    assert [(r["line"], r["id"], r.get("label"), r.get("error")) for r in ray_rows] == \
           [(r["line"], r["id"], r.get("label"), r.get("error")) for r in single_rows]
    scored = [i for i, r in enumerate(single_rows) if "probabilities" in r]
    assert [list(ray_rows[i]["probabilities"]) for i in scored] == [list(single_rows[i]["probabilities"]) for i in scored]
    np.testing.assert_allclose([list(ray_rows[i]["probabilities"].values()) for i in scored],
                               [list(single_rows[i]["probabilities"].values()) for i in scored], rtol=0, atol=1e-6)


def test_ray_scoring_equals_single_process(local_ray, tiny_text_model, tmp_path):
    data = write_comments(tmp_path / "comments.jsonl")
    single, on_ray = tmp_path / "single.jsonl", tmp_path / "ray.jsonl"
    predict_file(Classifier.load(tiny_text_model), data, single, batch_size=8, progress=False)
    # small read chunks and batches: several read tasks and blocks, both actors busy, order kept
    result = predict_file_ray(tiny_text_model, data, on_ray, batch_size=8, chunk_bytes=512, progress=False)
    assert (result.predicted, result.errors) == (57, 0)
    rows = read(on_ray)
    assert len(rows) == 57 and rows[3]["line"] == 5
    assert_same_rows(rows, read(single))
    one_reader = tmp_path / "one_reader.jsonl"  # one read task at a time: the same rows, in order
    predict_file_ray(tiny_text_model, data, one_reader, batch_size=8, chunk_bytes=512, read_concurrency=1, progress=False)
    assert_same_rows(read(one_reader), read(single))
    with pytest.raises(ValueError, match="read_concurrency"):
        predict_file_ray(tiny_text_model, data, tmp_path / "never.jsonl", read_concurrency=0, progress=False)


def test_parquet_in_and_out(local_ray, tiny_text_model, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pairs = tiny_texts(30, seed=3)
    table = pa.table({"id": [f"p{i}" for i in range(30)], "text": [t for t, _ in pairs], "label": [label for _, label in pairs]})
    pq.write_table(table, tmp_path / "comments.parquet", row_group_size=7)  # five row groups: five read tasks
    out = tmp_path / "predictions.parquet"
    predict_file_ray(tiny_text_model, tmp_path / "comments.parquet", out, batch_size=4, progress=False)
    rows = list(iter_output(out))
    expected = Classifier.load(tiny_text_model).predict_proba([t for t, _ in pairs])
    assert [r["line"] for r in rows] == list(range(1, 31)) and [r["id"] for r in rows] == [f"p{i}" for i in range(30)]
    np.testing.assert_allclose([list(r["probabilities"].values()) for r in rows], expected, atol=1e-6)
    assert pq.read_schema(out).field("probabilities").type.num_fields == 2


def test_bad_lines_as_predict_file_says(local_ray, tiny_text_model, tmp_path):
    data = write_comments(tmp_path / "bad.jsonl", n=10, extra=['{"id": "x1", "text": 3}', "not json", '{"id": "x2", "text": "好看"}'])
    single, on_ray = tmp_path / "single.jsonl", tmp_path / "ray.jsonl"
    predict_file(Classifier.load(tiny_text_model), data, single, skip_invalid=True, progress=False)
    result = predict_file_ray(tiny_text_model, data, on_ray, skip_invalid=True, progress=False)
    assert result.errors == 2
    assert_same_rows(read(on_ray), read(single))
    with pytest.raises(DataError, match=r"bad\.jsonl:12: field 'text' must be a string"):
        predict_file_ray(tiny_text_model, data, tmp_path / "stops.jsonl", progress=False)
    assert not (tmp_path / "stops.jsonl").exists() and not (tmp_path / "stops.jsonl.partial").exists()
    with pytest.raises(DataError, match="exists"):  # no overwrite, no resume: the ray engine refuses an output
        predict_file_ray(tiny_text_model, data, on_ray, skip_invalid=True, progress=False)


def test_cli_engine_ray(local_ray, tiny_text_model, tmp_path, capsys):
    data = write_comments(tmp_path / "comments.jsonl", n=12)
    out = tmp_path / "cli.jsonl"
    assert main(["predict-file", "--engine", "ray", "--model", str(tiny_text_model), "--data", str(data), "--out", str(out),
                 "--quiet"]) == 0
    assert "predicted 12 comments" in capsys.readouterr().out
    single = tmp_path / "single.jsonl"
    predict_file(Classifier.load(tiny_text_model), data, single, progress=False)
    assert_same_rows(read(out), read(single))
