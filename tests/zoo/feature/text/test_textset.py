"""TextSet from a list, a folder per label and a DataFrame; local and Spark give the same arrays."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from zoo.feature.text import TextSet, Tokenizer, WordIndex

DOCS = {"pos": {"a.txt": "Great movie, great cast!", "b.txt": "I loved it: 10/10.", "c.txt": ""},
        "neg": {"a.txt": "Boring. A boring, slow movie.", "d.txt": "Not great at all..."}}


@pytest.fixture
def text_folder(tmp_path: Path) -> Path:
    root = tmp_path / "reviews"
    for label, files in DOCS.items():
        (root / label).mkdir(parents=True)
        for name, text in files.items():
            (root / label / name).write_text(text, encoding="utf-8")
    (root / "neg" / "readme.md").write_text("not a review")
    return root


def prepare(texts: TextSet) -> TextSet:
    return texts.tokenize(Tokenizer(numbers="token")).build_word_index(max_words=6).to_sequences(4)


def test_from_list_pipeline_hand_checked():
    texts = TextSet.from_list(["b a a", "c a b b", "d"], ["x", "y", "x"])
    prepared = prepare(texts)
    assert prepared.word_index.words == ["a", "b", "c", "d"]          # a:3 b:3 (tie: alphabetical) c:1 d:1
    x, y = prepared.to_arrays()
    np.testing.assert_array_equal(x, [[3, 2, 2, 0], [4, 2, 3, 3], [5, 0, 0, 0]])
    np.testing.assert_array_equal(y, [0, 1, 0])
    assert prepared.labels.names == ["x", "y"] and prepared.tokenizer == Tokenizer(numbers="token")
    saved = WordIndex.from_json(prepared.word_index.to_json())
    x2, _ = texts.tokenize(Tokenizer(numbers="token")).to_sequences(4, word_index=saved).to_arrays()
    np.testing.assert_array_equal(x2, x)


def test_from_list_errors():
    with pytest.raises(ValueError, match="2 texts but 1 labels"):
        TextSet.from_list(["a", "b"], [0])
    with pytest.raises(ValueError, match="tokenize"):
        TextSet.from_list(["a"]).build_word_index()
    with pytest.raises(ValueError, match="needs a word index"):
        TextSet.from_list(["a"]).tokenize().to_sequences(3)
    with pytest.raises(ValueError, match=r"labels \['z'\] are not among the classes"):
        TextSet.from_list(["a"], ["z"], classes=["x"])
    with pytest.raises(TypeError, match="text row 1 is a int"):
        TextSet.from_list(["a", 3])


def test_from_folder_local_and_spark_agree(text_folder, spark):
    local = prepare(TextSet.from_folder(text_folder))
    assert local.labels.names == ["neg", "pos"] and len(local) == 5   # readme.md is not a .txt
    x_local, y_local = local.to_arrays()
    sources = [Path(r.source).relative_to(text_folder).as_posix() for r in local.records()]
    assert sources == ["neg/a.txt", "neg/d.txt", "pos/a.txt", "pos/b.txt", "pos/c.txt"]
    assert local.word_index.words == ["great", "<num>", "boring", "movie", "a", "all"]
    # "i loved it <num> <num>" truncated at the front: the end is kept
    np.testing.assert_array_equal(x_local[sources.index("pos/b.txt")], [1, 1, 3, 3])
    np.testing.assert_array_equal(x_local[sources.index("pos/c.txt")], [0, 0, 0, 0])  # the empty review is kept

    distributed = prepare(TextSet.from_folder(f"file://{text_folder}", spark))
    assert distributed.is_distributed and distributed.word_index == local.word_index
    by_source = {r.source: (r.ids, r.label) for r in distributed.records()}
    assert len(by_source) == 5                                          # the zero-byte file is not lost on Spark
    for i, record in enumerate(local.records()):
        ids, label = by_source[record.source]
        np.testing.assert_array_equal(ids, x_local[i])
        assert label == y_local[i]


def test_from_dataframe_and_to_rdd(spark):
    df = spark.createDataFrame([("good good film", "pos"), ("bad film", "neg"), ("good", "pos")], ["text", "label"])
    prepared = prepare(TextSet.from_dataframe(df))
    assert prepared.labels.names == ["neg", "pos"]
    x, y = prepared.to_arrays()
    np.testing.assert_array_equal(x, [[2, 2, 3, 0], [4, 3, 0, 0], [2, 0, 0, 0]])
    np.testing.assert_array_equal(y, [1, 0, 1])
    pairs = prepared.to_rdd().collect()
    np.testing.assert_array_equal(np.stack([p[0] for p in pairs]), x)
    assert [p[1] for p in pairs] == [1, 0, 1]
    numeric = spark.createDataFrame([("a", 3), ("b", 1)], ["body", "y"])
    _, y_num = prepare(TextSet.from_dataframe(numeric, "body", "y")).to_arrays()
    np.testing.assert_array_equal(y_num, [3, 1])
    with pytest.raises(ValueError, match="column 'text' is not in"):
        TextSet.from_dataframe(numeric)
