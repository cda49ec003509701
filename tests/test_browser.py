"""The web page for real: Debian's headless Chromium, driven by Playwright, against the service
running under uvicorn on 127.0.0.1. The page loads, a prediction shows, the words are highlighted,
a dropped or pasted sticker gets its heat map, several stickers get one heat map each, and an error
or a new request never leaves the previous verdict on the page."""

from __future__ import annotations

import base64
import os
import socket
import threading
import time
from pathlib import Path

import pytest
from helpers import tiny_sticker
from test_serve_fused import tiny_fused_model

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists() and not os.environ.get("CINESENSE_REQUIRE_BROWSER"),
                       reason="Debian's chromium is not installed at /usr/bin/chromium (apt-get install -y chromium; .ci/run does)"),
]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _serve(model_dir: Path):
    """Start ``create_app`` under uvicorn in a thread; yield its base URL; stop it."""
    import uvicorn

    from cinesense import Classifier
    from cinesense.serve import create_app

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(Classifier.load(model_dir)), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def text_server(tiny_text_model):
    yield from _serve(tiny_text_model)


@pytest.fixture(scope="module")
def image_server(tiny_image_model):
    yield from _serve(tiny_image_model)


@pytest.fixture(scope="module")
def fused_server(tiny_text_model, tiny_image_model, tmp_path_factory):
    yield from _serve(tiny_fused_model(tiny_text_model, tiny_image_model, tmp_path_factory.mktemp("tiny-fused")))


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is required (CINESENSE_REQUIRE_BROWSER is set)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, tmp_path):
    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    page.screenshot(path=str(tmp_path / "page.png"), full_page=True)
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def test_a_comment_gets_its_verdict_and_highlighted_words(text_server, page):
    page.goto(text_server + "/")
    page.wait_for_selector("body[data-state=ready]")
    assert "text model" in page.inner_text("#model")
    assert page.is_hidden("#drop")
    page.fill("#text", "这部电影真的好看！")
    page.click("#predict")
    page.wait_for_selector("body[data-state=done]")
    assert page.inner_text("#verdict") == "positive"
    assert page.inner_text("#probability").endswith("%")
    assert page.locator("#bars .bar").count() == 2
    assert page.inner_text("#highlights") == "这部电影真的好看！"
    tokens = page.locator("#highlights span.tok")
    assert tokens.count() >= 3
    backgrounds = tokens.evaluate_all("spans => spans.map(s => getComputedStyle(s).backgroundColor)")
    assert "rgb(255, 60, 0)" in backgrounds  # the most attended word is shaded red
    assert page.is_hidden("#heat")


def test_an_error_is_shown_not_thrown(text_server, page):
    page.goto(text_server + "/")
    page.wait_for_selector("body[data-state=ready]")
    page.click("#predict")  # nothing typed
    page.wait_for_selector("#error:not([hidden])")
    assert "field 'text' is required" in page.inner_text("#error")
    assert page.is_hidden("#result")


def _heatmap_is_drawn(page, index: int = 0) -> bool:
    return page.evaluate("""(index) => {
        const canvas = document.querySelectorAll('#heat canvas.heatmap')[index];
        const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
        let coloured = 0;
        for (let i = 0; i < data.length; i += 4) if (Math.abs(data[i] - data[i + 2]) > 30) coloured++;
        return coloured > 1000;
    }""", index)


def _drop(page, tmp_path, *colours):
    """Drop one PNG sticker per colour on the sticker zone, in one drop."""
    files = [base64.b64encode(tiny_sticker(tmp_path / f"s{i}.png", colour).read_bytes()).decode() for i, colour in enumerate(colours)]
    page.evaluate("""async (files) => {
        const transfer = new DataTransfer();
        files.forEach((b64, i) => transfer.items.add(new File([Uint8Array.from(atob(b64), c => c.charCodeAt(0))], `s${i}.png`, {type: 'image/png'})));
        document.getElementById('drop').dispatchEvent(new DragEvent('drop', {dataTransfer: transfer, bubbles: true, cancelable: true}));
    }""", files)


def _result_is_cleared(page) -> None:
    assert page.is_hidden("#result")
    assert page.inner_text("#verdict") == "" and page.inner_text("#probability") == ""
    assert page.locator("#bars .bar").count() == 0
    assert page.locator("#highlights span").count() == 0
    assert page.locator("#heat canvas").count() == 0


def test_an_error_clears_the_previous_verdict_and_words(text_server, page):
    page.goto(text_server + "/")
    page.wait_for_selector("body[data-state=ready]")
    page.fill("#text", "这部电影真的好看！")
    page.click("#predict")
    page.wait_for_selector("body[data-state=done]")
    assert page.is_visible("#result")
    page.fill("#text", "")
    page.click("#predict")
    page.wait_for_selector("#error:not([hidden])")
    assert "field 'text' is required" in page.inner_text("#error")
    _result_is_cleared(page)


def test_a_failed_request_clears_the_previous_heat_map(image_server, page, tmp_path):
    page.goto(image_server + "/")
    page.wait_for_selector("body[data-state=ready]")
    _drop(page, tmp_path, (220, 60, 40))
    page.click("#predict")
    page.wait_for_selector("body[data-state=done]")
    assert _heatmap_is_drawn(page)
    page.route("**/v1/predict", lambda route: route.abort())
    page.click("#predict")
    page.wait_for_selector("#error:not([hidden])")
    assert "the request failed" in page.inner_text("#error")
    _result_is_cleared(page)


def test_a_new_request_hides_the_previous_verdict_while_it_runs(text_server, page):
    page.goto(text_server + "/")
    page.wait_for_selector("body[data-state=ready]")
    page.fill("#text", "这部电影真的好看！")
    page.click("#predict")
    page.wait_for_selector("body[data-state=done]")
    held = []
    page.route("**/v1/predict", lambda route: held.append(route))  # the next request waits until released
    page.fill("#text", "剧情无聊，失望")
    with page.expect_request("**/v1/predict"):
        page.click("#predict")
    page.wait_for_selector("#predict:disabled")
    _result_is_cleared(page)
    assert held, "the request was not intercepted"
    held[0].continue_()
    page.wait_for_selector("body[data-state=done]")
    assert page.inner_text("#verdict") == "negative"


def test_several_stickers_get_one_heat_map_each(fused_server, page, tmp_path):
    page.goto(fused_server + "/")
    page.wait_for_selector("body[data-state=ready]")
    page.fill("#text", "这部电影真的好看！")
    _drop(page, tmp_path, (220, 60, 40), (40, 60, 220))
    assert page.locator("#previews img").count() == 2
    page.click("#predict")
    page.wait_for_selector("body[data-state=done]")
    assert page.locator("#heat canvas.heatmap").count() == 2
    assert _heatmap_is_drawn(page, 0) and _heatmap_is_drawn(page, 1)
    page.click("#clear-image")
    assert page.locator("#previews img").count() == 0


def test_an_image_model_keeps_one_sticker(image_server, page, tmp_path):
    page.goto(image_server + "/")
    page.wait_for_selector("body[data-state=ready]")
    _drop(page, tmp_path, (220, 60, 40))
    _drop(page, tmp_path, (40, 60, 220))
    assert page.locator("#previews img").count() == 1
    page.click("#predict")
    page.wait_for_selector("body[data-state=done]")
    assert page.inner_text("#verdict") == "negative"  # the blue one, dropped last
    assert page.locator("#heat canvas.heatmap").count() == 1


def test_chinese_and_emoji_have_a_named_font_stack(text_server, page):
    page.goto(text_server + "/")
    page.wait_for_selector("body[data-state=ready]")
    body = page.evaluate("getComputedStyle(document.body).fontFamily")
    for family in ("Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", "WenQuanYi Micro Hei", "Noto Color Emoji"):
        assert family in body, body
    assert "sans-serif" in body
    for element in ("#text", "#predict"):  # form controls do not inherit fonts by default
        assert page.evaluate(f"getComputedStyle(document.querySelector('{element}')).fontFamily") == body


def test_a_dropped_sticker_gets_verdict_and_heat_map(image_server, page, tmp_path):
    page.goto(image_server + "/")
    page.wait_for_selector("body[data-state=ready]")
    assert page.is_hidden("#text-box") and page.is_visible("#drop")
    _drop(page, tmp_path, (220, 60, 40))
    assert page.is_visible("#previews img")
    page.click("#predict")
    page.wait_for_selector("body[data-state=done]")
    assert page.inner_text("#verdict") == "positive"
    assert page.is_visible("#heat canvas.heatmap") and _heatmap_is_drawn(page)


def test_a_pasted_sticker_is_taken(image_server, page, tmp_path):
    sticker = base64.b64encode(tiny_sticker(tmp_path / "blue.png", (40, 60, 220)).read_bytes()).decode()
    page.goto(image_server + "/")
    page.wait_for_selector("body[data-state=ready]")
    page.evaluate("""(b64) => {
        const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
        const transfer = new DataTransfer();
        transfer.items.add(new File([bytes], 'blue.png', {type: 'image/png'}));
        document.dispatchEvent(new ClipboardEvent('paste', {clipboardData: transfer, bubbles: true, cancelable: true}));
    }""", sticker)
    page.click("#predict")
    page.wait_for_selector("body[data-state=done]")
    assert page.inner_text("#verdict") == "negative"
    assert _heatmap_is_drawn(page)
