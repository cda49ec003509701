"""The web page for real: Debian's headless Chromium, driven by Playwright, against the service
running under uvicorn on 127.0.0.1. The page loads, a prediction shows, the words are highlighted,
and a dropped or pasted sticker gets its heat map."""

from __future__ import annotations

import base64
import os
import socket
import threading
import time
from pathlib import Path

import pytest
from conftest import tiny_sticker

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


def _heatmap_is_drawn(page) -> bool:
    return page.evaluate("""() => {
        const data = document.getElementById('heatmap').getContext('2d').getImageData(0, 0, 320, 320).data;
        let coloured = 0;
        for (let i = 0; i < data.length; i += 4) if (Math.abs(data[i] - data[i + 2]) > 30) coloured++;
        return coloured > 1000;
    }""")


def test_a_dropped_sticker_gets_verdict_and_heat_map(image_server, page, tmp_path):
    sticker = base64.b64encode(tiny_sticker(tmp_path / "red.png", (220, 60, 40)).read_bytes()).decode()
    page.goto(image_server + "/")
    page.wait_for_selector("body[data-state=ready]")
    assert page.is_hidden("#text-box") and page.is_visible("#drop")
    page.evaluate("""async (b64) => {
        const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
        const transfer = new DataTransfer();
        transfer.items.add(new File([bytes], 'red.png', {type: 'image/png'}));
        document.getElementById('drop').dispatchEvent(new DragEvent('drop', {dataTransfer: transfer, bubbles: true, cancelable: true}));
    }""", sticker)
    assert page.is_visible("#preview")
    page.click("#predict")
    page.wait_for_selector("body[data-state=done]")
    assert page.inner_text("#verdict") == "positive"
    assert page.is_visible("#heatmap") and _heatmap_is_drawn(page)


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
