"""A crawl killed at any point and started again with the same command ends with every comment
exactly once: no duplicate, no gap."""

from __future__ import annotations

import json
import random

import pytest

from cinesense.crawl import crawler as crawler_module
from cinesense.crawl.checkpoint import load_state, save_state
from cinesense.crawl.crawler import CrawlOptions, crawl
from cinesense.crawl.endpoints import load_endpoints
from fake_tencent import FakeClock, FakeServer, SyntheticArticle, comment, json_reply
from cinesense.crawl.http import Backoff, CrawlError, PoliteClient
from cinesense.crawl.tencent import TencentApi
from cinesense.data.jsonl import load_jsonl
from cinesense.data.schema import DataError

ARTICLE = "7700000001"
TARGET = f"article:{ARTICLE}"


def crawl_once(server, out, **options):
    clock = FakeClock()
    client = PoliteClient(rate=1.0, clock=clock, sleep=clock.sleep, rng=random.Random(0), backoff=Backoff(retries=0))
    return crawl(TARGET, out, TencentApi(client, load_endpoints(base_url=server.url)), CrawlOptions(progress=False, **options))


def written_ids(out) -> list[str]:
    return [json.loads(line)["id"] for line in (out / "comments.jsonl").read_text(encoding="utf-8").splitlines()]


def kill_at_save(monkeypatch, n: int, torn_write: bool) -> None:
    """Make the n-th checkpoint die before it is written (after the page was appended); with
    ``torn_write`` the dying process also leaves half a line at the end of the output."""
    calls = []

    def save(state, directory):
        calls.append(1)
        if len(calls) == n:
            if torn_write and (directory / "state.json").exists():  # no page is written before the first
                with open(directory / "comments.jsonl", "ab") as handle:
                    handle.write(b'{"id": "6990000000000000')
            raise KeyboardInterrupt
        save_state(state, directory)

    monkeypatch.setattr(crawler_module, "save_state", save)


def thread_handler():
    """Three top-level comments with five replies each, one embedded; reply pages of two."""
    roots = [comment(str(900 - i), replies="5") for i in range(3)]
    replies = {r["id"]: [comment(f"{r['id']}{k}", parent=r["id"], root=r["id"]) for k in range(5)] for r in roots}

    def handler(path, query):
        if path == f"/varticle/{ARTICLE}/comment/v2":
            body = {"errCode": 0, "data": {"oritotal": 3, "oriCommList": roots, "last": "898", "hasnext": False,
                                           "repCommList": {rid: rs[:1] for rid, rs in replies.items()}}}
            return json_reply(body)
        root = path.split("/")[2]
        start = 0 if query["cursor"] == "0" else int(query["cursor"][-1]) + 1
        page = replies[root][start : start + 2]
        return json_reply({"errCode": 0, "data": {"repCommList": page, "first": page[-1]["id"] if page else ""}})

    expected = sorted([r["id"] for r in roots] + [x["id"] for rs in replies.values() for x in rs])
    return handler, expected


@pytest.mark.parametrize("torn_write", [False, True])
def test_killed_at_every_checkpoint_resumes_without_duplicates_or_gaps(tmp_path, monkeypatch, torn_write):
    expected = sorted(str(6990000000000000000 + 35 - i) for i in range(35)) + sorted(
        str((6990000000000000000 + 35 - i) * 10) for i in range(35))
    with FakeServer(SyntheticArticle(35, article=ARTICLE, with_replies=True)) as server:
        for n in range(1, 7):  # 1: after resolving the article; 2-5: after pages 1-4; 6: phase done
            out = tmp_path / f"kill{n}"
            with monkeypatch.context() as patch:
                kill_at_save(patch, n, torn_write)
                with pytest.raises(KeyboardInterrupt):
                    crawl_once(server, out)
            state = crawl_once(server, out)
            ids = written_ids(out)
            assert len(ids) == len(set(ids)), f"duplicates after a kill at checkpoint {n}"
            assert sorted(ids) == sorted(expected), f"gap after a kill at checkpoint {n}"
            assert state.stop_reason == "no_more" and state.top_level == 35 and state.comments == 70
            assert len(load_jsonl(out / "comments.jsonl", require_label=False)) == 70


def test_killed_inside_a_reply_thread_resumes_it(tmp_path, monkeypatch):
    handler, expected = thread_handler()
    with FakeServer(handler) as server:
        for n in range(2, 12):
            out = tmp_path / f"kill{n}"
            with monkeypatch.context() as patch:
                kill_at_save(patch, n, torn_write=True)
                with pytest.raises(KeyboardInterrupt):
                    crawl_once(server, out, replies=True)
            state = crawl_once(server, out, replies=True)
            ids = written_ids(out)
            assert sorted(ids) == expected and len(ids) == len(set(ids)), f"kill at checkpoint {n}"
            assert state.completed == ["comments", "replies"] and state.threads == 3


def test_failed_request_stops_and_the_same_command_continues(tmp_path):
    article = SyntheticArticle(95, article=ARTICLE)
    outage = {"on": False}

    def handler(path, query):
        if outage["on"] and query["cursor"] == str(6990000000000000000 + 95 - 40 + 1):
            return 503, {}, b"down"
        return article(path, query)

    out = tmp_path / "out"
    with FakeServer(handler) as server:
        outage["on"] = True
        with pytest.raises(CrawlError, match="503"):
            crawl_once(server, out)
        assert load_state(out).pages == 4 and len(written_ids(out)) == 40
        outage["on"] = False
        state = crawl_once(server, out)
        again = crawl_once(server, out)  # a finished crawl asks for nothing more
        assert len(server.requests) == 4 + 1 + 6
    ids = written_ids(out)
    assert len(ids) == len(set(ids)) == 95 and state.pages == 10 and again.pages == 10


def test_another_target_or_a_foreign_folder_is_refused(tmp_path):
    with FakeServer(SyntheticArticle(5, article=ARTICLE)) as server:
        crawl_once(server, tmp_path / "a")
        client = PoliteClient(rate=None)
        with pytest.raises(DataError, match="holds the crawl of"):
            crawl("article:123", tmp_path / "a", TencentApi(client, load_endpoints(base_url=server.url)))
        (tmp_path / "b").mkdir()
        (tmp_path / "b" / "comments.jsonl").write_text('{"id": "x", "text": "mine"}\n')
        with pytest.raises(DataError, match="no crawl state"):
            crawl_once(server, tmp_path / "b")
    assert (tmp_path / "b" / "comments.jsonl").read_text() == '{"id": "x", "text": "mine"}\n'
