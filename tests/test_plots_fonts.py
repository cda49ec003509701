"""Chinese in figures: a CJK font stack, found even when matplotlib's font cache predates the font."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import pytest
from matplotlib import font_manager

from cinesense.evaluate import plots


def _cjk_font_files() -> list[str]:
    return [p for p in font_manager.findSystemFonts() if any(h in Path(p).name.lower() for h in plots._CJK_FILE_HINTS)]


def test_font_stack_names_installed_cjk_fonts_then_dejavu():
    stack = plots.font_stack()
    assert stack[-1] == "DejaVu Sans"
    known = {f.name for f in font_manager.fontManager.ttflist}
    assert all(name in plots.CJK_FONTS and name in known for name in stack[:-1])
    assert stack[:-1] == [name for name in plots.CJK_FONTS if name in stack]  # in order of preference
    if _cjk_font_files():
        assert len(stack) > 1


@pytest.mark.skipif(not _cjk_font_files(), reason="no CJK font installed (apt-get install fonts-noto-cjk)")
def test_chinese_figures_have_no_missing_glyphs(tmp_path, caplog):
    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.WARNING, logger="matplotlib"):
        warnings.simplefilter("always")
        plots.plot_word_attention([("irony (negative sticker): true negative, predicted negative",
                                    ["这", "电影", "可", "真", "好看", "啊"], [0.05, 0.3, 0.05, 0.1, 0.45, 0.05])],
                                   tmp_path / "words.png")
        plots.plot_confusion([[5, 1], [2, 7]], ["负面", "正面"], "情感分类：混淆矩阵", tmp_path / "confusion.png")
    messages = [str(w.message) for w in caught] + [r.getMessage() for r in caplog.records]
    assert not [m for m in messages if "missing from font" in m or "not found" in m], messages
    assert (tmp_path / "words.png").stat().st_size > 0 and (tmp_path / "confusion.png").stat().st_size > 0


def test_a_cjk_font_installed_after_the_font_cache_was_built_is_found(monkeypatch):
    """make run installs fonts-noto-cjk; the virtual environment's font cache may be older."""
    files = _cjk_font_files()
    if not files:
        pytest.skip("no CJK font installed")
    stale = [f for f in font_manager.fontManager.ttflist if f.name not in plots.CJK_FONTS]
    monkeypatch.setattr(font_manager.fontManager, "ttflist", stale)
    assert len(plots.font_stack()) > 1
