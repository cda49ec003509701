"""Tests of cinesense.text.tokenize: cleaning, emoticon codes, pre-segmented text, jieba, options."""

from __future__ import annotations

import dataclasses

import pytest

from cinesense.text.tokenize import Tokenizer, clean_text, is_segmented


@pytest.fixture(scope="module")
def tokenizer():
    return Tokenizer()


def test_urls_removed(tokenizer):
    assert tokenizer("好看 https://t.cn/AbC123?x=1 推荐") == ["好看", "推荐"]
    assert tokenizer("www.douban.com/subject/1 好看") == ["好看"]
    assert "http" not in clean_text("see http://example.com/a_b now")


def test_mentions_removed(tokenizer):
    assert tokenizer("@影迷小王: 好看") == ["好看"]
    assert tokenizer("@movie_fan 推荐 一下") == ["推荐", "一下"]


def test_punctuation_and_symbols_removed(tokenizer):
    assert tokenizer("好看！！！ 推荐。。。") == ["好看", "推荐"]
    assert tokenizer("你好，世界！") == ["你好", "世界"]
    assert clean_text("好看★★★♥\u200b\x07！") == "好看"


def test_emoticon_code_kept_as_one_token(tokenizer):
    tokens = tokenizer("这部电影真好看[微笑][OK]")
    assert "[微笑]" in tokens and "[ok]" in tokens
    assert tokens[-2:] == ["[微笑]", "[ok]"]
    assert tokenizer("太 差 了 [怒]") == ["太", "差", "了", "[怒]"]
    # full-width brackets are normalised first
    assert tokenizer("［微笑］好") == ["[微笑]", "好"]


def test_presegmented_text_kept_as_is(tokenizer):
    assert is_segmented("这部 电影 太 好看 了")
    # jieba alone would split "这部电影" — pre-segmented input must not be re-segmented
    assert tokenizer("这部电影 太 好看 了") == ["这部电影", "太", "好看", "了"]
    assert Tokenizer(segmented="yes")("这部电影 好看") == ["这部电影", "好看"]


def test_raw_chinese_segmented_by_jieba(tokenizer):
    assert not is_segmented("我喜欢这部电影")
    assert tokenizer("我喜欢这部电影") == ["我", "喜欢", "这部", "电影"]
    assert Tokenizer(segmented="no")("这部电影 好看") == ["这部", "电影", "好看"]


def test_mention_does_not_switch_off_segmentation(tokenizer):
    assert tokenizer("@张三 我喜欢这部电影") == ["我", "喜欢", "这部", "电影"]


@pytest.mark.parametrize("segmenter", ["rjieba", "jieba"])
@pytest.mark.parametrize("line", ["蓝鲸影评 100 n", "蓝鲸影评 100", "蓝鲸影评"])
def test_user_dictionary_makes_a_new_word_one_token(tmp_path, segmenter, line):
    text = "蓝鲸影评真好"
    assert "蓝鲸影评" not in Tokenizer(segmenter=segmenter)(text)
    user_dict = tmp_path / "user.txt"
    user_dict.write_text(f"好评如潮 5\n{line}\n", encoding="utf-8")
    with_dict = Tokenizer(segmenter=segmenter, user_dict=str(user_dict))
    assert with_dict(text)[0] == "蓝鲸影评"
    # the dictionary belongs to that tokenizer only
    assert "蓝鲸影评" not in Tokenizer(segmenter=segmenter)(text)


def test_user_dictionary_bad_line_names_file_and_line(tmp_path):
    user_dict = tmp_path / "user.txt"
    user_dict.write_text("好词 3 n\n坏 行 有 太多 字段\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"user.txt:2: expected"):
        Tokenizer(user_dict=str(user_dict))


def test_rjieba_and_jieba_segment_alike():
    texts = ["这部电影太好看了，强烈推荐大家去电影院看", "剧情拖沓，演员演技尴尬，浪费了两个小时", "房间干净 服务周到 下次还来"]
    for text in texts:
        assert Tokenizer(segmenter="rjieba")(text) == Tokenizer(segmenter="jieba")(text)


def test_unknown_segmenter_refused():
    with pytest.raises(ValueError, match="segmenter must be one of"):
        Tokenizer(segmenter="thulac")


def test_missing_user_dictionary(tmp_path):
    with pytest.raises(FileNotFoundError, match="user dictionary"):
        Tokenizer(user_dict=str(tmp_path / "nope.txt"))


def test_stop_words_removed(tmp_path):
    stop = tmp_path / "stop.txt"
    stop.write_text("的\n了\n\n  太  \n", encoding="utf-8")
    tokenizer = Tokenizer(stopwords=str(stop))
    assert tokenizer("这部 电影 太 好看 了") == ["这部", "电影", "好看"]
    assert tokenizer("的 了") == []


def test_missing_stop_word_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="stop-word"):
        Tokenizer(stopwords=str(tmp_path / "nope.txt"))


def test_max_tokens():
    text = "一 二 三 四 五 六"
    assert Tokenizer(max_tokens=3)(text) == ["一", "二", "三"]
    assert Tokenizer(max_tokens=0)(text) == ["一", "二", "三", "四", "五", "六"]


def test_english_lowercased(tokenizer):
    assert tokenizer("Hello WORLD Great Movie") == ["hello", "world", "great", "movie"]
    assert Tokenizer(lowercase=False)("Hello WORLD") == ["Hello", "WORLD"]


def test_full_width_normalised(tokenizer):
    assert clean_text("ＡＢＣ１２３") == "abc123"
    assert tokenizer("ＡＢＣ　ｘｙｚ") == ["abc", "xyz"]


@pytest.mark.parametrize("text", ["", "   ", "！！？。，", "...!!!", "https://t.cn/x", "@someone", "\n\t"])
def test_empty_or_punctuation_only_gives_no_tokens(tokenizer, text):
    assert tokenizer(text) == []


def test_tokenize_all_and_settings_round_trip(tokenizer):
    assert tokenizer.tokenize_all(["好看 推荐", ""]) == [["好看", "推荐"], []]
    settings = tokenizer.to_dict()
    assert settings == {f.name: getattr(tokenizer, f.name) for f in dataclasses.fields(Tokenizer)}
    assert Tokenizer(**settings) == tokenizer


def test_bad_segmented_setting():
    with pytest.raises(ValueError, match="segmented"):
        Tokenizer(segmented="maybe")
