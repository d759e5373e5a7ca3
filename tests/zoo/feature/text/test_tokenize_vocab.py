"""Tokenizer normalisation, word index building/saving and sequence shaping, against hand-worked examples."""
from __future__ import annotations

import numpy as np
import pytest

from zoo.feature.text import PAD_ID, UNK_ID, Tokenizer, WordIndex, shape_sequence

TEXT = "The CAT sat; the cat paid $3.50 (1,000 times)! Don't stop."


def test_tokenizer_default_lowers_and_drops_punctuation():
    assert Tokenizer()(TEXT) == ["the", "cat", "sat", "the", "cat", "paid", "3.50", "1,000", "times", "don't", "stop"]


def test_tokenizer_numbers_and_punctuation_options():
    assert Tokenizer(numbers="remove")(TEXT)[6:] == ["times", "don't", "stop"]
    assert Tokenizer(numbers="token")(TEXT)[6:8] == ["<num>", "<num>"]
    kept = Tokenizer(lower=False, punctuation="keep")(TEXT)
    assert kept[:5] == ["The", "CAT", "sat", ";", "the"] and "$" in kept and "!" in kept
    assert Tokenizer()("Ｃａｆé") == ["café"]                     # NFKC folds full-width letters
    with pytest.raises(ValueError, match="numbers must be one of"):
        Tokenizer(numbers="spell")
    with pytest.raises(TypeError, match="takes a str"):
        Tokenizer()(None)


def test_tokenizer_json_round_trip():
    t = Tokenizer(lower=False, numbers="token", number_token="N")
    assert Tokenizer.from_json(t.to_json()) == t


def test_word_index_order_limits_and_reserved_ids():
    corpus = [["b", "a", "c", "a"], ["c", "a", "d", "b"], ["e"]]      # a:3 b:2 c:2 d:1 e:1
    full = WordIndex.build(corpus)
    assert full.words == ["a", "b", "c", "d", "e"] and len(full) == 7
    assert (full.id("a"), full.id("b"), full.id("zzz")) == (2, 3, UNK_ID)
    assert full.word(PAD_ID) == "<pad>" and full.word(1) == "<unk>" and full.word(4) == "c"
    assert WordIndex.build(corpus, max_words=2).words == ["a", "b"]
    assert WordIndex.build(corpus, min_freq=2).words == ["a", "b", "c"]
    assert WordIndex.build(corpus, max_words=2).encode(["c", "a", "b"]) == [1, 2, 3]
    with pytest.raises(ValueError, match="reserved"):
        WordIndex(["<unk>"])


def test_word_index_save_load(tmp_path):
    index = WordIndex(["héllo", "world"])
    index.save(tmp_path / "words.json")
    assert WordIndex.load(tmp_path / "words.json") == index
    index.save(tmp_path / "model" / "words.json")                       # its folder is created
    assert WordIndex.load(tmp_path / "model" / "words.json") == index
    with pytest.raises(ValueError, match="reserves pad=5"):
        WordIndex.from_json('{"pad": 5, "unknown": 1, "words": []}')


@pytest.mark.parametrize("padding, truncating, ids, expected", [
    ("post", "pre", [1, 2, 3], [1, 2, 3, 0, 0]),
    ("pre", "pre", [1, 2, 3], [0, 0, 1, 2, 3]),
    ("post", "pre", [1, 2, 3, 4, 5, 6, 7], [3, 4, 5, 6, 7]),
    ("post", "post", [1, 2, 3, 4, 5, 6, 7], [1, 2, 3, 4, 5]),
    ("pre", "post", [], [0, 0, 0, 0, 0]),
])
def test_shape_sequence(padding, truncating, ids, expected):
    out = shape_sequence(ids, 5, padding, truncating)
    assert out.dtype == np.int64 and out.tolist() == expected


def test_shape_sequence_rejects_bad_arguments():
    with pytest.raises(ValueError, match="length must be >= 1"):
        shape_sequence([1], 0)
    with pytest.raises(ValueError, match="padding and truncating"):
        shape_sequence([1], 3, padding="middle")
