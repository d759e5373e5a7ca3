"""to_blocks: numpy arrays, DataFrames (array, nested array, Vector and multi-column features) and
RDDs become partitions of (sorted ids, float32 or int64 features, labels) records of at most record_bytes;
bad rows fail with a ValueError naming the row and column. EpochLayout: iteration k's job reads exactly the
samples of global batch k, partition p those with id p mod N, in batch order, and nothing else."""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from py4j.protocol import Py4JJavaError

from bigdl_runtime.spark.data import _census, to_blocks
from bigdl_runtime.spark.epoch_layout import EpochLayout, batch_share
from bigdl_runtime.train.trainer import EpochOrder


def collect(blocks) -> list:
    """Each partition's samples as one (ids, xs, y) block: its records concatenated."""
    return [(np.concatenate([r[0] for r in records]), tuple(np.concatenate([r[1][j] for r in records])
                                                            for j in range(len(records[0][1]))),
             None if records[0][2] is None else np.concatenate([r[2] for r in records]))
            for records in blocks.rdd.glom().collect()]


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
        assert sum(p[0].size == 0 for p in collect(blocks)) == 2
        assert all(len(records) >= 1 for records in blocks.rdd.glom().collect())  # an empty one holds a record
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
    (([0.0, None], 1.0), r"row 4, column 'features': features hold a null value"),
    (([0.0, 1.0], None), r"row 4, column 'label': label is null"),
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


def test_a_dataframe_column_without_numbers_is_named_before_any_job(spark):
    df = spark.createDataFrame([(["a"], [0.0], "x")], ["words", "features", "name"])
    with pytest.raises(ValueError, match=r"^data: column 'words' is array<string>: features must be a numeric"):
        to_blocks(df, spark=spark, features_col="words", label_col="name")
    with pytest.raises(ValueError, match=r"^data: column 'name' is string: labels must be numbers"):
        to_blocks(df, spark=spark, label_col="name")


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


def record_bytes(record) -> int:
    return record[0].nbytes + sum(x.nbytes for x in record[1]) + (record[2].nbytes if record[2] is not None else 0)


@pytest.mark.parametrize("source", ["numpy", "dataframe"])
def test_partitions_are_several_small_records_of_consecutive_sorted_ids(spark, rng, source):
    x, y = rng.standard_normal((23, 3)), rng.integers(0, 4, 23)
    data = (x, y) if source == "numpy" else (
        spark.createDataFrame([(a.tolist(), int(b)) for a, b in zip(x, y)], ["features", "label"]), None)
    # a row is 3 float32 features + one int64 label = 20 bytes: records of at most 3 rows (4 with their ids)
    blocks = to_blocks(*data, spark=spark, num_partitions=3, record_bytes=64)
    try:
        partitions = blocks.rdd.glom().collect()
        assert blocks.size == 23 and len(partitions) == 3
        for p, records in enumerate(partitions):
            assert len(records) >= 2
            ids = np.concatenate([r[0] for r in records])
            np.testing.assert_array_equal(ids, np.arange(p, 23, 3))       # sample i in partition i % 3, sorted
            assert all(record_bytes(r) <= 64 + 3 * 8 for r in records)   # ids ride along: 8 bytes per row
            for r in records:
                np.testing.assert_array_equal(r[1][0], x[r[0]].astype(np.float32))
                np.testing.assert_array_equal(r[2], y[r[0]])
    finally:
        blocks.unpersist()


def test_a_sample_larger_than_record_bytes_is_a_record_of_its_own(spark, rng):
    x, y = rng.standard_normal((5, 16)), rng.integers(0, 2, 5)
    blocks = to_blocks(x, y, spark=spark, num_partitions=2, record_bytes=10)
    try:
        assert [[r[0].tolist() for r in records] for records in blocks.rdd.glom().collect()] == [
            [[0], [2], [4]], [[1], [3], []]]            # equal record counts per partition: the last one pads
    finally:
        blocks.unpersist()


def test_a_bad_row_in_a_later_record_of_its_partition_is_named(spark):
    rows = [([0.0, 1.0], 0.0)] * 9
    rows[7] = ([0.0, 1.0, 2.0], 0.0)                        # partition 1, its 4th record (one row each)
    df = spark.createDataFrame(rows, "features array<double>, label double")
    with pytest.raises(ValueError, match=r"^fit data: row 7, column 'features': feature shape \(3,\)"):
        to_blocks(df, spark=spark, num_partitions=2, what="fit data", record_bytes=16)


def test_census_counts_records_and_rejects_a_sample_in_the_wrong_partition():
    record = (np.array([1, 3]), (np.zeros((2, 1), np.float32),), np.zeros(2))
    assert list(_census(1, [record, record], num_partitions=2)) == [4]
    assert list(_census(0, [record], num_partitions=None)) == [2]             # input partitioning: no rule
    with pytest.raises(RuntimeError, match="partition 0 of 2 holds sample 1, which belongs to partition 1"):
        list(_census(0, [record], num_partitions=2))


def job_stages(spark, group: str) -> list[list[tuple[str, int, int, int]]]:
    """Per job of ``group`` (in order): its stages' (status, tasks, input bytes, shuffle bytes read)."""
    sc = spark.sparkContext
    sc._jsc.sc().listenerBus().waitUntilEmpty()
    store, jvm, tracker = sc._jsc.sc().statusStore(), sc._jvm, sc.statusTracker()
    jobs = []
    for job in sorted(tracker.getJobIdsForGroup(group)):
        stages = []
        for stage in sorted(tracker.getJobInfo(job).stageIds):
            found = store.stageData(stage, False, jvm.java.util.ArrayList(), False,
                                    sc._gateway.new_array(jvm.double, 0)).iterator()
            while found.hasNext():
                data = found.next()
                stages.append((data.status().toString(), data.numTasks(), data.inputBytes(),
                               data.shuffleReadBytes()))
        jobs.append(stages)
    return jobs


def test_epoch_layout_gives_each_iteration_exactly_its_batch_share_in_batch_order(spark, rng):
    n, batch_size, partitions = 40, 7, 3                            # 6 batches per epoch, the last of 5
    x, y = rng.standard_normal((n, 2)), rng.integers(0, 5, n)
    blocks = to_blocks(x, y, spark=spark, num_partitions=partitions, record_bytes=48)   # 2 rows per record
    order = EpochOrder(n, seed=11, shuffle=True)
    layout = EpochLayout(blocks, batch_size, order, buffer_bytes=100)
    sc = spark.sparkContext
    try:
        assert layout.iterations == 6
        for epoch in (1, 2):
            sc.setJobGroup(f"layout-{epoch}", "epoch layout")
            for k in range(layout.iterations):
                shares = layout.shares(epoch, k)
                if (epoch, k) == (1, 3):   # shuffle outputs lost (as with a dead executor): the map stage reruns
                    sc._jsc.sc().cleaner().get().doCleanupShuffle(layout._shuffle_id, True)
                got = shares.mapPartitionsWithIndex(lambda p, pieces: [(p, batch_share(pieces))]).collect()
                batch = order(epoch)[k * batch_size:(k + 1) * batch_size]
                assert [p for p, _ in got] == list(range(partitions))
                for p, share in got:
                    expected = batch[batch % partitions == p]
                    if expected.size == 0:
                        assert share is None
                        continue
                    ids, (xs,), labels = share
                    np.testing.assert_array_equal(ids, expected)
                    np.testing.assert_array_equal(xs, x[expected].astype(np.float32))
                    np.testing.assert_array_equal(labels, y[expected])
            if epoch == 1:
                first = layout.shares(1, 0)
                sc.setJobGroup("layout-1-again", "epoch 1 layout, still there")
                first.count()
            run = [[s for s in stages if s[0] != "SKIPPED"] for stages in job_stages(spark, f"layout-{epoch}")]
            # the epoch's first job also runs the map stage (reads the blocks: input bytes), as does the first
            # after the loss; other jobs only read shuffle blocks; every job runs exactly N tasks, over its
            # batch's partitions
            assert [len(stages) for stages in run] == ([2, 1, 1, 2, 1, 1] if epoch == 1 else [2, 1, 1, 1, 1, 1])
            assert all(stages[-1][1] == partitions for stages in run)
            assert run[0][0][2] > 0 and all(stages[-1][2] == 0 for stages in run)
        assert [s[0] for s in job_stages(spark, "layout-1-again")[0]] == ["SKIPPED", "COMPLETE"]
        # laying out epoch 2 deleted epoch 1's shuffle and its position broadcast: reading epoch 1 again would
        # have to rerun the map stage, which needs that broadcast (with the files there, it would be skipped)
        with pytest.raises(Py4JJavaError, match=r"Broadcast\(\d+\) after it was destroyed"):
            first.count()
    finally:
        sc.setLocalProperty("spark.jobGroup.id", None)
        layout.unpersist()
        blocks.unpersist()


def test_dataframe_array_vector_and_multi_column_inputs_give_the_blocks_of_numpy_input(spark, rng):
    from pyspark.ml.linalg import Vectors, VectorUDT
    from pyspark.sql.types import ArrayType, DoubleType, FloatType, IntegerType, LongType, StructField, StructType

    n = 11
    a, b, y = rng.standard_normal((n, 2, 3)).astype(np.float32), rng.standard_normal((n, 4)), rng.integers(0, 3, n)
    rows = [(i, a[i].tolist(), Vectors.dense(b[i]), b[i].tolist(), int(y[i])) for i in range(n)]
    schema = StructType([StructField("i", IntegerType()), StructField("a", ArrayType(ArrayType(FloatType()))),
                         StructField("v", VectorUDT()), StructField("b", ArrayType(DoubleType())),
                         StructField("label", LongType())])
    df = spark.createDataFrame(rows, schema)
    df = df.repartition(3).cache()
    where = np.array([r.i for r in df.collect()])         # the rows in the DataFrame's order (zipWithIndex's ids)
    assert sorted(where) == list(range(n)) and where.tolist() != list(range(n))
    cases = [(["a"], [a[where]]), (["v"], [b[where]]), (["a", "v", "b"], [a[where], b[where], b[where]])]
    try:
        for columns, xs in cases:
            expected = to_blocks(xs, y[where], spark=spark, num_partitions=2, record_bytes=40)
            got = to_blocks(df, spark=spark, num_partitions=2, features_col=columns, record_bytes=40)
            try:
                assert got.size == expected.size == n
                for m, t in zip(collect(got), collect(expected)):        # each partition's samples in order
                    np.testing.assert_array_equal(m[0], t[0])
                    assert len(m[1]) == len(t[1]) == len(columns)
                    for mx, tx in zip(m[1], t[1]):
                        assert mx.dtype == tx.dtype == np.float32
                        np.testing.assert_array_equal(mx, tx)
                    assert m[2].dtype == t[2].dtype == np.int64
                    np.testing.assert_array_equal(m[2], t[2])
                assert all(record_bytes(r) <= 40 + 8 * r[0].size or r[0].size == 1   # ids ride along
                           for records in got.rdd.glom().collect() for r in records)
            finally:
                got.unpersist()
                expected.unpersist()
    finally:
        df.unpersist()


def test_a_bad_row_in_a_later_arrow_batch_is_named_by_its_global_row(spark):
    rows = [([float(i), 1.0], float(i % 3)) for i in range(40)]
    rows[33] = ([1.0, 2.0], float("nan"))             # partition 1 (rows 20-39): its 4th Arrow batch (rows 32-35)
    rows[35] = (None, 0.0)                             # a later bad row of that batch is not the one named

    def frame():
        return spark.createDataFrame(spark.sparkContext.parallelize(rows, 2), "features array<double>, label double")

    spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", "4")
    try:
        sizes = frame().mapInArrow(lambda batches: (pa.RecordBatch.from_pydict({"n": [b.num_rows]}) for b in batches),
                                   "n long").collect()
        assert [r.n for r in sizes] == [4] * 10                  # batches of 4 rows: 32-35 is partition 1's 4th
        with pytest.raises(ValueError, match=r"^fit data: row 33, column 'label': label nan is not finite$"):
            to_blocks(frame(), spark=spark, num_partitions=3, what="fit data")
        rows[33] = ([1.0, 2.0, 3.0], 0.0)               # another shape, inside a batch
        with pytest.raises(ValueError, match=r"^fit data: row 33, column 'features': feature shape \(3,\) differs "
                                             r"from row 0's \(2,\)$"):
            to_blocks(frame(), spark=spark, num_partitions=3, what="fit data")
        rows[32:36] = [([1.0, 2.0, 3.0], 0.0)] * 4        # a whole batch of another shape: its first row is named
        with pytest.raises(ValueError, match=r"^fit data: row 32, column 'features': feature shape \(3,\) differs "
                                             r"from row 0's \(2,\)$"):
            to_blocks(frame(), spark=spark, num_partitions=3, what="fit data")
    finally:
        spark.conf.unset("spark.sql.execution.arrow.maxRecordsPerBatch")


def test_binary_column_of_raw_float32_samples_needs_and_takes_feature_shape(spark, rng):
    x, y = rng.standard_normal((6, 2, 3)).astype(np.float32), rng.integers(0, 3, 6)
    df = spark.createDataFrame([(bytearray(a.tobytes()), int(b)) for a, b in zip(x, y)], "features binary, label long")
    with pytest.raises(ValueError, match=r"fit data: column 'features' is binary: give feature_shape"):
        to_blocks(df, spark=spark, what="fit data")
    blocks = to_blocks(df, spark=spark, num_partitions=2, feature_shape=(2, 3))
    try:
        ids, xs, labels = assemble(blocks)
        np.testing.assert_array_equal(ids, np.arange(6))
        assert xs[0].dtype == np.float32
        np.testing.assert_array_equal(xs[0], x)
        np.testing.assert_array_equal(labels, y)
    finally:
        blocks.unpersist()
    short = spark.createDataFrame([(bytearray(x[0].tobytes()), 0), (bytearray(8), 1)], "features binary, label long")
    with pytest.raises(ValueError, match=r"row 1, column 'features': features are 8 bytes; the input shape is "
                                         r"\(2, 3\) \(6 values\)"):
        to_blocks(short.coalesce(1), spark=spark, feature_shape=(2, 3))
