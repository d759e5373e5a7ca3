"""NNClassifier / NNEstimator as Spark ML stages: inside a Pipeline with StringIndexer and VectorAssembler,
save and reload (fitted and unfitted), regression with validation, copy-on-fit, and clear errors."""
from __future__ import annotations

import numpy as np
import pytest
from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.evaluation import MulticlassClassificationEvaluator
from pyspark.ml.feature import StringIndexer, VectorAssembler
from pyspark.ml.linalg import Vectors

from bigdl_runtime.nn import Linear, ReLU, Sequential, random
from bigdl_runtime.nn.losses import MSELoss
from zoo.pipeline import NNClassifier, NNClassifierModel, NNEstimator, NNModel

SPECIES = np.array(["setosa", "versicolor", "virginica"])
QUICK = {"batchSize": 40, "showProgress": False, "seed": 1}


def flowers(spark, n: int, seed: int):
    """Three separable clusters in 4-d with string class names (an iris-like table)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    centres = np.array([[2, 0, 0, 1], [0, 2, 0, -1], [0, 0, 2, 0]], dtype=np.float64)
    x = centres[y] + 0.4 * rng.standard_normal((n, 4))
    rows = [(*map(float, r), str(SPECIES[c])) for r, c in zip(x, y)]
    return spark.createDataFrame(rows, ["a", "b", "c", "d", "species"])


def mlp(seed: int = 0) -> Sequential:
    random.manual_seed(seed)
    return Sequential(Linear(4, 16, name="fc1"), ReLU(), Linear(16, 3, name="fc2"))


def flower_pipeline() -> Pipeline:
    """StringIndexer -> VectorAssembler -> NNClassifier."""
    clf = NNClassifier(mlp(), maxEpoch=4, learningRate=0.1, momentum=0.9, **QUICK)
    return Pipeline(stages=[StringIndexer(inputCol="species", outputCol="label"),
                            VectorAssembler(inputCols=["a", "b", "c", "d"], outputCol="features"), clf])


def test_classifier_in_a_pipeline_learns_then_saves_and_reloads_with_identical_predictions(spark, tmp_path):
    train, test = flowers(spark, 120, seed=0), flowers(spark, 60, seed=1)
    model = flower_pipeline().fit(train)
    scored = model.transform(test)
    assert scored.columns == ["a", "b", "c", "d", "species", "label", "features", "prediction", "probability"]
    assert dict(scored.dtypes)["prediction"] == "double" and dict(scored.dtypes)["probability"] == "vector"
    assert MulticlassClassificationEvaluator(metricName="accuracy").evaluate(scored) > 0.9
    before = scored.select("prediction", "probability").collect()
    probabilities = np.array([r.probability.toArray() for r in before])
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-9)
    np.testing.assert_array_equal(probabilities.argmax(axis=1), [r.prediction for r in before])
    nn_stage = model.stages[-1]
    assert isinstance(nn_stage, NNClassifierModel)
    assert len(nn_stage.history.train) == 12                       # 4 epochs of 3 batches of 40

    path = str(tmp_path / "pipeline")
    model.write().overwrite().save(path)
    reloaded = PipelineModel.load(path)
    stage = reloaded.stages[-1]
    assert isinstance(stage, NNClassifierModel) and stage.uid == nn_stage.uid
    assert stage.getFeaturesCol() == "features" and stage.getBatchSize() == 40
    after = reloaded.transform(test).select("prediction", "probability").collect()
    assert [r.prediction for r in before] == [r.prediction for r in after]
    assert all(np.array_equal(a.probability.toArray(), b.probability.toArray()) for a, b in zip(before, after))


def test_unfitted_pipeline_round_trip_keeps_params_network_and_loss(spark, tmp_path):
    pipeline = flower_pipeline()
    pipeline.write().overwrite().save(str(tmp_path / "unfitted"))
    clf = Pipeline.load(str(tmp_path / "unfitted")).getStages()[-1]
    original = pipeline.getStages()[-1]
    assert isinstance(clf, NNClassifier) and clf.uid == original.uid
    assert (clf.getMaxEpoch(), clf.getLearningRate(), clf.getMomentum(), clf.getBatchSize()) == (4, 0.1, 0.9, 40)
    assert type(clf.loss).__name__ == "CrossEntropyLoss"
    saved, loaded = original.model.state_dict(), clf.model.state_dict()
    assert saved.keys() == loaded.keys() and all(np.array_equal(saved[k], loaded[k]) for k in saved)
    with pytest.raises(ValueError, match="not a 'zoo.pipeline.estimator.NNEstimator'"):
        NNEstimator.load(str(tmp_path / "unfitted" / "stages" / f"2_{original.uid}"))


def test_fit_trains_a_copy_so_refitting_gives_the_same_network(spark):
    df = VectorAssembler(inputCols=["a", "b", "c", "d"], outputCol="features").transform(
        StringIndexer(inputCol="species", outputCol="label").fit(flowers(spark, 40, 2)).transform(flowers(spark, 40, 2)))
    net = mlp()
    initial = net.state_dict()
    clf = NNClassifier(net, maxEpoch=1, learningRate=0.1, **QUICK)
    first, second = clf.fit(df).model.state_dict(), clf.fit(df).model.state_dict()
    assert all(np.array_equal(net.state_dict()[k], initial[k]) for k in initial)      # the estimator's net untouched
    assert all(np.array_equal(first[k], second[k]) for k in first)
    assert not np.array_equal(first["fc1.weight"], initial["fc1.weight"])
    assert clf.getTrainingMode() == "gang"
    jobs = clf.copy().setTrainingMode("iteration").fit(df).model.state_dict()   # per-iteration jobs: same weights
    assert all(np.array_equal(first[k], jobs[k]) for k in first)


def test_estimator_regression_with_array_features_feature_shape_and_validation(spark):
    rng = np.random.default_rng(3)
    w = np.array([[1.5], [-2.0], [0.5], [1.0]])
    x = rng.standard_normal((80, 4))
    rows = [([float(v) for v in r], float(t)) for r, t in zip(x, (x @ w).ravel())]
    df = spark.createDataFrame(rows, ["x", "y"])
    random.manual_seed(0)
    est = NNEstimator(Sequential(Linear(4, 1)), MSELoss(), featuresCol="x", labelCol="y", featureShape=[4],
                      maxEpoch=8, learningRate=0.3, batchSize=80, showProgress=False, predictionCol="yhat")
    est.setValidation(df, ["loss", "mae"])
    model = est.fit(df)
    assert isinstance(model, NNModel)
    assert len(model.history.validation) == 8 and model.history.validation[-1]["mae"] < 0.05
    out = model.transform(df).select("y", "yhat").collect()
    assert all(len(r.yhat) == 1 for r in out)
    np.testing.assert_allclose([r.yhat[0] for r in out], [r.y for r in out], atol=0.2)


def test_vector_column_reshaped_to_feature_shape_reaches_the_network(spark):
    from bigdl_runtime.nn import Flatten

    df = spark.createDataFrame([(Vectors.dense(np.arange(6.0)), 0.0)], ["features", "label"])
    net = Sequential(Flatten())
    out = NNModel(net, featureShape=[2, 3]).transform(df).first().prediction
    np.testing.assert_array_equal(out.toArray(), np.arange(6.0))
    with pytest.raises(Exception, match=r"NNModel: row 0 of partition \d+, column 'features' \(row \{'label': 0.0\}\): "
                                        r"features have shape \(6,\) \(6 values\); "
                                        r"cannot be reshaped to featureShape \[4, 2\]"):
        NNModel(net, featureShape=[4, 2]).transform(df).collect()


def test_clear_errors_for_bad_columns_labels_and_params(spark):
    df = spark.createDataFrame([(Vectors.dense([1.0, 2.0, 3.0, 4.0]), 1.5)], ["features", "label"])
    with pytest.raises(ValueError, match=r"label 1.5 is not a class index"):
        NNClassifier(mlp(), maxEpoch=1, **QUICK).fit(df)
    with pytest.raises(ValueError, match=r"no column\(s\) \['target'\]"):
        NNClassifier(mlp(), labelCol="target", maxEpoch=1, **QUICK).fit(df)
    with pytest.raises(TypeError, match="unknown parameter 'epochs'"):
        NNClassifier(mlp(), epochs=3)
    with pytest.raises(ValueError, match="unknown optimizer 'lbfgs'"):
        NNClassifier(mlp(), optimizer="lbfgs", **QUICK).fit(df)
    with pytest.raises(ValueError, match=r"mode must be one of \('iteration', 'gang'\), got 'async'"):
        NNClassifier(mlp(), trainingMode="async", **QUICK).fit(df)
    with pytest.raises(ValueError, match=r"output column\(s\) \['label'\] already exist"):
        NNModel(mlp(), predictionCol="label").transform(df)


def test_vector_array_and_image_columns_train_through_arrow_like_the_trainer_on_numpy(spark):
    """fit decodes each column form on the workers (Arrow batches, an image chain included) into the very samples
    DistributedTrainer gets from numpy arrays: the weights come out bit-identical; a bad image is named."""
    from pyspark.ml.image import ImageSchema

    from bigdl_runtime.nn import Flatten
    from bigdl_runtime.nn.losses import CrossEntropyLoss
    from bigdl_runtime.spark import DistributedTrainer
    from zoo.feature.image import ImageRecord, PixelScale, ToTensor
    from zoo.pipeline.columns import image_row
    from zoo.pipeline.training import make_optimizer

    rng = np.random.default_rng(11)
    n = 30
    y = rng.integers(0, 3, n)
    x = rng.standard_normal((n, 4))
    pixels = rng.integers(0, 256, (n, 4, 4, 3), dtype=np.uint8)
    chain = PixelScale() >> ToTensor()
    images = np.stack([chain.run(ImageRecord(p, path=f"{i}.png")).image for i, p in enumerate(pixels)])
    params = {"maxEpoch": 2, "learningRate": 0.1, "momentum": 0.9, "numPartitions": 2, "batchSize": 8,
              "showProgress": False, "seed": 1}

    def image_net(seed: int) -> Sequential:
        random.manual_seed(seed)
        return Sequential(Flatten(), Linear(48, 3))

    cases = [
        ("vector", mlp, x, spark.createDataFrame([(Vectors.dense(r), float(c)) for r, c in zip(x, y)],
                                                 ["features", "label"]), {}),
        ("array", mlp, x, spark.createDataFrame([([float(v) for v in r], float(c)) for r, c in zip(x, y)],
                                                ["features", "label"]), {}),
        ("image", image_net, images,
         spark.createDataFrame([(image_row(f"{i}.png", p), float(c)) for i, (p, c) in enumerate(zip(pixels, y))],
                               f"image {ImageSchema.columnSchema.simpleString()}, label double"),
         {"featuresCol": "image", "featurePreprocessing": chain}),
    ]
    for name, build, features, df, extra in cases:
        clf = NNClassifier(build(0), **params, **extra)
        fitted = clf.fit(df).model.state_dict()
        net = build(0)
        optimizer = make_optimizer("sgd", net, 0.1, 0.9, clf.getWeightDecay(), clf.getLearningRateSchedule(), 2)
        DistributedTrainer(net, CrossEntropyLoss(), optimizer, spark, num_partitions=2,
                           mode=clf.getTrainingMode()).fit(features.astype(np.float32), y, batch_size=8, epochs=2,
                                                            seed=1, progress=False)
        expected = net.state_dict()
        assert fitted.keys() == expected.keys(), name
        for key in expected:
            np.testing.assert_array_equal(np.asarray(fitted[key]), np.asarray(expected[key]), err_msg=f"{name} {key}")
    broken = [image_row("ok.png", pixels[0]), image_row("bad.png", pixels[1])]
    broken[1]["data"] = bytearray(5)
    bad = spark.createDataFrame([(b, 0.0) for b in broken],
                                f"image {ImageSchema.columnSchema.simpleString()}, label double").coalesce(1)
    with pytest.raises(ValueError, match=r"fit data: row 1 of partition 0, column 'image': image 'bad.png': "
                                         r"5 bytes of pixels for 4x4x3"):
        NNClassifier(image_net(0), featuresCol="image", featurePreprocessing=chain, **params).fit(bad)
    rows = [([1.0, 2.0, 3.0, 4.0], 1.0)] * 3 + [([1.0, 2.0, 3.0], 0.0)] * 3
    ragged = spark.createDataFrame(spark.sparkContext.parallelize(rows, 2), "features array<double>, label double")
    with pytest.raises(ValueError, match=r"fit data: row 0 of partition 1, column 'features': a sample of shape "
                                         r"\(3,\) differs from the first sample's \(4,\)"):
        NNClassifier(mlp(), **params).fit(ragged)


def test_the_first_sample_shape_is_read_on_the_driver_without_cutting_a_python_task_short(spark):
    # a take(1) of the training frame stops its Python task early, which PySpark's daemon reports with a
    # BrokenPipeError traceback on stderr: the shape comes from one Arrow row decoded on the driver instead
    from zoo.pipeline.columns import FeatureSpec
    from zoo.pipeline.training import _first_shape, training_frame

    df = spark.createDataFrame([([float(i)] * 6, 1.0) for i in range(8)], "x array<double>, label double")
    feature = FeatureSpec("x", (), None)

    class NoJobs:
        def select(self, *columns):
            raise AssertionError("the training frame was read")

    assert _first_shape(df, feature, NoJobs()) == (6,)
    ragged = spark.createDataFrame([([[1.0, 2.0], [3.0]], 1.0)], "x array<array<double>>, label double")
    frame = training_frame(ragged, feature, "label", True, "fit data")
    with pytest.raises(Exception, match=r"fit data: row 0 of partition \d+, column 'x': features are a ragged"):
        _first_shape(ragged, feature, frame)         # a first row that does not decode: the task's positioned error
