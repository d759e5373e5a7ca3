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


def test_from_dataframe_and_to_dataframe(spark):
    df = spark.createDataFrame([("good good film", "pos"), ("bad film", "neg"), ("good", "pos")], ["text", "label"])
    prepared = prepare(TextSet.from_dataframe(df))
    assert prepared.is_distributed and prepared.labels.names == ["neg", "pos"]
    x, y = prepared.to_arrays()
    np.testing.assert_array_equal(x, [[2, 2, 3, 0], [4, 3, 0, 0], [2, 0, 0, 0]])
    np.testing.assert_array_equal(y, [1, 0, 1])
    samples = prepared.to_dataframe()
    assert samples.schema.simpleString() == "struct<source:string,features:array<bigint>,label:bigint>"
    table = samples.toArrow()
    np.testing.assert_array_equal(np.stack([np.array(v) for v in table.column("features").to_pylist()]), x)
    assert table.column("label").to_pylist() == [1, 0, 1]
    assert all(s.startswith("partition ") for s in table.column("source").to_pylist())
    numeric = spark.createDataFrame([("a", 3), ("b", 1)], ["body", "y"])
    _, y_num = prepare(TextSet.from_dataframe(numeric, "body", "y")).to_arrays()
    np.testing.assert_array_equal(y_num, [3, 1])
    with pytest.raises(ValueError, match="column 'text' is not in"):
        TextSet.from_dataframe(numeric)
    with pytest.raises(ValueError, match="text column 'y' is bigint, not a string"):
        TextSet.from_dataframe(numeric, "y", None)
    with pytest.raises(ValueError, match="label column 'y' is double"):
        TextSet.from_dataframe(spark.createDataFrame([("a", 1.5)], ["text", "y"]), label_col="y")
    with pytest.raises(ValueError, match="after to_sequences"):
        TextSet.from_dataframe(df).tokenize().to_dataframe()
    with pytest.raises(ValueError, match="this TextSet is local"):
        TextSet.from_list(["a"]).to_dataframe()


def test_spark_rows_with_nulls_are_named(spark):
    df = spark.createDataFrame([("good film", "pos"), (None, "neg")], "text string, label string").coalesce(1)
    with pytest.raises(ValueError, match="partition 0, row 1: null text"):
        TextSet.from_dataframe(df).records()
    unlabelled = spark.createDataFrame([("good film", 1), ("bad", None)], "text string, label int").coalesce(1)
    with pytest.raises(ValueError, match="partition 0, row 1: null label"):
        len(TextSet.from_dataframe(unlabelled).tokenize().records())


def test_from_list_on_spark_agrees_with_local(spark):
    texts, labels = ["b a a", "c a b b", "d", "a é e"], ["x", "y", "x", "y"]
    local = prepare(TextSet.from_list(texts, labels))
    distributed = prepare(TextSet.from_list(texts, labels, spark=spark))
    assert distributed.is_distributed and distributed.word_index == local.word_index
    for (xa, ya), (xb, yb) in [(local.to_arrays(), distributed.to_arrays())]:
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)
    assert [r.source for r in distributed.records()] == ["row 0", "row 1", "row 2", "row 3"]
    unlabelled = TextSet.from_list(texts, spark=spark).tokenize().build_word_index(min_freq=2)
    assert unlabelled.word_index.words == ["a", "b"] and len(unlabelled) == 4
    assert prepare(TextSet.from_list(texts, spark=spark)).to_arrays()[1] is None


def test_trainer_fits_a_text_dataframe(spark):
    from bigdl_runtime.nn import Embedding, Flatten, Linear, Sequential, random
    from bigdl_runtime.nn.losses import CrossEntropyLoss
    from bigdl_runtime.optim import SGD
    from bigdl_runtime.spark.trainer import DistributedTrainer

    texts = ["good film", "bad film", "good good", "bad bad"] * 4
    prepared = prepare(TextSet.from_list(texts, ["pos", "neg", "pos", "neg"] * 4, spark=spark))
    random.manual_seed(0)
    model = Sequential(Embedding(len(prepared.word_index), 3), Flatten(), Linear(12, 2))
    trainer = DistributedTrainer(model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.5), spark)
    trainer.fit(prepared.to_dataframe(), batch_size=8, epochs=3)
    x, y = prepared.to_arrays()
    assert (model.forward(x).argmax(axis=1) == y).mean() == 1.0


def test_missing_folder_on_spark_is_named(spark, tmp_path):
    with pytest.raises(FileNotFoundError, match="no text files found.*nowhere"):
        TextSet.from_folder(tmp_path / "nowhere", spark)
