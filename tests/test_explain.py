"""Explanations people look at: words laid back on the text and shaded (terminal, HTML), heat maps,
the HTML page of a batch, and the ``predict`` / ``explain`` commands."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from helpers import tiny_sticker
from PIL import Image

from cinesense import Classifier
from cinesense.cli import main
from cinesense.data.schema import Record
from cinesense.explain import align_tokens, explain_records, overlay, relative, render_page, save_heatmap, shade, shaded, use_color
from test_classifier_inputs import POSITIVE_TEXT, tiny_fused  # noqa: F401 - fixture

ANSI = re.compile(r"\x1b\[[0-9;]*m")


# ------------------------------------------------------------------------------------ highlights
def test_segments_cover_the_text_and_find_normalised_tokens():
    text = "这部电影，太ＧＯＯＤ了！！"
    segments = align_tokens(text, ["这部", "电影", "太", "good", "了"], [0.1, 0.2, 0.05, 0.5, 0.15])
    assert "".join(s.text for s in segments) == text
    assert [(s.text, s.weight) for s in segments if s.weight is not None] == [
        ("这部", 0.1), ("电影", 0.2), ("太", 0.05), ("ＧＯＯＤ", 0.5), ("了", 0.15)]


def test_repeated_and_missing_tokens():
    segments = align_tokens("好看好看", ["好看", "<empty>", "好看"], [0.3, 0.1, 0.6])
    assert [(s.text, s.weight) for s in segments] == [("好看", 0.3), ("好看", 0.6)]
    assert [(s.text, s.weight) for s in align_tokens("！！！", ["<empty>"], [1.0])] == [("！！！", None)]


def test_shading_is_relative_to_the_strongest_word():
    assert relative([0.2, 0.4, 0.0]) == [0.5, 1.0, 0.0] and relative([]) == [] and relative([0.0]) == [0.0]
    colours = dict(shaded(align_tokens("好看的电影", ["好看", "的", "电影"], [0.6, 0.01, 0.39])))
    assert colours["好看"] == (255, 60, 0)  # the strongest is red
    assert colours["的"] is None  # under the floor: unshaded
    assert colours["电影"][1] > 60


def test_terminal_shading_and_colour_choice(monkeypatch):
    segments = align_tokens("太无聊了", ["太", "无聊", "了"], [0.2, 0.7, 0.1])
    coloured = shade(segments)
    assert "\x1b[38;2;0;0;0;48;2;255;60;0m无聊\x1b[0m" in coloured
    assert ANSI.sub("", coloured) == "太无聊了" == shade(segments, color=False)

    class Tty:
        def isatty(self):
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    assert use_color(Tty()) and not use_color(object()) and use_color(object(), "always") and not use_color(Tty(), "never")
    monkeypatch.setenv("NO_COLOR", "1")
    assert not use_color(Tty())


# ---------------------------------------------------------------------------------------- heat maps
def test_overlay_is_hot_where_the_attention_is(tmp_path):
    image = Image.new("RGB", (300, 200), (128, 128, 128))  # wider than high: the centre 200x200 square is shown
    grid = np.full((4, 4), 0.01)
    grid[0, 3] = 0.85
    result = np.asarray(overlay(image, grid, size=160)).astype(int)
    assert result.shape == (160, 160, 3)
    hot, cold = result[10, 150], result[150, 10]
    assert hot[0] > hot[2] + 60  # red-ish top right
    assert cold[2] > cold[0]  # blue-ish bottom left
    path = save_heatmap(image, grid.tolist(), tmp_path / "deep" / "map.png")
    assert Image.open(path).size == (320, 320)


def test_overlay_refuses_a_grid_that_is_not_2d():
    with pytest.raises(ValueError, match="2-D"):
        overlay(Image.new("RGB", (8, 8)), [0.5, 0.5])


# ------------------------------------------------------------------------------------ the HTML page
def test_page_of_text_comments(tiny_text_model):
    classifier = Classifier.load(tiny_text_model)
    records = [Record("a", "这部电影真的好看", "positive"), Record("b", "<script>alert(1)</script>无聊", "positive")]
    examples = list(explain_records(classifier, records))
    page = render_page(examples, title="t")
    assert "<script>" not in page and "&lt;" in page and "&gt;" in page
    assert page.count('class="tok"') >= 4 and "background: rgb(255, 60, 0)" in page
    assert "1 of 2 labelled ones predicted correctly" in page and 'class="verdict wrong"' in page


def test_page_of_images_embeds_heat_maps_and_reports_bad_images(tiny_image_model, tmp_path):
    classifier = Classifier.load(tiny_image_model)
    good = tiny_sticker(tmp_path / "red.png", (220, 60, 40))
    (tmp_path / "bad.png").write_bytes(b"nope")
    records = [Record("r", None, None, images=(good,)), Record("x", None, None, images=(tmp_path / "bad.png",)), Record("t", "文字", None)]
    page = render_page(explain_records(classifier, records), title="t")
    assert page.count('src="data:image/png;base64,') == 1
    assert "bad.png" in page and "is required: this is an image model" in page and "2 could not be read" in page


def test_page_shows_the_heat_map_of_every_sticker_of_a_comment(tiny_fused):
    fused, red, blue = tiny_fused
    records = [Record("two", POSITIVE_TEXT, None, images=(red, blue)), Record("one", POSITIVE_TEXT, None, images=(blue,)),
               Record("none", POSITIVE_TEXT, None)]
    examples = list(explain_records(fused, records))
    assert [len(e.explanation.image_attentions) for e in examples] == [2, 1, 0]
    page = render_page(examples, title="t")
    assert page.count('src="data:image/png;base64,') == 3
    first = page.index("attention heat map of red.png")
    assert first < page.index("attention heat map of blue.png") < page.index('id one')


def test_page_says_why_a_text_without_words_is_not_explained(tiny_text_model, tiny_fused):
    text_model, (fused, _, blue) = Classifier.load(tiny_text_model), tiny_fused
    records = [Record("e", "😡😡", None), Record("s", "😡😡", None, images=(blue,))]
    text_page = render_page(explain_records(text_model, records), title="t")
    assert text_page.count("no word the model reads") == 2 and "attach them as images" in text_page
    examples = list(explain_records(fused, records))
    assert "no word the model reads" in examples[0].error
    assert examples[1].error is None and examples[1].explanation.tokens == []
    assert render_page(examples, title="t").count('src="data:image/png;base64,') == 1


def test_page_font_stack_names_cjk_and_emoji_fonts():
    page = render_page([], title="中文")
    stack = re.search(r"font-family:([^;]*);", page).group(1)
    names = [name.strip().strip('"') for name in stack.split(",")]
    for font in ("Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", "WenQuanYi Micro Hei", "sans-serif"):
        assert font in names
    assert any("Emoji" in name for name in names)
    assert names.index("Noto Sans CJK SC") < names.index("sans-serif")


# -------------------------------------------------------------------------------------- the commands
def test_predict_shades_words_in_colour(tiny_text_model, capsys):
    assert main(["predict", "--model", str(tiny_text_model), "--color", "always", "这部电影真的好看"]) == 0
    first, words = capsys.readouterr().out.splitlines()
    assert "\x1b[" in first and ANSI.sub("", first).split("\t") == ["positive", first.split("\t")[1], "这部电影真的好看"]
    assert words.startswith("  attention: ")
    (row,) = Classifier.load(tiny_text_model).predict_proba(["这部电影真的好看"])  # the slot above is compared to itself
    assert first.split("\t")[1] == f"{row.max():.3f}"


def test_predict_writes_the_heat_map(tiny_image_model, tmp_path, capsys):
    image = tiny_sticker(tmp_path / "sticker.png", (220, 60, 40))
    assert main(["predict", "--model", str(tiny_image_model), "--image", str(image), "--heatmap", str(tmp_path / "m.png")]) == 0
    assert "heat map: " + str(tmp_path / "m.png") in capsys.readouterr().out
    assert Image.open(tmp_path / "m.png").size == (320, 320)
    assert main(["predict", "--model", str(tiny_image_model), "--image", str(image)]) == 0  # default: beside the image
    assert (tmp_path / "sticker.attention.png").is_file()


@pytest.mark.parametrize(
    ("which", "arguments", "says"),
    [
        ("text", ["--image", "x.png", "好看"], "is a text model: it does not read images"),
        ("text", [], "is a text model: pass the text(s)"),
        ("image", ["好看"], "is an image model: it does not read text"),
    ],
)
def test_predict_says_what_the_model_reads(tiny_text_model, tiny_image_model, which, arguments, says, capsys):
    model = tiny_text_model if which == "text" else tiny_image_model
    assert main(["predict", "--model", str(model), *arguments]) == 2
    assert says in capsys.readouterr().err


def test_explain_command_writes_the_page(tiny_text_model, tmp_path, capsys):
    data = tmp_path / "c.jsonl"
    data.write_text("".join(json.dumps({"id": f"c{i}", "text": t}, ensure_ascii=False) + "\n" for i, t in enumerate(["好看", "无聊", "精彩"])),
                    encoding="utf-8")
    out = tmp_path / "page" / "explain.html"
    assert main(["explain", "--model", str(tiny_text_model), "--data", str(data), "--out", str(out), "--limit", "2"]) == 0
    assert f"explained 2 of 2 comments in {out}" in capsys.readouterr().out
    page = out.read_text(encoding="utf-8")
    assert page.count('class="example"') == 2 and "精彩" not in page
