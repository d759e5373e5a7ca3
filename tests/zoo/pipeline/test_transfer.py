"""Transfer learning: cutting Sequential and Graph networks, a frozen backbone staying fixed while the new
head trains through NNClassifier, re-initialisation, and NNFeatureExtractor + Spark's LogisticRegression."""
from __future__ import annotations

import numpy as np
import pytest
from pyspark.ml.classification import LogisticRegression
from pyspark.ml.evaluation import MulticlassClassificationEvaluator
from pyspark.ml.linalg import Vectors

from bigdl_runtime.nn import Graph, Input, Linear, ReLU, Sequential, random
from bigdl_runtime.serialization import model_from_bytes, model_to_bytes
from zoo.pipeline import NNClassifier, NNFeatureExtractor, cut, with_new_head
from zoo.models.lenet import lenet5
from zoo.pipeline.transfer import as_graph, feature_layer, last_hidden, reinitialized


def mlp(seed: int = 0) -> Sequential:
    random.manual_seed(seed)
    return Sequential(Linear(4, 16, name="fc1"), ReLU(), Linear(16, 3, name="fc2"))


def blobs(n: int, seed: int):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    centres = np.array([[2, 0, 0, 1], [0, 2, 0, -1], [0, 0, 2, 0]], dtype=np.float32)
    return (centres[y] + 0.4 * rng.standard_normal((n, 4))).astype(np.float32), y


def test_cut_shares_layers_and_computes_the_prefix_of_sequential_and_graph(rng):
    net = mlp()
    x = rng.standard_normal((5, 4)).astype(np.float32)
    assert [n.name for n in as_graph(net).nodes] == ["input", "fc1", "1", "fc2"]
    assert last_hidden(net) == "1"
    hidden = cut(net, "1")
    np.testing.assert_array_equal(hidden.forward(x), np.maximum(net[0].forward(x), 0))
    assert hidden.node("fc1").module is net[0]                            # shared, not copied
    i = Input(name="x")
    graph = Graph(i, Linear(16, 2, name="out")(ReLU(name="act")(Linear(4, 16, name="inner")(i))))
    assert last_hidden(graph) == "act"
    np.testing.assert_array_equal(cut(graph, "inner").forward(x), graph.node("inner").module.forward(x))
    assert feature_layer(lenet5()) == "6" and feature_layer(net) == "1"   # Flatten before fc1; MLP: last hidden
    with pytest.raises(KeyError, match="no node named 'fc3'"):
        cut(net, "fc3")
    with pytest.raises(TypeError, match=r"Linear is a single layer, not a Graph or a Sequential network"):
        cut(Linear(2, 2), "x")
    with pytest.raises(TypeError, match="cut: model must be a bigdl_runtime Module or a catalog model"):
        cut("lenet5", "x")


def test_new_head_on_frozen_backbone_trains_only_the_head_then_unfreezes(spark):
    net = mlp()
    original = net.state_dict()
    model = with_new_head(cut(net, "1"), Linear(16, 3, name="head"))
    assert [k for k, p in model.named_parameters() if p.trainable] == ["head.weight", "head.bias"]
    x, y = blobs(60, 0)
    df = spark.createDataFrame([(Vectors.dense(a), float(b)) for a, b in zip(x, y)], ["features", "label"])
    fitted = NNClassifier(model, maxEpoch=2, learningRate=0.1, batchSize=30, showProgress=False).fit(df)
    trained = fitted.model.state_dict()
    for key in ("fc1.weight", "fc1.bias"):
        np.testing.assert_array_equal(trained[f"backbone.{key}"], original[key])
    head_before = model.state_dict()["head.weight"]
    assert not np.array_equal(trained["head.weight"], head_before)
    tuned = fitted.model.unfreeze()
    assert all(p.trainable for p in tuned.parameters())
    copy = model_from_bytes(model_to_bytes(model))                        # frozen flags survive the file
    assert [p.trainable for p in copy.parameters()] == [p.trainable for p in model.parameters()]


def test_reinitialized_keeps_the_architecture_with_new_weights(rng):
    net = with_new_head(cut(mlp(), "1"), Linear(16, 3, name="head"))
    random.manual_seed(7)
    fresh = reinitialized(net)
    assert fresh.state_dict().keys() == net.state_dict().keys()
    assert all(p.trainable for p in fresh.parameters())
    assert not np.array_equal(fresh.state_dict()["backbone.fc1.weight"], net.state_dict()["backbone.fc1.weight"])
    x = rng.standard_normal((3, 4)).astype(np.float32)
    fresh.load_state_dict(net.state_dict())
    np.testing.assert_array_equal(fresh.forward(x), net.forward(x))


def test_feature_extractor_vectors_feed_a_spark_logistic_regression(spark, tmp_path):
    net = mlp(seed=3)
    x, y = blobs(90, 1)
    df = spark.createDataFrame([(Vectors.dense(a), float(b)) for a, b in zip(x, y)], ["features", "label"])
    extractor = NNFeatureExtractor(net, layer="1", batchSize=16)
    features = extractor.transform(df).cache()
    rows = features.select("nnFeatures").collect()
    expected = np.maximum(net[0].forward(x), 0)
    np.testing.assert_allclose(np.array([r.nnFeatures.toArray() for r in rows]), expected, rtol=1e-6)
    model = LogisticRegression(featuresCol="nnFeatures", maxIter=50).fit(features)
    assert MulticlassClassificationEvaluator(metricName="accuracy").evaluate(model.transform(features)) > 0.9
    extractor.write().overwrite().save(str(tmp_path / "extractor"))
    again = NNFeatureExtractor.load(str(tmp_path / "extractor"))
    assert again.getOutputCol() == "nnFeatures" and again.getBatchSize() == 16
    first = again.transform(df).select("nnFeatures").first().nnFeatures.toArray()
    np.testing.assert_array_equal(first, rows[0].nnFeatures.toArray())
    features.unpersist()
