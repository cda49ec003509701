"""Property tests of crawl response parsing (issue 16): any body gives a decoded object or a
``ResponseError``; any decoded object gives a page, segments and items, never an exception; the
value coercions never raise."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from cinesense.crawl.parse import (ResponseError, as_bool, as_float, as_int, as_str, danmu_items, danmu_segments, decode_body, next_cursor,
                                   parse_comment_page, parse_query)
from fuzzing import fuzz_settings, tried

SCALARS = (st.none() | st.booleans() | st.integers() | st.integers(-10**30, 10**30) | st.floats() | st.text(max_size=10) |
           st.sampled_from(["1e400", "-inf", "nan", "NaN", " 12 ", "0x10", "1_000", "١٢", "9" * 5000, "false", "null", "[]"]))
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
    st.sampled_from(["data", "errCode", "errcode", "oriCommList", "repCommList", "hotCommList", "userList", "oritotal", "reqnum",
                     "retnum", "first", "last", "hasnext", "targetid", "id", "segment_index", "segment_start", "segment_name",
                     "barrage_list", "datakey"]) | st.text(max_size=5), inner, max_size=5), max_leaves=20)


@given(body=st.one_of(
    JSON.map(lambda v: json.dumps(v, allow_nan=True)),
    JSON.map(lambda v: f"callback({json.dumps(v)});"), JSON.map(lambda v: f"QZOutputJson={json.dumps(v)};"),
    st.text(max_size=60), st.integers(1, 50_000).map(lambda n: '{"a":' + "[" * n + "]" * n + "}"),
    st.sampled_from(["\ufeff{}", "{", "}{", "jsonp()", "<html>502</html>", '{"a": 1}{"b": 2}', '{"a":"\x00\x1f"}'])))
@fuzz_settings(200)
def test_any_body_decodes_or_is_refused_as_a_response_error(body):
    tried("crawl.parse.decode_body")
    try:
        value = decode_body(body)
    except ResponseError:
        return
    assert isinstance(value, dict)
    for reply_page in (False, True):
        page = parse_comment_page(value, reply_page=reply_page)
        assert all(isinstance(c, dict) for c in page.comments + page.replies + page.hot)
    assert all(isinstance(s, str) and s for s in danmu_segments(value))
    assert all(isinstance(d, dict) for d in danmu_items(value))


@given(value=JSON)
@fuzz_settings(200)
def test_the_coercions_of_a_field_never_raise(value):
    tried("crawl.parse (field coercions)")
    assert as_int(value, default=None) is None or isinstance(as_int(value, default=None), int)
    number = as_float(value)
    assert number is None or number == number
    assert isinstance(as_str(value), str) and as_bool(value) in (None, True, False)
    assert next_cursor(value) is None or next_cursor(value).strip()
    if isinstance(value, (str, int)):
        assert isinstance(parse_query(value), dict)
    page = parse_comment_page({"data": value, "errCode": value})
    assert isinstance(page.err_code, int)
