"""NNImageReader: Spark's image schema (checked against Spark's own image data source), labels and their
metadata, grey images, and image columns fed through a preprocessing chain into a network."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from pyspark.ml.feature import IndexToString
from pyspark.ml.image import ImageSchema

from bigdl_runtime.nn import Flatten, Sequential
from zoo.feature.image import ChannelNormalize, PixelScale, ToTensor
from zoo.pipeline import NNImageReader, NNModel
from zoo.pipeline.columns import image_row, image_to_array


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """Two class folders of small RGB PNGs with known pixels."""
    root = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(5)
    pixels = {}
    for label in ("cat", "dog"):
        (root / label).mkdir()
        for i in range(2):
            image = rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)
            path = root / label / f"{i}.png"
            Image.fromarray(image, mode="RGB").save(path)
            pixels[path.name, label] = image
    return root, pixels


def test_rows_match_sparks_own_image_source_and_labels_carry_class_names(spark, folder):
    root, pixels = folder
    df = NNImageReader.read_images(str(root), spark)
    assert df.schema["image"].dataType == ImageSchema.columnSchema
    assert df.columns == ["image", "label", "labelName"]
    assert df.schema["label"].metadata["ml_attr"]["vals"] == ["cat", "dog"]
    ours = {r.image.origin.rsplit("/", 2)[-2:][0] + "/" + r.image.origin.rsplit("/", 1)[-1]: r for r in df.collect()}
    theirs = spark.read.format("image").load(str(root / "*" / "*.png")).collect()
    assert len(ours) == len(theirs) == 4
    for row in theirs:
        key = "/".join(row.image.origin.rsplit("/", 2)[-2:])
        mine = ours[key].image
        assert (mine.height, mine.width, mine.nChannels, mine.mode) == \
               (row.image.height, row.image.width, row.image.nChannels, row.image.mode)
        assert bytes(mine.data) == bytes(row.image.data)                      # BGR, row-major, like Spark
        name, label = key.split("/")[1], key.split("/")[0]
        np.testing.assert_array_equal(image_to_array(mine), pixels[name, label])
        assert ours[key].labelName == label and ours[key].label == ["cat", "dog"].index(label)
    decoded = IndexToString(inputCol="label", outputCol="name").transform(df).select("name", "labelName").collect()
    assert all(r.name == r.labelName for r in decoded)


def test_grey_images_have_one_channel_and_image_rows_round_trip(spark, folder):
    root, pixels = folder
    row = NNImageReader.read_images(str(root / "cat"), spark, with_label=None, color="gray").first()
    assert (row.image.nChannels, row.image.mode, len(row.image.data)) == (1, 0, 5 * 7)
    rgba = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    fields = image_row("x.png", rgba)
    assert fields["mode"] == 24 and bytes(fields["data"])[:4] == bytes([2, 1, 0, 3])      # BGRA
    as_row = ImageSchema.columnSchema.fromInternal(ImageSchema.columnSchema.toInternal(fields))
    np.testing.assert_array_equal(image_to_array(as_row), rgba)
    with pytest.raises(ValueError, match="5 channels"):
        image_row("y.png", np.zeros((2, 2, 5), np.uint8))


def test_image_column_goes_through_the_preprocessing_chain_on_the_workers(spark, folder):
    root, pixels = folder
    df = NNImageReader.read_images(str(root), spark)
    chain = PixelScale() >> ChannelNormalize([0.5, 0.4, 0.3], [0.2, 0.25, 0.5]) >> ToTensor()
    out = NNModel(Sequential(Flatten()), featuresCol="image", featurePreprocessing=chain).transform(df).collect()
    for r in out:
        name, label = r.image.origin.rsplit("/", 1)[-1], r.labelName
        expected = ((pixels[name, label] / 255.0 - [0.5, 0.4, 0.3]) / [0.2, 0.25, 0.5]).transpose(2, 0, 1)
        np.testing.assert_allclose(r.prediction.toArray(), expected.ravel(), rtol=1e-5, atol=1e-5)
    raw = NNModel(Sequential(Flatten()), featuresCol="image").transform(df).first()
    name, label = raw.image.origin.rsplit("/", 1)[-1], raw.labelName
    np.testing.assert_array_equal(raw.prediction.toArray(), pixels[name, label].transpose(2, 0, 1).ravel())
