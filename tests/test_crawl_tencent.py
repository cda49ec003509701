"""The crawl against a local server: article id, every stop condition, retries, replies, danmu."""

from __future__ import annotations

import json
import random
from dataclasses import replace

import pytest

from cinesense.crawl.crawler import CrawlOptions, crawl
from cinesense.crawl.endpoints import load_endpoints
from fake_tencent import FakeClock, FakeServer, SyntheticArticle, comment, json_reply, page_body
from cinesense.crawl.http import Backoff, CrawlError, PoliteClient
from cinesense.crawl.tencent import TencentApi

ARTICLE = "7700000001"
COMMENTS = f"/varticle/{ARTICLE}/comment/v2"


def make_api(server: FakeServer, clock: FakeClock, *, retries: int = 3, callback: str = "", rate: float | None = 1.0) -> TencentApi:
    endpoints = load_endpoints(base_url=server.url)
    if callback:
        endpoints["comments"] = replace(endpoints["comments"], params={**endpoints["comments"].params, "callback": callback})
    client = PoliteClient(rate=rate, clock=clock, sleep=clock.sleep, rng=random.Random(0),
                          backoff=Backoff(base=1.0, max_delay=30.0, retries=retries))
    return TencentApi(client, endpoints)


def run(tmp_path, handler, target=f"article:{ARTICLE}", retries=3, callback="", rate=1.0, **options):
    clock = FakeClock()
    with FakeServer(handler) as server:
        state = crawl(target, tmp_path / "out", make_api(server, clock, retries=retries, callback=callback, rate=rate),
                      CrawlOptions(progress=False, **options))
    lines = (tmp_path / "out" / "comments.jsonl").read_text(encoding="utf-8").splitlines()
    return state, [json.loads(line) for line in lines], server, clock


def ids(first: int, n: int) -> list[str]:
    """n comment ids falling from ``first``, as a newest-first listing has them."""
    return [str(6990000000000000000 + first - i) for i in range(n)]


def by_cursor(pages: dict[str, dict], errors: dict[str, list[int]] | None = None):
    """Serve ``pages[cursor]``; ``errors[cursor]`` lists statuses to answer first, in turn."""
    errors = {k: list(v) for k, v in (errors or {}).items()}

    def handler(path, query):
        if path != COMMENTS:
            return 404, {}, b""
        cursor = query["cursor"]
        if errors.get(cursor):
            return errors[cursor].pop(0), {}, b"try later"
        return json_reply(pages[cursor], callback=query.get("callback") or None)

    return handler


def listing(*sizes: int, **last_page: object) -> dict[str, dict]:
    """Pages of the given sizes chained by ``cursor = last``; ``last_page`` overrides the final page."""
    pages, cursor, first = {}, "0", 100
    for n, size in enumerate(sizes):
        page_ids = ids(first, size)
        first -= size
        final = n == len(sizes) - 1
        settings = {"last": page_ids[-1] if page_ids else "", "hasnext": not final, **(last_page if final else {})}
        pages[cursor] = page_body([comment(i) for i in page_ids], **settings)
        cursor = page_ids[-1] if page_ids else "none"
    return pages


@pytest.mark.parametrize("pages, reason, count", [
    (listing(10, 10, hasnext=False), "no_more", 20),
    (listing(10, 0, hasnext=True), "empty_page", 10),
    (listing(10, 10, last=ids(91, 1)[0], hasnext=True), "repeated_cursor", 20),
    (listing(10, 10, hasnext=None, total=20), "reached_total", 20),
    (listing(10, 4, hasnext=None), "short_page", 14),
])
def test_each_stop_condition_stops_the_crawl(tmp_path, pages, reason, count):
    state, records, server, _ = run(tmp_path, by_cursor(pages))
    assert state.stop_reason == reason
    assert len(records) == count == len({r["id"] for r in records})
    assert len(server.requests) == len(pages)


@pytest.mark.parametrize("bad", ["", "false", False, None])
def test_empty_or_false_cursor_backs_off_then_stops(tmp_path, bad):
    pages = listing(10, 10, last=bad, hasnext=True)
    state, records, server, clock = run(tmp_path, by_cursor(pages), rate=None)
    assert state.stop_reason == "no_cursor" and len(records) == 20
    assert len(server.requests) == 2 + 3  # the page is asked for again cursor_retries (3) times
    assert len(clock.sleeps) == 3 and all(2.0**k / 2 <= s <= 2.0**k for k, s in enumerate(clock.sleeps))


def test_transient_false_cursor_recovers(tmp_path):
    pages = listing(10, 10, hasnext=False)
    flaky = json.loads(json.dumps(pages["0"]))
    flaky["data"]["last"] = "false"
    served = [flaky]

    def handler(path, query):
        if query["cursor"] == "0" and served:
            return json_reply(served.pop())
        return by_cursor(pages)(path, query)

    state, records, _, _ = run(tmp_path, handler)
    assert state.stop_reason == "no_more" and len(records) == 20 and state.duplicates == 10


def test_page_cap_is_a_hard_limit_and_a_larger_cap_continues(tmp_path):
    state, records, _, _ = run(tmp_path, SyntheticArticle(1000, article=ARTICLE), max_pages=3)
    assert (state.stop_reason, state.pages, len(records)) == ("page_cap", 3, 30)
    state, records, server, _ = run(tmp_path, SyntheticArticle(1000, article=ARTICLE), max_pages=5)
    assert (state.stop_reason, state.pages, len(records)) == ("page_cap", 5, 50)
    assert len({r["id"] for r in records}) == 50 and len(server.requests) == 2


def test_errcode_is_retried_with_backoff_then_given_up(tmp_path):
    pages = listing(10, 10, hasnext=False)
    failing = {"errCode": 10001, "data": {}}
    queue = [failing, failing]

    def handler(path, query):
        if query["cursor"] != "0" and queue:
            return json_reply(queue.pop())
        return by_cursor(pages)(path, query)

    state, records, server, clock = run(tmp_path, handler, rate=None)
    assert state.stop_reason == "no_more" and len(records) == 20 and len(server.requests) == 4
    assert len(clock.sleeps) == 2 and all(2.0**k / 2 <= s <= 2.0**k for k, s in enumerate(clock.sleeps))

    with pytest.raises(CrawlError, match="errCode 10001"):
        run(tmp_path / "again", lambda path, query: json_reply(failing), retries=2)


def test_429_and_a_page_that_fails_once_then_succeeds(tmp_path):
    pages = listing(10, 10, 10, hasnext=False)
    second, third = ids(91, 1)[0], ids(81, 1)[0]
    state, records, server, _ = run(tmp_path, by_cursor(pages, {second: [429, 429], third: [500]}))
    assert state.stop_reason == "no_more" and len(records) == 30 and len({r["id"] for r in records}) == 30
    assert [r.query["cursor"] for r in server.requests] == ["0", second, second, second, third, third]


def test_jsonp_and_numbers_for_strings(tmp_path):
    pages = listing(10, 10, hasnext=False)
    for page in pages.values():
        for c in page["data"]["oriCommList"]:
            c.update(id=int(c["id"]), up=int(c["up"]), time=int(c["time"]))
        page["data"]["oritotal"] = "20"
    state, records, server, _ = run(tmp_path, by_cursor(pages), callback="_varticle7700000001commentv2")
    assert server.requests[0].query["callback"] == "_varticle7700000001commentv2"
    assert len(records) == 20 and all(isinstance(r["id"], str) and isinstance(r["likes"], int) for r in records)
    assert state.oritotal == 20


def test_overlapping_pages_are_deduplicated_by_id(tmp_path):
    pages = listing(10, 10, hasnext=False)
    overlap = pages["0"]["data"]["oriCommList"][-2:]
    pages[ids(91, 1)[0]]["data"]["oriCommList"][:0] = overlap
    state, records, _, _ = run(tmp_path, by_cursor(pages))
    assert len(records) == 20 == len({r["id"] for r in records}) and state.duplicates == 2


def resolver(page_html: str | None, cgi: str | None):
    def handler(path, query):
        if path.startswith("/x/") and page_html is not None:
            return 200, {"Content-Type": "text/html; charset=utf-8"}, page_html.encode()
        if path == "/fcgi-bin/video_comment_id" and cgi is not None:
            return 200, {}, cgi.encode()
        if path == COMMENTS:
            return json_reply(page_body([comment("9")], last="9", hasnext=False))
        return 404, {}, b"no"
    return handler


@pytest.mark.parametrize("page_html, cgi", [
    ('<script>var COVER_INFO = {"vid":"x0000abcd12","comment_id":"7700000001","title":"t"}</script>', None),
    (None, 'QZOutputJson={"result":{"code":0},"comment_id":"7700000001","srcid":"x0000abcd12"};'),
])
def test_article_id_from_play_page_then_video_comment_id(tmp_path, page_html, cgi):
    url = "https://v.qq.com/x/cover/mzc00200example/x0000abcd12.html"
    state, records, server, _ = run(tmp_path, resolver(page_html, cgi), target=url)
    assert state.article == ARTICLE and (state.vid, state.cid) == ("x0000abcd12", "mzc00200example")
    assert server.requests[0].path == "/x/cover/mzc00200example/x0000abcd12.html"
    if cgi:
        assert server.requests[1].query["vid"] == "x0000abcd12" and "cid" not in server.requests[1].query
    assert records[0]["id"] == "9"


def test_unresolvable_article_is_a_clear_error(tmp_path):
    with pytest.raises(CrawlError, match="article:ID"):
        run(tmp_path, resolver(None, 'QZOutputJson={"comment_id":""};'), target="x0000abcd12")


def test_reply_threads_page_with_first_as_cursor(tmp_path):
    root = comment("500", replies="5")
    embedded = [comment(f"50{i}", parent="500", root="500") for i in (1, 2)]
    thread = {"0": ["501", "502", "503"], "503": ["504", "505"]}

    def handler(path, query):
        if path == COMMENTS:
            return json_reply(page_body([root, comment("400")], last="400", hasnext=False, replies={"500": embedded}))
        if path == "/vcomment/500/reply/v2":
            replies = [comment(i, parent="500", root="500") for i in thread[query["cursor"]]]
            return json_reply({"errCode": 0, "data": {"repCommList": replies, "first": replies[-1]["id"], "userList": []}})
        return 404, {}, b""

    state, records, server, _ = run(tmp_path, handler, replies=True)
    assert [r.query["cursor"] for r in server.requests if "reply" in r.path] == ["0", "503"]
    assert server.requests[-1].query["targetid"] == ARTICLE
    assert sorted(r["id"] for r in records if r["kind"] == "reply") == ["501", "502", "503", "504", "505"]
    assert (state.threads, state.duplicates, state.completed) == (1, 2, ["comments", "replies"])


def test_danmu_from_base_index_and_segments(tmp_path):
    segments = {"t/v1/0/30000": [{"id": "1", "content": "前方高能", "time_offset": "1500"}],
                "t/v1/30000/60000": [{"id": "2", "content": "哈哈哈"}, {"id": "3", "content": "", "time_offset": 40000}]}

    def handler(path, query):
        if path == COMMENTS:
            return json_reply(page_body([comment("9")], last="9", hasnext=False))
        if path == "/x/page/x0000abcd12.html":
            return 200, {}, b'"comment_id":"7700000001"'
        if path == "/barrage/base/x0000abcd12":
            index = {str(i * 30000): {"segment_start": str(i * 30000), "segment_name": n} for i, n in enumerate(segments)}
            return json_reply({"segment_start": "0", "segment_span": "30000", "segment_index": index})
        if path.startswith("/barrage/segment/x0000abcd12/"):
            return json_reply({"barrage_list": segments[path.split("x0000abcd12/")[1]]})
        return 404, {}, b""

    state, _, server, _ = run(tmp_path, handler, target="vid:x0000abcd12", danmu=True)
    assert state.article == "7700000001"
    danmu = [json.loads(line) for line in (tmp_path / "out" / "danmu.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [d["text"] for d in danmu] == ["前方高能", "哈哈哈"] and state.empty == 1
    assert all(r.headers.get("Referer") == "https://v.qq.com/" for r in server.requests if "barrage" in r.path)
