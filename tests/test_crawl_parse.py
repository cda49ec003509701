"""Lenient parsing of the documented shapes, records in the project's format, endpoints and targets."""

from __future__ import annotations

import json

import pytest

from cinesense.config import ConfigError
from cinesense.crawl.endpoints import DEFAULT_ENDPOINTS, dump_endpoints, load_endpoints
from fake_tencent import comment, page_body
from cinesense.crawl.parse import (
    ResponseError, as_bool, as_int, as_str, danmu_segments, decode_body, next_cursor, parse_comment_page,
)
from cinesense.crawl.records import Privacy, comment_record, danmu_record
from cinesense.crawl.tencent import Target, parse_target

BODY = page_body([comment("6990000000000000910", content="这一集太好哭了[流泪][流泪]\n演员都好用心 😭 #某某剧#")], last="6990000000000000910")


@pytest.mark.parametrize("wrap", [
    lambda text: text,
    lambda text: f"_varticle7700000001commentv2({text})",
    lambda text: f"_varticle7700000001commentv2({text});\n",
    lambda text: f"QZOutputJson={text};",
    lambda text: "\ufeff  " + text,
])
def test_json_and_jsonp_wrappers_decode_the_same(wrap):
    assert decode_body(wrap(json.dumps(BODY))) == BODY


def test_surrogate_escapes_and_raw_control_characters_are_accepted():
    assert decode_body('{"content": "\\ud83d\\ude09 ok\tfine"}')["content"] == "\U0001f609 ok\tfine"


@pytest.mark.parametrize("body", ["<html>502 Bad Gateway</html>", "cb({\"a\": }", "[1, 2]", ""])
def test_garbage_is_a_response_error(body):
    with pytest.raises(ResponseError):
        decode_body(body)


def test_mixed_types_parse_leniently():
    assert [as_int(v) for v in ("57", 57, 57.0, " 57 ", "5.7e1", "", None, "x")] == [57, 57, 57, 57, 57, 0, 0, 0]
    assert as_str(6990000000000000910) == "6990000000000000910"
    assert as_str(1.0e3) == "1000"
    assert [as_bool(v) for v in (True, "true", 1, "1", False, "false", 0, "0", "", None)] == [
        True, True, True, True, False, False, False, False, False, None]
    assert [next_cursor(v) for v in ("6990000000000000001", 6990000000000000001, "", "false", False, None, "0")] == [
        "6990000000000000001", "6990000000000000001", None, None, None, None, None]


@pytest.mark.parametrize("replies", [[], {}, None])
def test_empty_repcommlist_as_list_or_object(replies):
    body = page_body([comment("2")], last="2")
    body["data"]["repCommList"] = replies
    body["data"]["userList"] = []
    page = parse_comment_page(body)
    assert page.replies == [] and page.users == {} and len(page.comments) == 1


def test_page_fields_are_normalised():
    body = page_body([comment("3"), comment("2")], last=2, hasnext="true", total="1234",
                     replies={"3": [comment("31", parent="3", root="3")]})
    page = parse_comment_page(body)
    assert (page.total, page.returned, page.has_next, page.last, page.err_code) == (1234, 2, True, 2, 0)
    assert [r["id"] for r in page.replies] == ["31"]
    assert parse_comment_page({"errCode": "-1", "data": {}}).err_code == -1


def test_comment_record_keeps_emoticons_ids_and_unknown_fields_without_personal_data():
    raw = comment("6990000000000000910", content="同感[流泪]😭", up=57, replies="3", userid="210000001", ispick="1",
                  extend={"at": "0"})
    users = {"210000001": {"nick": "追剧的小王", "head": "https://q.qlogo.cn/x"}}
    record = comment_record(raw, users, Privacy(salt="s"))
    assert record["id"] == "6990000000000000910" and record["text"] == "同感[流泪]😭"
    assert (record["likes"], record["reply_count"], record["time"], record["parent"]) == (57, 3, 1660000000, None)
    assert (record["vid"], record["cid"], record["article"]) == ("x0000abcd12", "mzc00200example", "7700000001")
    assert record["raw"]["ispick"] == "1" and record["raw"]["extend"] == {"at": "0"}
    text = json.dumps(record, ensure_ascii=False)
    assert "210000001" not in text and "追剧的小王" not in text and "qlogo" not in text
    assert record["author"] == comment_record(raw, users, Privacy(salt="s"))["author"]
    assert record["author"] != comment_record(raw, users, Privacy(salt="other"))["author"]
    chosen = comment_record(raw, users, Privacy(salt="s", nicknames=True, avatars=True))
    assert (chosen["author_nick"], chosen["author_avatar"]) == ("追剧的小王", "https://q.qlogo.cn/x")


def test_reply_record_points_at_parent_and_root():
    record = comment_record(comment("31", parent="30", root="3"), {}, Privacy("s"))
    assert (record["kind"], record["parent"], record["root"]) == ("reply", "30", "3")


def test_attached_images_are_found_and_empty_text_is_left_out():
    raw = comment("5", content="", richtype="1", picture=[{"url": "https://puep.qpic.cn/coral/abc/0", "width": 120}])
    record = comment_record(raw, {}, Privacy("s"))
    assert record["image_urls"] == ["https://puep.qpic.cn/coral/abc/0"] and "text" not in record
    assert record["raw"]["richtype"] == "1"


def test_danmu_segments_and_records():
    base = {"segment_index": {"30000": {"segment_start": "30000", "segment_name": "t/v1/30000/60000"},
                              "0": {"segment_start": "0", "segment_name": "t/v1/0/30000"}}}
    assert danmu_segments(base) == ["t/v1/0/30000", "t/v1/30000/60000"]
    item = {"id": "7600000000000000001", "content": "前方高能", "time_offset": "1500", "create_time": "1660000000",
            "content_style": "", "content_score": 12.5, "nick": "某人", "up_count": "2"}
    record = danmu_record(item, "x0000abcd12", Privacy("s"))
    assert (record["offset_ms"], record["likes"], record["score"], record["kind"]) == (1500, 2, 12.5, "danmu")
    assert "author_nick" not in record and "content_style" in record["raw"]


@pytest.mark.parametrize("text, expected", [
    ("https://v.qq.com/x/cover/mzc00200example/x0000abcd12.html", Target(vid="x0000abcd12", cid="mzc00200example")),
    ("v.qq.com/x/cover/mzc00200example.html?vid=x0000abcd12", Target(vid="x0000abcd12", cid="mzc00200example")),
    ("https://v.qq.com/x/page/x0000abcd12.html", Target(vid="x0000abcd12")),
    ("x0000abcd12", Target(vid="x0000abcd12")),
    ("mzc00200example", Target(cid="mzc00200example")),
    ("5963120294", Target(article="5963120294")),
    ("cid:abc", Target(cid="abc")),
])
def test_targets(text, expected):
    assert parse_target(text) == expected


@pytest.mark.parametrize("text", ["https://example.com/watch", "abc"])
def test_bad_target_says_how_to_disambiguate(text):
    with pytest.raises(ValueError, match="URL|vid:"):
        parse_target(text)


def test_base_url_keeps_each_path_and_overrides_need_no_code(tmp_path):
    endpoints = load_endpoints(base_url="http://127.0.0.1:8000/")
    assert endpoints["comments"].build(targetid="77", cursor="0").startswith("http://127.0.0.1:8000/varticle/77/comment/v2?")
    assert endpoints["danmu_segment"].build(vid="v", segment="t/v1/0/30000") == "http://127.0.0.1:8000/barrage/segment/v/t/v1/0/30000"
    overlay = tmp_path / "endpoints.toml"
    overlay.write_text('[comments]\nurl = "https://coral.qq.com/article/{targetid}/comment/v2"\n'
                       '[comments.params]\norinum = 30\n_ = ""\n[comments.headers]\nReferer = "https://v.qq.com/"\n')
    changed = load_endpoints(overlay)["comments"]
    url = changed.build(targetid="77", cursor="5")
    assert url.startswith("https://coral.qq.com/article/77/comment/v2?") and "orinum=30" in url and "cursor=5" in url
    assert "_=" not in url and changed.headers == {"Referer": "https://v.qq.com/"}


def test_endpoint_file_round_trips_and_rejects_unknown_keys(tmp_path):
    path = tmp_path / "endpoints.toml"
    path.write_text(dump_endpoints(DEFAULT_ENDPOINTS), encoding="utf-8")
    assert load_endpoints(path) == DEFAULT_ENDPOINTS
    path.write_text('[comments]\nurls = "x"\n')
    with pytest.raises(ConfigError, match="endpoints.toml.*unknown key"):
        load_endpoints(path)
    path.write_text('[coments]\nurl = "x"\n')
    with pytest.raises(ConfigError, match="unknown endpoint"):
        load_endpoints(path)
