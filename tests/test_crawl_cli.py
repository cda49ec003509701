"""`cinesense crawl tencent` and `cinesense data import` end to end, against a local server."""

from __future__ import annotations

import json

from cinesense.cli import main
from fake_tencent import FakeServer, SyntheticArticle
from cinesense.data.jsonl import load_jsonl

ARTICLE = "7700000001"
URL = "https://v.qq.com/x/cover/mzc00200example/x0000abcd12.html"


def handler(path, query):
    if path == "/x/cover/mzc00200example/x0000abcd12.html":
        return 200, {}, f'<script>{{"comment_id":"{ARTICLE}"}}</script>'.encode()
    if path == "/x/cover/broken/x0000abcd12.html":
        return 503, {}, b"down"
    return SyntheticArticle(23, article=ARTICLE)(path, query)


def crawl_args(server, out, *extra):
    return ["crawl", "tencent", URL, "--out", str(out), "--base-url", server.url, "--rate", "0", "--backoff", "0",
            "--quiet", *extra]


def test_crawl_then_resume_then_import(tmp_path, capsys):
    out = tmp_path / "crawl"
    with FakeServer(handler) as server:
        assert main(crawl_args(server, out, "--page-size", "5")) == 0
        summary = json.loads(capsys.readouterr().out)
        assert (summary["article"], summary["top_level"], summary["pages"], summary["stop_reason"]) == (ARTICLE, 23, 5, "no_more")
        assert {r.query.get("orinum") for r in server.requests if "comment/v2" in r.path} == {"5"}
        sent = len(server.requests)
        assert main(crawl_args(server, out)) == 0  # finished: the same command fetches nothing again
        assert len(server.requests) == sent
    capsys.readouterr()
    dataset, sheet = tmp_path / "set.jsonl", tmp_path / "label.csv"
    assert main(["data", "import", str(out), "--out", str(dataset), "--label-sheet", str(sheet)]) == 0
    assert json.loads(capsys.readouterr().out)["written"] == 23
    assert len(load_jsonl(dataset, require_label=False)) == 23 and sheet.read_text(encoding="utf-8-sig").startswith("id,text")


def test_failed_crawl_says_how_to_resume(tmp_path, capsys):
    with FakeServer(handler) as server:
        args = crawl_args(server, tmp_path / "c", "--retries", "0")
        args[2] = "https://v.qq.com/x/cover/broken/x0000abcd12.html"
        assert main(args) == 1
    error = capsys.readouterr().err
    assert "404" in error and "run the same command again to resume" in error


def test_bad_target_and_bad_endpoint_file_are_usage_errors(tmp_path, capsys):
    assert main(["crawl", "tencent", "what?", "--out", str(tmp_path / "x")]) == 2
    assert "vid:" in capsys.readouterr().err
    bad = tmp_path / "endpoints.toml"
    bad.write_text("[comments]\nurl = 3\n")
    assert main(["crawl", "tencent", "article:1", "--out", str(tmp_path / "y"), "--endpoints", str(bad)]) == 2
    assert "endpoints.toml: [comments] url" in capsys.readouterr().err


def test_endpoints_are_printed_as_an_editable_file(tmp_path, capsys):
    assert main(["crawl", "endpoints", "--base-url", "http://127.0.0.1:9"]) == 0
    text = capsys.readouterr().out
    assert 'url = "http://127.0.0.1:9/varticle/{targetid}/comment/v2"' in text and "[comments.params]" in text
