"""zoo.predict / ModelTransformer on the session's Spark: same results as a local forward, order and columns kept."""
from __future__ import annotations

import os

import numpy as np
import pytest
from pyspark.ml.linalg import Vectors, VectorUDT
from pyspark.sql.types import ArrayType, DoubleType, IntegerType, StructField, StructType

from bigdl_runtime.nn import Sequential, layers as L
from zoo.models.lenet import lenet5
from zoo.pipeline.inference import ModelTransformer, predict, ship


@pytest.fixture(params=["arrow_udf", "mapInArrow"])
def scoring_path(request, monkeypatch) -> str:
    """Both ways DataFrames are scored: the Arrow UDF (PySpark >= 4.1) and the mapInArrow of older PySpark."""
    from zoo.pipeline import arrow_scoring

    if request.param == "arrow_udf" and not arrow_scoring.ARROW_UDF:
        pytest.skip("this PySpark has no Arrow UDFs")
    monkeypatch.setattr(arrow_scoring, "ARROW_UDF", request.param == "arrow_udf")
    return request.param


@pytest.fixture
def mlp() -> Sequential:
    return Sequential(L.Linear(6, 8, name="fc1"), L.Tanh(), L.Linear(8, 3, name="fc2"))


def _frame(spark, x: np.ndarray, partitions: int = 3):
    rows = [(i, f"name{i}", x[i].tolist(), 0.5 * i) for i in range(len(x))]
    return spark.createDataFrame(spark.sparkContext.parallelize(rows, partitions),
                                 "id long, name string, features array<float>, weight double")


def test_dataframe_matches_local_forward_keeps_order_and_columns(spark, mlp, rng, scoring_path) -> None:
    x = rng.normal(size=(37, 6)).astype(np.float32)
    df = _frame(spark, x)
    scored = predict(mlp, df, batch_size=5)
    rows = scored.collect()
    assert scored.columns == ["id", "name", "features", "weight", "prediction"]
    # same rows in the same order (parallelize keeps the list's order), other columns intact
    assert [tuple(r[:4]) for r in rows] == [(i, f"name{i}", x[i].tolist(), 0.5 * i) for i in range(37)]
    got = np.array([r.prediction.toArray() for r in rows])
    np.testing.assert_allclose(got, mlp.evaluate().forward(x), rtol=1e-6, atol=1e-6)
    assert scored.rdd.getNumPartitions() == df.rdd.getNumPartitions()


def test_columns_sharing_a_name_are_kept(spark, mlp, rng) -> None:
    """Two columns of one name (e.g. after a join) are kept; they cannot name a bad row, the others still do.
    (Arrow UDF only: a ``mapInArrow`` cannot return two columns of one name.)"""
    from zoo.pipeline import arrow_scoring

    if not arrow_scoring.ARROW_UDF:
        pytest.skip("this PySpark has no Arrow UDFs")
    x = rng.normal(size=(5, 6)).astype(np.float32)
    df = _frame(spark, x, 1)
    twice = df.select("id", "name", "features", df["name"].alias("name"))
    scored = predict(mlp, twice)
    assert scored.columns == ["id", "name", "features", "name", "prediction"]
    rows = scored.collect()
    assert [(r[0], r[1], r[3]) for r in rows] == [(i, f"name{i}", f"name{i}") for i in range(5)]
    np.testing.assert_allclose(np.array([r[4].toArray() for r in rows]), mlp.evaluate().forward(x), atol=1e-6)
    short = df.selectExpr("id", "name", "slice(features, 1, 5) as features", "name")
    with pytest.raises(Exception, match=r"predict: row 0 of partition 0, column 'features' \(row \{'id': 0\}\): "):
        predict(mlp, short, input_shape=(6,)).collect()


def test_vector_column_and_labels(spark, mlp, rng) -> None:
    x = rng.normal(size=(12, 6))
    df = spark.createDataFrame([(i, Vectors.dense(x[i])) for i in range(12)], ["id", "v"])
    names = ["cat", "dog", "bird"]
    named = predict(mlp, df, input_col="v", output_col="label", output="label", labels=names, input_shape=[6])
    rows = predict(mlp, named, input_col="v", output="label", input_shape=[6]).collect()  # one job for both
    expected = mlp.evaluate().forward(x.astype(np.float32)).argmax(axis=1)
    assert [r.label for r in rows] == [names[i] for i in expected]
    assert [r.prediction for r in rows] == expected.tolist()


def test_flat_images_with_input_shape_as_nested_arrays(spark, rng) -> None:
    net = lenet5(num_classes=4)
    images = rng.normal(size=(6, 784)).astype(np.float32)
    df = spark.createDataFrame([(i, images[i].tolist()) for i in range(6)], "id int, pixels array<float>")
    scored = predict(net, df, input_col="pixels", input_shape=(1, 28, 28), output="array", batch_size=4)
    assert scored.schema["prediction"].dataType.simpleString() == "array<float>"
    got = np.array([r.prediction for r in scored.collect()], dtype=np.float32)
    np.testing.assert_allclose(got, net.evaluate().forward(images.reshape(6, 1, 28, 28)), rtol=1e-5, atol=1e-5)


def test_rdd_in_order_and_model_file_path(spark, mlp, rng, tmp_path) -> None:
    x = rng.normal(size=(23, 6)).astype(np.float32)
    rdd = spark.sparkContext.parallelize(list(x), 4)
    mlp.save(str(tmp_path / "mlp.bigdl"))
    got = predict(str(tmp_path / "mlp.bigdl"), rdd, output="array", batch_size=4).collect()
    np.testing.assert_allclose(np.stack(got), mlp.evaluate().forward(x), rtol=1e-6, atol=1e-6)
    head = Sequential(mlp, L.Linear(3, 1))
    scalars = predict(head, rdd, output="scalar", input_shape=(6,)).collect()
    np.testing.assert_allclose(scalars, head.evaluate().forward(x)[:, 0], rtol=1e-6, atol=1e-6)


def test_wrong_shape_row_is_named(spark, mlp, rng, scoring_path) -> None:
    rows = [(i, rng.normal(size=6).tolist()) for i in range(8)]
    rows[5] = (5, [1.0, 2.0, 3.0])
    df = spark.createDataFrame(spark.sparkContext.parallelize(rows, 1), "id long, features array<double>")
    with pytest.raises(Exception, match=r"predict: row 5 of partition 0, column 'features' \(row \{'id': 5\}\): "
                                        r"features have shape \(3,\) \(3 values\); the model input is \(6,\)"):
        predict(mlp, df, batch_size=3).collect()


def test_argument_errors(spark, mlp) -> None:
    df = spark.createDataFrame([(1, [0.0] * 6)], "id long, features array<double>")
    with pytest.raises(ValueError, match="output column 'id' already exists"):
        predict(mlp, df, output_col="id")
    with pytest.raises(ValueError, match="no column"):
        predict(mlp, df, input_col="pixels")
    with pytest.raises(ValueError, match="2 labels for 3 output values"):
        predict(mlp, df, output="label", labels=["a", "b"])
    with pytest.raises(ValueError, match=r"the model rejects input\(s\) of shape \[\(4,\)\]"):
        predict(mlp, spark.createDataFrame([(1, [0.0] * 4)], "id long, features array<double>"))


def test_model_is_built_once_per_worker(spark, mlp) -> None:
    shipped = ship(mlp, spark.sparkContext)
    assert ship(mlp, spark.sparkContext) is shipped  # same weights: same broadcast and key

    def which(_: object) -> list[tuple[int, int]]:
        return [(os.getpid(), id(shipped.get()))]

    seen = spark.sparkContext.parallelize(range(8), 8).mapPartitions(which).collect()
    per_worker: dict[int, set[int]] = {}
    for pid, model_id in seen:
        per_worker.setdefault(pid, set()).add(model_id)
    assert all(len(ids) == 1 for ids in per_worker.values()), per_worker


def test_model_transformer(spark, mlp, rng) -> None:
    x = rng.normal(size=(9, 6)).astype(np.float32)
    df = _frame(spark, x, partitions=2)
    stage = ModelTransformer(mlp, inputCol="features", outputCol="scores", batchSize=4, outputType="array")
    rows = stage.transform(df).collect()
    ids = np.array([r.id for r in rows])
    np.testing.assert_allclose(np.array([r.scores for r in rows]), mlp.evaluate().forward(x[ids]), rtol=1e-6,
                               atol=1e-6)
    assert stage.getOrDefault(stage.batchSize) == 4


def test_onnx_model_scored_on_a_dataframe(spark, rng, tmp_path) -> None:
    from zoo.importers import onnx as importer

    import onnxruntime as ort
    path = str(tmp_path / "lenet.onnx")
    lenet5(num_classes=5).to_onnx(path, (1, 28, 28))
    images = rng.normal(size=(10, 784)).astype(np.float32)
    df = spark.createDataFrame([(i, images[i].tolist()) for i in range(10)], "id int, pixels array<float>")
    imported = importer.load_onnx(path)
    rows = predict(imported, df, input_col="pixels",
                   input_shape=(1, 28, 28), output="array").collect()
    ids = np.array([r.id for r in rows])
    reference = ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(
        None, {"input": images[ids].reshape(-1, 1, 28, 28)})[0]
    np.testing.assert_allclose(np.array([r.prediction for r in rows]), reference, rtol=1e-4, atol=1e-5)


def test_two_input_graph_from_two_columns(spark, rng) -> None:
    from bigdl_runtime.nn import Graph, Input

    a, b = Input(name="a"), Input(name="b")
    net = Graph([a, b], L.Linear(3, 2, name="fc")(L.Mul(name="gate")(a, b)))
    x, y = rng.normal(size=(7, 3)).astype(np.float32), rng.normal(size=(7, 3)).astype(np.float32)
    df = spark.createDataFrame([(i, x[i].tolist(), y[i].tolist()) for i in range(7)],
                               "id int, left array<float>, right array<float>")
    rows = predict(net, df, input_col=["left", "right"], input_shape=[(3,), (3,)], output="array").collect()
    np.testing.assert_allclose(np.array([r.prediction for r in rows]), net.forward(x, y), rtol=1e-6, atol=1e-6)


def test_scores_the_fused_model_and_leaves_the_model_as_it_is(spark, rng) -> None:
    net = Sequential(L.Conv2d(2, 4, 3, padding=1, bias=False, name="conv"), L.BatchNorm2d(4, name="bn"),
                     L.ReLU(name="relu"), L.Flatten(), L.Linear(4 * 5 * 5, 3, name="fc"))
    net.train()
    for _ in range(2):  # move the running statistics away from 0 / 1
        net.forward(rng.normal(size=(8, 2, 5, 5)).astype(np.float32) * 2 + 1)
    x = rng.normal(size=(9, 2, 5, 5)).astype(np.float32)
    rdd = spark.sparkContext.parallelize(list(x), 2)
    fused = np.stack(predict(net, rdd, output="array").collect())
    plain = np.stack(predict(net, rdd, output="array", fuse=False).collect())
    assert net.training and [type(m).__name__ for m in net.children()][:3] == ["Conv2d", "BatchNorm2d", "ReLU"]
    expected = net.evaluate().forward(x)
    np.testing.assert_array_equal(plain, expected)  # the model as it is
    np.testing.assert_allclose(fused, expected, rtol=1e-4, atol=1e-5)  # folded weights: float rounding only


# ------------------------------------------------------------------ Arrow batches: input and output forms, errors
@pytest.fixture
def small_arrow_batches(spark):
    """Arrow batches of 4 rows, so forward passes span batches and rows are counted across them."""
    key = "spark.sql.execution.arrow.maxRecordsPerBatch"
    spark.conf.set(key, "4")
    yield
    spark.conf.unset(key)


def test_nested_vector_and_number_columns_and_every_output_form(spark, rng) -> None:
    net = Sequential(L.Flatten(), L.Linear(6, 3, name="fc"))
    x = rng.normal(size=(11, 2, 3)).astype(np.float32)
    x[4] = 0.0
    x[4, 1, 2] = 2.5                                                        # row 4 will be a sparse Vector
    rows = [(i, x[i].tolist(), Vectors.sparse(6, {5: 2.5}) if i == 4 else Vectors.dense(x[i].ravel()),
             float(x[i, 0, 0])) for i in range(11)]
    schema = StructType([StructField("id", IntegerType()), StructField("nested", ArrayType(ArrayType(DoubleType()))),
                         StructField("v", VectorUDT()), StructField("number", DoubleType())])
    df = spark.createDataFrame(spark.sparkContext.parallelize(rows, 2), schema)
    expected = net.evaluate().forward(x)
    for column in ("nested", "v"):
        for output, read in (("vector", lambda c: c.toArray()), ("array", np.array), ("label", lambda c: c)):
            got = predict(net, df, input_col=column, input_shape=(2, 3), output=output).collect()
            assert [r.id for r in got] == list(range(11))
            want = expected.argmax(axis=1) if output == "label" else expected
            np.testing.assert_allclose(np.array([read(r.prediction) for r in got]), want, rtol=1e-5, atol=1e-6)
    one = Sequential(L.Linear(1, 1, name="fc"))
    scalars = predict(one, df, input_col="number", input_shape=(1,), output="scalar")
    assert scalars.schema["prediction"].dataType.simpleString() == "double"
    np.testing.assert_allclose([r.prediction for r in scalars.collect()],
                               one.evaluate().forward(x[:, 0, :1])[:, 0], rtol=1e-5, atol=1e-6)
    grid = predict(Sequential(L.Flatten()), df, input_col="nested", output="array", fuse=False)
    assert grid.schema["prediction"].dataType.simpleString() == "array<float>"
    np.testing.assert_allclose([r.prediction for r in grid.collect()], x.reshape(11, 6), rtol=1e-6)


def test_integer_features_reach_an_embedding_as_int64(spark) -> None:
    net = Sequential(L.Embedding(10, 2, name="emb"), L.Flatten())
    tokens = np.array([[1, 2, 3], [9, 0, 4], [5, 5, 5]])
    df = spark.createDataFrame([(i, tokens[i].tolist()) for i in range(3)], "id int, tokens array<int>")
    rows = predict(net, df, input_col="tokens", output="array").collect()
    np.testing.assert_allclose(np.array([r.prediction for r in rows]), net.forward(tokens), rtol=1e-6)


def test_forward_passes_span_arrow_batches_and_nothing_is_dropped(spark, mlp, rng, small_arrow_batches) -> None:
    x = rng.normal(size=(45, 6)).astype(np.float32)
    df = _frame(spark, x, partitions=2)
    for batch_size in (3, 5, 64):
        rows = predict(mlp, df, batch_size=batch_size, output="array").collect()
        assert [r.id for r in rows] == list(range(45))
        np.testing.assert_allclose(np.array([r.prediction for r in rows]), mlp.evaluate().forward(x), rtol=1e-6,
                                   atol=1e-6)


@pytest.mark.parametrize("cell, message", [
    (None, "features are null"),
    ([1.0, 2.0, None, 4.0, 5.0, 6.0], "features hold a null value"),
    ([[1.0], [2.0, 3.0]], "features are a ragged nested array"),
])
def test_bad_rows_after_several_arrow_batches_are_named(spark, mlp, rng, small_arrow_batches, cell, message) -> None:
    nested = isinstance(cell, list) and isinstance(cell[0], list)
    rows = [(i, (rng.normal(size=(2, 3)) if nested else rng.normal(size=6)).tolist()) for i in range(20)]
    rows[13] = (13, cell)
    kind = "array<array<double>>" if nested else "array<double>"
    df = spark.createDataFrame(spark.sparkContext.parallelize(rows, 2), f"id long, features {kind}")
    with pytest.raises(Exception, match=rf"predict: row 3 of partition 1, column 'features' \(row \{{'id': 13\}}\): "
                                        rf"{message}"):
        predict(mlp, df, input_shape=(6,), batch_size=3).collect()


def test_columns_without_numbers_and_images_are_refused_on_the_driver(spark, mlp) -> None:
    df = spark.createDataFrame([(1, "cat", ["a"])], "id long, name string, words array<string>")
    with pytest.raises(ValueError, match=r"column 'name' \(string\) holds no numbers"):
        predict(mlp, df, input_col="name")
    with pytest.raises(ValueError, match=r"column 'words' \(array<string>\) holds no numbers"):
        predict(mlp, df, input_col="words", input_shape=(6,))


def test_binary_columns_of_float32_or_uint8_bytes(spark, rng) -> None:
    net = lenet5(num_classes=4)
    images = rng.integers(0, 256, (7, 28, 28), dtype=np.uint8)
    x = (images / 255.0).astype(np.float32)
    df = spark.createDataFrame([(i, bytearray(x[i].tobytes()), bytearray(images[i].tobytes())) for i in range(7)],
                               "id int, floats binary, pixels binary")
    rows = predict(net, df, input_col="floats", input_shape=(1, 28, 28), output="array").collect()
    np.testing.assert_allclose(np.array([r.prediction for r in rows]), net.evaluate().forward(x[:, None]),
                               rtol=1e-5, atol=1e-5)
    raw = predict(net, df, input_col="pixels", input_shape=(1, 28, 28), output="array").collect()
    np.testing.assert_allclose(np.array([r.prediction for r in raw]),
                               net.forward(images[:, None].astype(np.float32)), rtol=1e-5, atol=1e-4)
    with pytest.raises(ValueError, match="column 'floats' holds raw bytes; give input_shape"):
        predict(net, df, input_col="floats")


@pytest.mark.parametrize("sizes", [[5, 0, 7, 11], [23], [1] * 23, [10, 13]])
@pytest.mark.parametrize("batch_size", [4, 7, 64])
def test_one_output_batch_per_arrow_batch_in_row_order(mlp, sizes, batch_size) -> None:
    """The task itself (no Spark): forward passes span Arrow batches, each non-empty batch's rows come back once,
    in order; a bad row is named by its partition position and its naming column."""
    import pyarrow as pa

    from bigdl_runtime.spark.arrow import list_column
    from zoo.pipeline.arrow_scoring import ArrowInput, ArrowScoring, BadRowError, _score_batches
    from zoo.pipeline.inference import _Cells, _Tensors

    class Local:
        def get(self):
            return mlp.evaluate()

    x = np.random.default_rng(0).standard_normal((23, 6), dtype=np.float32)
    starts = np.concatenate([[0], np.cumsum(sizes)])
    batches = [(list_column(x[a:a + k]), pa.array(np.arange(a, a + k))) for a, k in zip(starts, sizes)]
    scoring = ArrowScoring("predict", Local(), (ArrowInput("x", _Tensors((6,))),), _Cells("array", (3,), None),
                           ("p",), batch_size)
    out = list(_score_batches(batches, scoring, ("id",)))
    assert [len(columns[0]) for columns in out] == [k for k in sizes if k]
    got = np.concatenate([np.array(columns[0].to_pylist(), np.float32) for columns in out])
    np.testing.assert_allclose(got, mlp.evaluate().forward(x), atol=1e-6)
    bad = [(list_column(x[:5]), pa.array(np.arange(5))),
           (pa.array([[1.0] * 6, [1.0] * 5], pa.list_(pa.float32())), pa.array([105, 106]))]
    with pytest.raises(BadRowError, match=r"predict: row 6 of partition 0, column 'x' \(row \{'id': 106\}\): "
                                          r"features have shape \(5,\)"):
        list(_score_batches(bad, scoring, ("id",)))
