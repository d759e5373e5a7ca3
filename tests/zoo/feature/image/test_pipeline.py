"""Chains: JSON config round trip (no pickle), determinism, epochs, and local == Spark."""
from __future__ import annotations

import numpy as np
import pytest

import zoo.feature.image as zi
from zoo.feature.image import (TRANSFORMERS, AspectScale, CenterCrop, ChannelNormalize, ColorJitter, HFlip, ImageRecord,
                               ImageSet, Pipeline, PixelScale, RandomResizedCrop, Rotate, ToTensor)

EXAMPLES = {
    "Resize": zi.Resize(20, 24, interpolation="nearest"), "AspectScale": AspectScale(16, 30),
    "CenterCrop": CenterCrop(8, 9), "RandomCrop": zi.RandomCrop(8, 8, padding=1, seed=2),
    "RandomResizedCrop": RandomResizedCrop(12, 10, scale=(0.3, 0.9), seed=3), "HFlip": HFlip(0.3, seed=4),
    "Rotate": Rotate((-15, 15), fill=3, seed=5), "ColorJitter": ColorJitter(0.2, (0.5, 1.5), 0.3, 0.05, seed=6),
    "PixelScale": PixelScale(2.0, -1.0), "ChannelNormalize": ChannelNormalize((1, 2, 3), (2, 2, 2)),
    "ChannelOrder": zi.ChannelOrder(), "ColorConvert": zi.ColorConvert("gray"), "ToTensor": ToTensor(),
    "Expand": zi.Expand(2.0, (1, 2, 3), 0.7, seed=7),
    "SSDRandomCrop": zi.SSDRandomCrop((None, 0.3), (0.5, 1.0), (0.6, 1.5), 20, seed=8),
}


def test_every_transformer_round_trips_through_json():
    assert set(EXAMPLES) == set(TRANSFORMERS) - {"Pipeline"}
    chain = Pipeline(list(EXAMPLES.values()))
    rebuilt = Pipeline.from_json(chain.to_json())
    assert rebuilt == chain and len(rebuilt) == len(EXAMPLES)
    for original, copy in zip(chain.steps, rebuilt.steps):
        assert type(copy) is type(original) and copy.get_config() == original.get_config()


def test_bad_configs_are_refused():
    with pytest.raises(ValueError, match="unknown transformer type 'Explode'"):
        Pipeline.from_json('[{"type": "Explode", "args": {}}]')
    with pytest.raises(ValueError, match="Resize: bad arguments"):
        Pipeline.from_json('[{"type": "Resize", "args": {"height": 3, "colour": 1}}]')
    with pytest.raises(ValueError, match="invalid"):
        Pipeline.from_json("[{")


def test_rshift_flattens_and_positions_get_own_streams(rng):
    chain = (HFlip(seed=1) >> HFlip(seed=1)) >> CenterCrop(4, 4)
    assert [type(s).__name__ for s in chain.steps] == ["HFlip", "HFlip", "CenterCrop"]
    image = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    outcomes = {bool(np.array_equal(Pipeline(chain.steps[:2])(ImageRecord(image, path=str(i))).image, image))
                for i in range(40)}
    assert outcomes == {True, False}        # same seed, different positions: the two flips do not always cancel


def augmentation() -> Pipeline:
    return Pipeline([RandomResizedCrop(16, 16, seed=1), HFlip(seed=2), Rotate((-10, 10), seed=3),
                     ColorJitter(0.3, 0.3, 0.3, 0.05, seed=4), PixelScale(), ToTensor()])


def test_chain_deterministic_and_epoch_dependent(rng):
    records = [ImageRecord(rng.integers(0, 256, (30, 40, 3), dtype=np.uint8), path=f"/d/{i}.png") for i in range(4)]
    first = [augmentation().run(r).image for r in records]
    again = [augmentation().run(r).image for r in reversed(records)][::-1]
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    other_epoch = [augmentation().run(r, epoch=1).image for r in records]
    assert not all(np.array_equal(a, b) for a, b in zip(first, other_epoch))


def test_local_and_spark_give_identical_results(spark, rng):
    images = [rng.integers(0, 256, (30, 40, 3), dtype=np.uint8) for _ in range(10)]
    local = ImageSet.from_arrays(images, labels=list(range(10)))
    distributed = local.distribute(spark, 3)
    assert distributed.frame.rdd.getNumPartitions() == 3
    x_local, y_local = local.transform(augmentation(), epoch=2).to_arrays()
    transformed = distributed.transform(augmentation(), epoch=2)
    x_spark, y_spark = transformed.to_arrays()
    assert x_local.shape == (10, 3, 16, 16) and x_local.dtype == np.float32
    order = np.argsort([r.index for r in transformed.records()])      # Spark's order is the partitions'
    np.testing.assert_array_equal(x_local, x_spark[order])
    np.testing.assert_array_equal(y_local, y_spark[order])
    rows = transformed.to_dataframe().collect()           # what DistributedTrainer.fit / zoo.predict read
    assert [f.name for f in transformed.to_dataframe().schema] == ["path", "index", "features", "label"]
    x_rows = np.stack([np.frombuffer(r.features, np.float32).reshape(3, 16, 16) for r in rows])
    np.testing.assert_array_equal(x_rows, x_spark)
    assert [r.label for r in rows] == y_spark.tolist()


def test_records_round_trip_through_arrow_rows(rng):
    from zoo.feature.image.arrow_records import batch_records, records_batch

    records = [ImageRecord(rng.integers(0, 256, (3, 5, 3), dtype=np.uint8), path="/a.png", label=1, label_name="b"),
               ImageRecord(rng.standard_normal((2, 4, 4)).astype(np.float32), index=7,
                           boxes=np.array([[0, 1, 2, 3]], np.float32), box_labels=np.array([4]))]
    back = batch_records(records_batch(records))
    for a, b in zip(records, back):
        np.testing.assert_array_equal(a.image, b.image)
        assert a.image.dtype == b.image.dtype and b.image.flags.writeable
        assert (a.path, a.label, a.label_name, a.index) == (b.path, b.label, b.label_name, b.index)
    assert back[0].boxes is None and back[0].box_labels is None
    np.testing.assert_array_equal(back[1].boxes, records[1].boxes)
    np.testing.assert_array_equal(back[1].box_labels, [4])


def test_spark_transform_error_names_the_record(spark, rng):
    local = ImageSet.from_arrays([rng.integers(0, 256, (5, 5, 3), dtype=np.uint8)])
    distributed = local.distribute(spark, 1)
    with pytest.raises(ValueError, match=r"CenterCrop on record 0: crop 8x8 at .* does not fit a 5x5 image"):
        distributed.transform(CenterCrop(8, 8)).records()


def test_split_is_stable_and_disjoint(spark):
    images = ImageSet.from_arrays([np.zeros((2, 2, 3), np.uint8)] * 100, labels=[0] * 100)
    first, rest = images.split(0.3, seed=1)
    a = {r.index for r in first.records()}
    b = {r.index for r in rest.records()}
    assert a.isdisjoint(b) and len(a | b) == 100 and 15 < len(a) < 45
    assert {r.index for r in images.split(0.3, seed=1)[0].records()} == a
    first, rest = images.distribute(spark, 2).split(0.3, seed=1)         # the same split on Spark
    assert {r.index for r in first.records()} == a and {r.index for r in rest.records()} == b


def test_to_arrays_refuses_mixed_sizes():
    mixed = ImageSet.from_arrays([np.zeros((2, 2, 3), np.uint8), np.zeros((3, 2, 3), np.uint8)])
    with pytest.raises(ValueError, match=r"record 1 has shape \(3, 2, 3\).*resize or crop"):
        mixed.to_arrays()


def test_to_dataframe_feeds_predict(spark, rng):
    from bigdl_runtime.nn import Flatten, Linear, Sequential
    from zoo.pipeline.inference import predict

    images = [rng.integers(0, 256, (6, 6, 3), dtype=np.uint8) for _ in range(5)]
    chain = PixelScale() >> ToTensor()
    local = ImageSet.from_arrays(images, labels=[0, 1, 0, 1, 1])
    x, _ = local.transform(chain).to_arrays()
    net = Sequential(Flatten(), Linear(108, 3))
    df = local.distribute(spark, 2).transform(chain).to_dataframe()
    rows = predict(net, df, input_col="features", input_shape=(3, 6, 6), output="array").collect()
    assert sorted(r["index"] for r in rows) == list(range(5))
    got = np.array([r.prediction for r in sorted(rows, key=lambda r: r["index"])])
    np.testing.assert_allclose(got, net.forward(x), rtol=1e-5, atol=1e-6)
