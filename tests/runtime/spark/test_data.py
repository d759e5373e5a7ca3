"""to_blocks: numpy arrays, DataFrames (array, nested array, Vector and multi-column features) and
RDDs become one (sorted ids, float32 or int64 features, labels) block per partition; bad rows fail with a
ValueError naming the row and column."""
from __future__ import annotations

import numpy as np
import pytest

from bigdl_runtime.spark.data import to_blocks


def collect(blocks) -> list:
    return blocks.rdd.collect()


def assemble(blocks) -> tuple[np.ndarray, list[np.ndarray], np.ndarray]:
    """All blocks' samples back in global-id order."""
    parts = collect(blocks)
    ids = np.concatenate([p[0] for p in parts])
    order = np.argsort(ids)
    xs = [np.concatenate([p[1][j] for p in parts])[order] for j in range(len(parts[0][1]))]
    return ids[order], xs, np.concatenate([p[2] for p in parts])[order]


def test_numpy_input_sample_i_goes_to_partition_i_mod_n(spark, rng):
    x, y = rng.standard_normal((7, 2, 3)), rng.integers(0, 4, 7)
    blocks = to_blocks(x, y, spark=spark, num_partitions=3)
    try:
        assert blocks.size == 7 and blocks.num_partitions == 3
        parts = collect(blocks)
        assert [p[0].tolist() for p in parts] == [[0, 3, 6], [1, 4], [2, 5]]
        ids, xs, labels = parts[1]
        assert xs[0].dtype == np.float32 and labels.dtype == y.dtype
        np.testing.assert_array_equal(xs[0], x[[1, 4]].astype(np.float32))
        np.testing.assert_array_equal(labels, y[[1, 4]])
    finally:
        blocks.unpersist()


def test_dataframe_nested_array_column_and_more_partitions_than_rows(spark, rng):
    x, y = rng.standard_normal((5, 2, 2)).astype(np.float32), rng.integers(0, 3, 5)
    df = spark.createDataFrame([(a.tolist(), float(b)) for a, b in zip(x, y)], ["image", "target"])
    blocks = to_blocks(df, spark=spark, num_partitions=7, features_col="image", label_col="target")
    try:
        assert blocks.size == 5 and blocks.num_partitions == 7
        assert sum(p[0].size == 0 for p in collect(blocks)) == 2      # empty partitions still hold a block
        ids, xs, labels = assemble(blocks)
        np.testing.assert_array_equal(ids, np.arange(5))
        np.testing.assert_array_equal(xs[0], x)
        np.testing.assert_array_equal(labels, y)
    finally:
        blocks.unpersist()


def test_vector_columns_multi_input_and_array_labels(spark, rng):
    from pyspark.ml.linalg import Vectors

    a, b, y = rng.standard_normal((6, 3)), rng.standard_normal((6, 2)), rng.standard_normal((6, 2))
    rows = [(Vectors.dense(a[i]), Vectors.sparse(2, {1: float(b[i, 1])}), y[i].tolist()) for i in range(6)]
    df = spark.createDataFrame(rows, ["a", "b", "y"])
    blocks = to_blocks(df, spark=spark, num_partitions=2, features_col=["a", "b"], label_col="y")
    try:
        ids, (xa, xb), labels = assemble(blocks)
        np.testing.assert_array_equal(xa, a.astype(np.float32))
        np.testing.assert_array_equal(xb, np.stack([np.zeros(6), b[:, 1]], axis=1).astype(np.float32))
        np.testing.assert_array_equal(labels, y)
    finally:
        blocks.unpersist()


def test_rdd_of_pairs_keeps_its_partitioning_when_not_repartitioned(spark, rng):
    x, y = rng.standard_normal((6, 3)), rng.integers(0, 2, 6)
    rdd = spark.sparkContext.parallelize(list(zip(x, y.tolist())), 3)
    blocks = to_blocks(rdd, spark=spark)
    try:
        assert [p[0].tolist() for p in collect(blocks)] == [[0, 1], [2, 3], [4, 5]]
        _, xs, labels = assemble(blocks)
        np.testing.assert_array_equal(xs[0], x.astype(np.float32))
        np.testing.assert_array_equal(labels, y)
    finally:
        blocks.unpersist()


def test_features_only(spark, rng):
    x = rng.standard_normal((4, 3))
    blocks = to_blocks(spark.sparkContext.parallelize(list(x), 2), spark=spark, labels=False)
    try:
        assert all(p[2] is None for p in collect(blocks))
    finally:
        blocks.unpersist()


@pytest.mark.parametrize("row, match", [
    (([1.0, 2.0, 3.0], 1.0), r"fit data: row 4, column 'features': feature shape \(3,\) differs from row 0's \(2,\)"),
    (([1.0, 2.0], float("nan")), r"fit data: row 4, column 'label': label nan is not finite"),
    ((None, 1.0), r"row 4, column 'features': features are null"),
])
def test_bad_row_is_a_value_error_naming_it(spark, row, match):
    rows = [([0.0, 1.0], 0.0)] * 4 + [row] + [([0.0, 1.0], 0.0)]
    df = spark.createDataFrame(rows, "features array<double>, label double")
    with pytest.raises(ValueError, match=match):
        to_blocks(df, spark=spark, num_partitions=2, what="fit data")


def test_of_several_bad_rows_the_first_is_named(spark):
    rows = [([0.0, 1.0], 0.0)] * 6
    rows[5], rows[2] = ([0.0], 0.0), ([0.0, 1.0], float("inf"))
    rdd = spark.sparkContext.parallelize(rows, 3)            # rows 2 and 5 in different partitions
    with pytest.raises(ValueError, match=r"^data: row 2, column 'label': label inf is not finite$"):
        to_blocks(rdd, spark=spark, num_partitions=2)


@pytest.mark.parametrize("kwargs, match", [
    ({"features_col": "pixels"}, r"no column\(s\) \['pixels'\]"),
    ({"num_partitions": 0}, "num_partitions must be >= 1"),
])
def test_bad_arguments(spark, kwargs, match):
    df = spark.createDataFrame([([0.0], 0.0)], ["features", "label"])
    with pytest.raises(ValueError, match=match):
        to_blocks(df, spark=spark, **kwargs)


def test_bad_numpy_and_rdd_input(spark):
    with pytest.raises(ValueError, match="row 1: label is not finite"):
        to_blocks(np.zeros((3, 2)), np.array([0.0, np.inf, 1.0]), spark=spark)
    with pytest.raises(ValueError, match=r"must be \(features, label\) pairs"):
        to_blocks(spark.sparkContext.parallelize([[1.0, 2.0, 3.0]]), spark=spark)


def test_integer_features_stay_int64_token_ids(spark, rng):
    ids = rng.integers(0, 50, (5, 4))
    df = spark.createDataFrame([(row.tolist(), i % 2) for i, row in enumerate(ids)], ["features", "label"])
    for data, y in ((df, None), (ids.astype(np.int32), np.arange(5) % 2)):
        blocks = to_blocks(data, y, spark=spark, num_partitions=2)
        try:
            _, xs, _ = assemble(blocks)
            assert xs[0].dtype == np.int64
            np.testing.assert_array_equal(xs[0], ids)
        finally:
            blocks.unpersist()


def test_real_values_in_an_integer_feature_column_name_the_row(spark):
    rdd = spark.sparkContext.parallelize([([1, 2], 0), ([3, 4], 1), ([5.5, 6.0], 0)], 1)
    with pytest.raises(ValueError, match=r"row 2, column 'features': float32 features where row 0 has int64"):
        to_blocks(rdd, spark=spark, num_partitions=1)
