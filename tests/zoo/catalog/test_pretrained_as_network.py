"""A catalog model goes wherever a network does (zoo.predict, cut, with_new_head, the NN stages), carries its
cut points and its preprocessing as a ready chain with its colour mode; zoo's sub-packages are attributes."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import zoo
from bigdl_runtime.nn import Linear
from zoo.pipeline import NNClassifier, NNFeatureExtractor, NNImageReader, cut, with_new_head
from zoo.pipeline.finetune import BUNDLED_IMAGES

DIGIT = BUNDLED_IMAGES / "test" / "7" / "000.png"


@pytest.fixture(scope="module")
def lenet():
    return zoo.load_pretrained("lenet5-fashion-mnist")


def test_subpackages_are_attributes_of_a_plain_import_zoo():
    code = ("import sys, zoo; assert 'pyspark' not in sys.modules; "
            "print(zoo.models.lenet5.__name__, zoo.pipeline.cut.__name__, zoo.feature.image.Resize.__name__, "
            "zoo.feature.text.Tokenizer.__name__, zoo.importers.onnx.load_onnx.__name__, "
            "zoo.catalog.list_models.__name__, zoo.datasets.shapes.__name__, zoo.models.ssd.detect_images.__name__)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["lenet5", "cut", "Resize", "Tokenizer", "load_onnx", "list_models",
                                   "zoo.datasets.shapes", "detect_images"]
    with pytest.raises(AttributeError, match="module 'zoo' has no attribute 'modles'"):
        zoo.modles  # noqa: B018


def test_preprocessing_is_the_cards_chain_with_its_colour_mode(lenet):
    chain = lenet.preprocessing()
    assert lenet.color == "gray" and type(chain.steps[0]).__name__ == "ColorConvert"
    expected = lenet.preprocess_images([DIGIT])[0]                       # Pillow path of predict_images
    for mode in ("L", "RGB", "RGBA"):                                      # whatever mode the images come in
        pixels = np.asarray(Image.open(DIGIT).convert(mode))
        pixels = pixels[..., None] if pixels.ndim == 2 else pixels
        np.testing.assert_allclose(chain(pixels), expected, rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="'lstm-imdb' takes text input"):
        zoo.load_pretrained("lstm-imdb").preprocessing()


def test_cut_points_name_what_print_shows_plus_features(lenet, rng):
    points = lenet.cut_points()
    assert list(points)[:4] == ["conv1", "1", "2", "conv2"] and points["fc3"] == (10,)
    assert points["features"] == points["6"] == (400,)                  # Flatten before fc1
    x = rng.standard_normal((3, 1, 28, 28)).astype(np.float32)
    backbone = cut(lenet, "features")
    assert backbone.node("conv1").module is lenet.model.conv1            # shared with the catalog model
    np.testing.assert_array_equal(backbone.forward(x), cut(lenet.model, "6").forward(x))
    assert backbone.forward(x).shape == (3, 400)
    whole = with_new_head(lenet, Linear(10, 2, name="head"))              # the whole catalog model as backbone
    assert [k for k, p in whole.named_parameters() if p.trainable] == ["head.weight", "head.bias"]
    lenet.model.unfreeze()
    np.testing.assert_allclose(whole.forward(x), lenet.model.forward(x) @ whole.node("head").module.weight.data.T
                               + whole.node("head").module.bias.data, rtol=1e-5, atol=1e-5)
    assert "features" in zoo.load_pretrained("resnet20-fashion-mnist").cut_points()


def test_predict_says_what_input_the_model_takes(lenet):
    with pytest.raises(ValueError, match=r"takes grey images as \(1, 28, 28\) samples .* got shape \(2, 3, 28, 28\)"
                                         r"; make them with pretrained.preprocessing\(\)"):
        lenet.predict(np.zeros((2, 3, 28, 28), np.float32))


def test_catalog_model_in_zoo_predict_and_the_nn_stages(lenet, spark, tmp_path):
    for digit in ("1", "7"):
        (tmp_path / digit).mkdir()
        for k in range(2):
            image = Image.open(BUNDLED_IMAGES / "test" / digit / f"00{k}.png").convert("RGB")
            image.save(tmp_path / digit / f"{k}.png")
    df = NNImageReader.read_images(str(tmp_path), spark)                  # read in colour, the chain makes grey
    paths = [r.image.origin for r in df.select("image").collect()]
    local = lenet.preprocess_images([p.removeprefix("file:") for p in paths])
    features = NNFeatureExtractor(lenet, layer="features", featuresCol="image",
                                  featurePreprocessing=lenet.preprocessing()).transform(df)
    got = np.array([r.nnFeatures.toArray() for r in features.select("nnFeatures").collect()])
    np.testing.assert_allclose(got, cut(lenet, "features").forward(local), rtol=1e-5, atol=1e-5)
    rows = spark.createDataFrame([(i, x.ravel().tolist()) for i, x in enumerate(local)], ["id", "x"])
    scored = zoo.predict(lenet, rows, input_col="x", input_shape=(1, 28, 28), output="label", labels=lenet.labels)
    assert [r.prediction for r in scored.orderBy("id").collect()] == [l for [(l, _)] in lenet.top_labels(
        lenet.predict(local))]
    assert NNClassifier(lenet).model is lenet.model
    with pytest.raises(TypeError, match="NNClassifier: model must be a bigdl_runtime Module or a catalog model"):
        NNClassifier("lenet5-fashion-mnist")
    df.unpersist()
