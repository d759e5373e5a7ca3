"""GloVe loading on a tiny vectors file: rows, coverage, seeded random rows for missing words, errors."""
from __future__ import annotations

import numpy as np
import pytest

from bigdl_runtime.nn import Embedding
from zoo.feature.text import WordIndex, glove_matrix, load_glove

VECTORS = "the 0.1 0.2 0.3\ncat -1 0 1.5\n. . . 9 9 9\ndog 2 2 2\nthe 7 7 7\n"


@pytest.fixture
def vectors(tmp_path):
    path = tmp_path / "glove.tiny.3d.txt"
    path.write_text(VECTORS, encoding="utf-8")
    return path


def test_matrix_rows_and_coverage(vectors):
    index = WordIndex(["the", "cat", "zebra", ". . ."])
    matrix, coverage = glove_matrix(vectors, index, seed=3)
    assert matrix.shape == (6, 3) and matrix.dtype == np.float32
    np.testing.assert_array_equal(matrix[0], 0)                                 # padding
    np.testing.assert_allclose(matrix[index.id("the")], [0.1, 0.2, 0.3])        # first occurrence wins
    np.testing.assert_allclose(matrix[index.id("cat")], [-1, 0, 1.5])
    np.testing.assert_allclose(matrix[index.id(". . .")], [9, 9, 9])            # words may contain spaces
    assert (coverage.found, coverage.total, coverage.missing, coverage.dim) == (3, 4, ["zebra"], 3)
    assert coverage.fraction == 0.75 and "3/4 words (75.0%)" in coverage.summary()
    again, _ = glove_matrix(vectors, index, seed=3)
    np.testing.assert_array_equal(matrix, again)                               # seeded random rows
    other, _ = glove_matrix(vectors, index, seed=4)
    assert not np.array_equal(matrix[index.id("zebra")], other[index.id("zebra")])
    small, _ = glove_matrix(vectors, index, seed=3, missing_std=1e-3)
    assert np.abs(small[[1, index.id("zebra")]]).max() < 0.01


def test_load_into_embedding_layer(vectors):
    index = WordIndex(["dog", "cat"])
    emb = Embedding(len(index) + 2, 3, padding_idx=0)
    extra = emb.weight.data[4:].copy()
    coverage = load_glove(emb, vectors, index, trainable=False)
    assert coverage.found == 2 and not emb.weight.trainable
    out = emb(np.array([[2, 3, 0]]))
    np.testing.assert_allclose(out[0], [[2, 2, 2], [-1, 0, 1.5], [0, 0, 0]])
    np.testing.assert_array_equal(emb.weight.data[4:], extra)                   # rows past the vocabulary untouched
    with pytest.raises(ValueError, match=r"weight is 4x5, the vectors need at least 4x3"):
        load_glove(Embedding(4, 5), vectors, index)


def test_word2vec_header_and_malformed_lines(tmp_path):
    path = tmp_path / "w2v.txt"
    path.write_text("2 2\ncat 1 2\ndog 3 4\n")
    matrix, coverage = glove_matrix(path, WordIndex(["dog"]))
    np.testing.assert_allclose(matrix[2], [3, 4])
    assert coverage.dim == 2 and coverage.found == 1
    bad = tmp_path / "bad.txt"
    bad.write_text("cat 1 2\ndog 3\n")
    with pytest.raises(ValueError, match=r"bad.txt line 2: 1 values, expected 2"):
        glove_matrix(bad, WordIndex(["dog"]))
    word = tmp_path / "word.txt"
    word.write_text("cat 1 x\n")
    with pytest.raises(ValueError, match=r"line 1: non-numeric vector for 'cat'"):
        glove_matrix(word, WordIndex(["cat"]))
