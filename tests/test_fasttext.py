"""Tests of the FastText option (cinesense.text.fasttext through cinesense.text.word2vec): vectors of
unseen words from their characters, and a round trip through files without pickle."""

from __future__ import annotations

import numpy as np
import pytest

from cinesense.config import ConfigError, Word2VecConfig
from cinesense.text.fasttext import is_fasttext, ngrams_path
from cinesense.text.vocab import Vocabulary
from cinesense.text.word2vec import embedding_matrix, load_vectors, save_vectors, train_word2vec, word_vector

SENTENCES = [
    ["这部", "电影", "好看", "精彩"],
    ["这部", "电影", "难看", "无聊"],
    ["剧情", "精彩", "喜欢", "好看"],
    ["剧情", "无聊", "垃圾", "难看"],
    ["演员", "好看", "喜欢"],
] * 20
FT = Word2VecConfig(kind="fasttext", vector_size=16, window=2, min_count=1, epochs=10, workers=1, min_n=1, max_n=2, bucket=2000)


@pytest.fixture(scope="module")
def vectors():
    return train_word2vec(SENTENCES, FT, seed=0)


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_fasttext_is_trained_with_the_configured_ngrams(vectors):
    assert is_fasttext(vectors)
    assert (vectors.min_n, vectors.max_n, vectors.bucket) == (1, 2, 2000)
    assert vectors.vectors_ngrams.shape == (2000, 16)
    assert "好看的" not in vectors.key_to_index


def test_unseen_word_gets_a_vector_close_to_a_related_seen_word(vectors):
    unseen = word_vector(vectors, "好看的")
    assert unseen is not None and np.linalg.norm(unseen) > 0
    related = _cosine(unseen, vectors["好看"])
    random = np.random.default_rng(0).normal(size=(20, 16))
    assert related > 0.5
    assert related > max(_cosine(unseen, r) for r in random)


def test_an_emoticon_code_gets_the_vector_of_its_name(vectors):
    np.testing.assert_array_equal(word_vector(vectors, "[好看]"), word_vector(vectors, "好看"))


def test_embedding_matrix_fills_unseen_tokens_from_ngrams(vectors):
    vocab = Vocabulary([*vectors.index_to_key, "好看的", "[好看]"])
    matrix, found = embedding_matrix(vocab, vectors, seed=0)
    assert found == len(vectors.index_to_key)
    np.testing.assert_allclose(matrix[vocab.stoi["好看的"]], vectors.get_vector("好看的"))
    np.testing.assert_allclose(matrix[vocab.stoi["[好看]"]], vectors["好看"])
    assert (matrix[0] == 0).all()


def test_word2vec_kind_falls_back_to_the_mean_of_known_characters():
    vectors = train_word2vec([["好", "看", "电影"], ["好", "电影"]] * 5, Word2VecConfig(vector_size=8, min_count=1, workers=1))
    np.testing.assert_allclose(word_vector(vectors, "好看"), (vectors["好"] + vectors["看"]) / 2, rtol=1e-6)
    np.testing.assert_allclose(word_vector(vectors, "[好看]"), (vectors["好"] + vectors["看"]) / 2, rtol=1e-6)
    assert word_vector(vectors, "无聊") is None


def test_round_trip_through_files_without_pickle(vectors, tmp_path):
    path = tmp_path / "word2vec.bin"
    save_vectors(vectors, path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["word2vec.bin", "word2vec.bin.ngrams.safetensors"]
    for file in tmp_path.iterdir():  # no pickle opcode stream anywhere: word2vec binary + safetensors
        assert not file.read_bytes().startswith(b"\x80")
    loaded = load_vectors(path)
    assert is_fasttext(loaded) and (loaded.min_n, loaded.max_n, loaded.bucket) == (1, 2, 2000)
    assert loaded.index_to_key == vectors.index_to_key
    np.testing.assert_array_equal(loaded.vectors, vectors.vectors)
    np.testing.assert_array_equal(loaded.vectors_ngrams, vectors.vectors_ngrams)
    np.testing.assert_array_equal(loaded.vectors_vocab, vectors.vectors_vocab)
    for word in ("好看的", "烂片", "[精彩]"):
        np.testing.assert_array_equal(word_vector(loaded, word), word_vector(vectors, word))


def test_a_damaged_ngram_file_is_refused_naming_it(vectors, tmp_path):
    path = tmp_path / "word2vec.bin"
    save_vectors(vectors, path)
    ngrams_path(path).write_bytes(b"not safetensors")
    with pytest.raises(ValueError, match="ngrams.safetensors"):
        load_vectors(path)


def test_plain_word2vec_writes_no_ngram_file(tmp_path):
    vectors = train_word2vec(SENTENCES[:5], Word2VecConfig(vector_size=8, min_count=1, workers=1), seed=0)
    save_vectors(vectors, tmp_path / "w2v.bin")
    assert not ngrams_path(tmp_path / "w2v.bin").exists()
    assert not is_fasttext(load_vectors(tmp_path / "w2v.bin"))


@pytest.mark.parametrize("bad", [{"kind": "glove"}, {"min_n": 3, "max_n": 2}, {"bucket": 0}])
def test_config_checks(bad):
    with pytest.raises(ConfigError):
        Word2VecConfig(**bad)

