"""Tests of cinesense.text.vocab and cinesense.text.word2vec (tiny corpus, one worker)."""

from __future__ import annotations

import numpy as np
import pytest

from cinesense.config import Word2VecConfig
from cinesense.text.vocab import PAD, UNK, Vocabulary
from cinesense.text.word2vec import embedding_matrix, load_vectors, save_vectors, train_word2vec

SENTENCES = [
    ["这部", "电影", "好看", "精彩"],
    ["这部", "电影", "难看", "无聊"],
    ["剧情", "精彩", "喜欢"],
    ["剧情", "无聊", "垃圾"],
] * 5
W2V = Word2VecConfig(vector_size=8, window=2, min_count=1, epochs=3, workers=1)


@pytest.fixture(scope="module")
def vectors():
    return train_word2vec(SENTENCES, W2V, seed=0)


# ------------------------------------------------------------------------------- vocabulary


def test_vocabulary_layout():
    vocab = Vocabulary(["好看", "电影", "好看", PAD, UNK, "无聊"])
    assert vocab.itos == [PAD, UNK, "好看", "电影", "无聊"]  # deduplicated, order kept
    assert len(vocab) == 5
    assert vocab.stoi["电影"] == 3
    assert "好看" in vocab and "难看" not in vocab


def test_encode_unknown_and_empty():
    vocab = Vocabulary(["好看", "电影"])
    assert vocab.encode(["电影", "好看", "难看"]) == [3, 2, 1]
    assert vocab.encode([]) == [1]


def test_vocabulary_json_round_trip(tmp_path):
    vocab = Vocabulary(["好看", "电影", "[微笑]", "a b", '"quoted"'])
    path = tmp_path / "vocab.json"
    vocab.save(path)
    assert "好看" in path.read_text(encoding="utf-8")  # stored as UTF-8, not escaped
    loaded = Vocabulary.load(path)
    assert loaded.itos == vocab.itos and loaded.stoi == vocab.stoi


def test_vocabulary_invalid_json_names_the_path(tmp_path):
    path = tmp_path / "vocab.json"
    path.write_text('["<pad>", "<unk>", "好看"', encoding="utf-8")
    with pytest.raises(ValueError, match="not valid JSON") as info:
        Vocabulary.load(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    "content, reason",
    [
        ('{"<pad>": 0}', "JSON list"),
        ('["<unk>", "<pad>", "a"]', "JSON list"),
        ('["<pad>", "<unk>", 3]', "JSON list"),
        ('["<pad>", "<unk>", "a", "a"]', "duplicate"),
    ],
)
def test_vocabulary_bad_content_names_the_path(tmp_path, content, reason):
    path = tmp_path / "vocab.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=reason) as info:
        Vocabulary.load(path)
    assert str(path) in str(info.value)


def test_vocabulary_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="vocabulary file not found"):
        Vocabulary.load(tmp_path / "missing.json")


# -------------------------------------------------------------------------------- word2vec


def test_word2vec_trains_on_tiny_corpus(vectors):
    assert vectors.vector_size == 8
    assert set(vectors.index_to_key) == {w for s in SENTENCES for w in s}
    assert np.isfinite(vectors.vectors).all()


def test_word2vec_is_deterministic_with_one_worker(vectors):
    again = train_word2vec(SENTENCES, W2V, seed=0)
    assert again.index_to_key == vectors.index_to_key
    np.testing.assert_array_equal(again.vectors, vectors.vectors)


def test_word2vec_ignores_empty_sentences_and_rejects_no_text():
    kv = train_word2vec([[], ["好看", "电影"], []], W2V, seed=0)
    assert set(kv.index_to_key) == {"好看", "电影"}
    with pytest.raises(ValueError, match="no non-empty sentences"):
        train_word2vec([[], []], W2V)


def test_word2vec_save_load_round_trip(vectors, tmp_path):
    path = tmp_path / "w2v.bin"
    save_vectors(vectors, path)
    loaded = load_vectors(path)
    assert loaded.index_to_key == vectors.index_to_key
    np.testing.assert_array_equal(loaded.vectors, vectors.vectors)


@pytest.mark.parametrize("keep", [0.0, 0.05, 0.5, 0.97])
def test_loading_truncated_file_gives_clear_error(vectors, tmp_path, keep):
    path = tmp_path / "w2v.bin"
    save_vectors(vectors, path)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(ValueError, match="not a valid word2vec binary file") as info:
        load_vectors(path)
    assert str(path) in str(info.value)


def test_loading_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="word2vec file not found"):
        load_vectors(tmp_path / "missing.bin")


def test_embedding_matrix_rows(vectors):
    vocab = Vocabulary([*vectors.index_to_key, "未见过"])
    matrix, found = embedding_matrix(vocab, vectors, seed=0)
    assert matrix.shape == (len(vocab), 8) and matrix.dtype == np.float32
    assert found == len(vectors.index_to_key)
    assert (matrix[0] == 0).all()  # padding
    for token in vectors.index_to_key:
        np.testing.assert_array_equal(matrix[vocab.stoi[token]], vectors[token])
    # unknown and unseen tokens get small random, non-zero vectors
    assert np.abs(matrix[1]).sum() > 0 and np.abs(matrix[vocab.stoi["未见过"]]).sum() > 0
    again, _ = embedding_matrix(vocab, vectors, seed=0)
    np.testing.assert_array_equal(again, matrix)


def test_cached_word2vec_reads_back_what_it_trained_and_retrains_a_damaged_entry():
    from cinesense.cache import default_cache_dir
    from cinesense.config import Word2VecConfig
    from cinesense.text.word2vec import cached_word2vec

    sentences = [["好看", "的", "电影"], ["难看", "的", "电影"], ["好看", "好看"]] * 20
    for kind in ("word2vec", "fasttext"):
        config = Word2VecConfig(kind=kind, vector_size=8, min_count=1, epochs=1, bucket=1000)
        trained = cached_word2vec(sentences, config, seed=1)
        entries = sorted((default_cache_dir() / "word2vec").glob("*.bin"))
        read = cached_word2vec(sentences, config, seed=1)
        assert read.index_to_key == trained.index_to_key and np.array_equal(read.vectors, trained.vectors)
        assert np.array_equal(read.get_vector("好电影"), trained.get_vector("好电影")) if kind == "fasttext" else True
        newest = max(entries, key=lambda p: p.stat().st_mtime)
        newest.write_bytes(newest.read_bytes()[:50])  # damaged: trained again, not an error
        again = cached_word2vec(sentences, config, seed=1)
        assert np.array_equal(again.vectors, trained.vectors)
