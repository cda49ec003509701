"""Attached images: content-addressed files; not-an-image and over-the-limit downloads rejected."""

from __future__ import annotations

import io
import json
import random

import pytest
from PIL import Image

from cinesense.crawl.crawler import CrawlOptions, crawl
from cinesense.crawl.endpoints import load_endpoints
from fake_tencent import FakeClock, FakeServer, comment, json_reply, page_body
from cinesense.crawl.http import Backoff, PoliteClient
from cinesense.crawl.images import ImageDownloader, ImageRejected, check_image
from cinesense.crawl.tencent import TencentApi
from cinesense.data.jsonl import load_jsonl


def png(size=(32, 32), color=(200, 30, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


FILES = {
    "/img/sticker.png": png(),
    "/img/same.png": png(),
    "/img/page.html": b"<html><body>404 not found</body></html>",
    "/img/huge.png": png((1200, 1200)) + b"\0" * 6_000_000,
    "/img/truncated.png": png()[:60],
}


def serve(path, query):
    if path in FILES:
        return 200, {"Content-Type": "image/png"}, FILES[path]
    return 404, {}, b""


def client() -> PoliteClient:
    clock = FakeClock()
    return PoliteClient(rate=None, clock=clock, sleep=clock.sleep, rng=random.Random(0), backoff=Backoff(retries=0))


def test_check_image_accepts_images_and_names_the_format():
    assert check_image(png()) == "png"
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, format="GIF")
    assert check_image(buffer.getvalue()) == "gif"


@pytest.mark.parametrize("data, reason", [
    (b"<html>ad</html>", "not a recognised image"),
    (png()[:60], "corrupt|truncated"),
    (b"", "empty"),
    (png((64, 64)), "too many pixels"),
])
def test_check_image_rejects(data, reason):
    with pytest.raises(ImageRejected, match=reason):
        check_image(data, max_pixels=2000)


def test_downloads_are_content_addressed_and_checked(tmp_path):
    with FakeServer(serve) as server:
        downloader = ImageDownloader(client(), tmp_path, max_bytes=1_000_000)
        first = downloader.fetch(server.url + "/img/sticker.png")
        assert downloader.fetch(server.url + "/img/same.png") == first  # same bytes, one file
        for name, reason in [("page.html", "not a recognised image"), ("huge.png", "over the limit"),
                             ("truncated.png", "truncated"), ("gone.png", "404")]:
            with pytest.raises(ImageRejected, match=reason):
                downloader.fetch(f"{server.url}/img/{name}")
    assert first.startswith("images/") and first.endswith(".png")
    assert [p.name for p in (tmp_path / "images").iterdir()] == [first.split("/")[1]]


def test_crawl_links_images_and_records_rejections(tmp_path):
    def handler(path, query):
        if path.startswith("/img/"):
            return serve(path, query)
        base = server.url + "/img/"
        comments = [
            comment("3", content="[流泪]", picture=[{"url": base + "sticker.png"}, {"url": base + "page.html"}]),
            comment("2", content="", picture=[{"url": base + "same.png", "width": 32}]),
            comment("1", content="", picture=[{"url": base + "huge.png"}]),
        ]
        return json_reply(page_body(comments, last="1", hasnext=False))

    with FakeServer(handler) as server:
        api = TencentApi(client(), load_endpoints(base_url=server.url))
        state = crawl("article:7700000001", tmp_path, api, CrawlOptions(progress=False))
    records = [json.loads(line) for line in (tmp_path / "comments.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in records] == ["3", "2"]  # "1": no text, and its only image was rejected
    assert records[0]["images"] == records[1]["images"] and len(records[0]["images"]) == 1
    assert "not a recognised image" in records[0]["image_errors"][0]["reason"]
    assert (state.images, state.image_errors, state.empty) == (2, 2, 1)
    loaded = load_jsonl(tmp_path / "comments.jsonl", require_label=False).records
    assert loaded[1].text is None and loaded[1].image == (tmp_path / records[1]["images"][0]).resolve()
