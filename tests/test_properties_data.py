"""Property tests of the data loaders a user's files reach (issue 16): the JSONL and CSV readers.

Property: any bytes give records, or a ``DataError`` naming the file and line; never another
exception. Invariants: what ``write_jsonl`` writes reads back the same; a record's fields survive
the JSON encoding they were given in.
"""

from __future__ import annotations

import codecs
import json

from hypothesis import given
from hypothesis import strategies as st

from cinesense.data.csvfile import load_csv
from cinesense.data.jsonl import load_jsonl, write_jsonl
from cinesense.data.schema import DataError, Record
from fuzzing import fuzz_settings, tried

BOMS = [b"", codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF8 * 2]
LABELS = st.sampled_from(["positive", "negative", "neutral", "", 1, 0, None, True, 2.5, [], {}])
JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                           max_leaves=10)


@st.composite
def record_lines(draw) -> bytes:
    """One line: a plausible record (with odd values), deep JSON, a duplicated field, or junk."""
    kind = draw(st.sampled_from(["record", "record", "deep", "duplicate", "junk", "blank", "huge"]))
    if kind == "record":
        obj = {"id": draw(st.one_of(st.integers(), st.text(max_size=8), st.none(), st.booleans())),
               "text": draw(st.one_of(st.text(max_size=30), st.none(), st.integers())),
               "label": draw(LABELS)}
        if draw(st.booleans()):
            obj["image"] = draw(st.one_of(st.text(max_size=10), st.none(), st.integers()))
        if draw(st.booleans()):
            obj["extra"] = draw(JSON_VALUES)
        keys = draw(st.sets(st.sampled_from(sorted(obj)), min_size=1))
        line = json.dumps({k: obj[k] for k in obj if k in keys}, ensure_ascii=draw(st.booleans()))
        return line.encode("utf-8", "surrogatepass")
    if kind == "deep":
        depth = draw(st.integers(1, 50_000))
        return (b"[" * depth + b"]" * depth) if draw(st.booleans()) else b'{"id": ' + b"[" * depth + b"}"
    if kind == "duplicate":
        field = draw(st.sampled_from(["id", "text", "label", "image"]))
        return f'{{"id": 1, "text": "好看", "label": "positive", "{field}": "x"}}'.encode()
    if kind == "blank":
        return draw(st.sampled_from([b"", b"   ", b"\t", b"\r"]))
    if kind == "huge":
        return json.dumps({"id": "h", "text": "好" * draw(st.integers(10_000, 300_000)), "label": "positive"}).encode()
    return draw(st.binary(max_size=60))


@st.composite
def jsonl_files(draw) -> bytes:
    lines = draw(st.lists(record_lines(), max_size=6))
    ending = draw(st.sampled_from([b"\n", b"\r\n"]))
    return draw(st.sampled_from(BOMS[:2])) + ending.join(lines) + draw(st.sampled_from([b"", ending]))


@given(content=jsonl_files())
@fuzz_settings(150)
def test_any_jsonl_file_gives_records_or_an_error_naming_file_and_line(tmp_path_factory, content):
    tried("data.jsonl.load_jsonl")
    path = tmp_path_factory.mktemp("jsonl") / "data.jsonl"
    path.write_bytes(content)
    try:
        dataset = load_jsonl(path, require_label=False)
    except DataError as error:
        assert str(error).startswith(f"{path}:"), error
        line = int(str(error)[len(str(path)) + 1:].split(":")[0])
        assert 1 <= line <= content.count(b"\n") + 1
        skipped = load_jsonl(path, require_label=False, skip_invalid=True)  # the same file, bad lines left out
        assert any(s.line == line for s in skipped.skipped)
        return
    for record in dataset.records:  # what was accepted is what was written, and can be written back
        assert record.text is None or record.text.strip()
        assert isinstance(record.id, str) and (record.label is None or isinstance(record.label, str))
    out = path.with_name("out.jsonl")
    write_jsonl(dataset.records, out)
    again = load_jsonl(out, require_label=False)
    assert [(r.id, r.text, r.label, r.images) for r in again.records] == [(r.id, r.text, r.label, r.images) for r in dataset.records]


@given(records=st.lists(st.builds(Record, id=st.text(min_size=1, max_size=8), text=st.text(min_size=1, max_size=40).filter(str.strip),
                                  label=st.sampled_from(["positive", "negative"])),
                        max_size=8, unique_by=lambda r: r.id))
@fuzz_settings(100)
def test_write_then_load_jsonl_is_the_identity(tmp_path_factory, records):
    tried("data.jsonl.write_jsonl + load_jsonl")
    path = tmp_path_factory.mktemp("roundtrip") / "data.jsonl"
    write_jsonl(records, path)
    assert load_jsonl(path).records == records


@st.composite
def csv_files(draw) -> bytes:
    header = draw(st.sampled_from(["review,label", "label,review", "review,label,review", "text,label", "review", '"review","label"', ""]))
    cells = st.one_of(st.text(max_size=12), st.sampled_from(["0", "1", "", '"', '""', "\x00", "\r\n", '"a,b"', "a" * 140_000]))
    rows = draw(st.lists(st.lists(cells, min_size=0, max_size=3).map(",".join), max_size=6))
    text = "\n".join([header, *rows])
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-16", "gbk", "latin-1"]))
    data = text.encode(encoding, "replace") if encoding != "utf-8" else text.encode("utf-8", "surrogatepass")
    if draw(st.booleans()):
        data = draw(st.sampled_from(BOMS)) + data
    if draw(st.integers(0, 4)) == 0:
        data = data[: draw(st.integers(0, len(data)))] + draw(st.binary(max_size=8))
    return data


@given(content=csv_files())
@fuzz_settings(150)
def test_any_csv_file_gives_records_or_an_error_naming_file_and_line(tmp_path_factory, content):
    tried("data.csvfile.load_csv")
    path = tmp_path_factory.mktemp("csv") / "data.csv"
    path.write_bytes(content)
    try:
        dataset = load_csv(path)
    except DataError as error:
        assert str(error).startswith(f"{path}:"), error
        line = int(str(error)[len(str(path)) + 1:].split(":")[0])
        assert 1 <= line <= content.count(b"\n") + 2
        return
    for record in dataset.records:
        assert record.text and record.text == record.text.strip() and record.label in ("positive", "negative")
        assert 2 <= record.line <= content.count(b"\n") + 1
