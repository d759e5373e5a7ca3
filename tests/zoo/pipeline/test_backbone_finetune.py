"""The ImageNet MobileNetV2 through Spark on real photos (crops of scikit-image's cat and coffee photos at
112x112 to keep it fast): a linear probe (NNFeatureExtractor at the 'features' cut point + LogisticRegression in
a pyspark.ml Pipeline) and a new head on the frozen backbone separate the held-out crops; end-to-end
fine-tuning through NNClassifier then changes the backbone and keeps them separated."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pyspark.ml import Pipeline as SparkPipeline
from pyspark.ml.classification import LogisticRegression

import zoo
from bigdl_runtime.nn import Linear, random
from zoo.catalog.preprocess import image_chain, resize_steps
from zoo.feature.image import ChannelNormalize, PixelScale, ToTensor
from zoo.feature.image.transform import Pipeline
from zoo.pipeline import NNClassifier, NNFeatureExtractor, NNImageReader, cut, with_new_head
from zoo.pipeline.finetune import accuracy

PHOTOS = {"cat": "chelsea.png", "coffee": "coffee.png"}


def _crops(tmp_path: Path) -> Path:
    spec = importlib.util.find_spec("skimage")  # the package folder only; nothing of it is imported
    folder = Path(list(spec.submodule_search_locations)[0]) / "data" if spec else None
    if folder is None or not all((folder / f).is_file() for f in PHOTOS.values()):
        pytest.skip("scikit-image's photos absent: pip install --no-deps scikit-image==0.26.0")
    for label, file in PHOTOS.items():
        image = Image.open(folder / file).convert("RGB")
        w, h = image.size
        for k, (fx, fy, size) in enumerate([(0.0, 0.0, 0.8), (0.2, 0.2, 0.8), (0.1, 0.0, 0.9), (0.0, 0.1, 0.7),
                                            (0.15, 0.05, 0.85), (0.05, 0.15, 0.75)]):
            split = "train" if k < 4 else "test"
            side = int(size * min(w, h))
            crop = image.crop((int(fx * w), int(fy * h), int(fx * w) + side, int(fy * h) + side))
            (tmp_path / split / label).mkdir(parents=True, exist_ok=True)
            (crop.transpose(Image.Transpose.FLIP_LEFT_RIGHT) if k % 2 else crop).save(tmp_path / split / label / f"{k}.png")
    return tmp_path


def test_card_crop_specs_become_aspect_scale_and_centre_crop():
    spec = zoo.model_card("efficientnet-lite0-imagenet")["preprocessing"]
    steps = resize_steps(spec)
    assert [type(s).__name__ for s in steps] == ["AspectScale", "CenterCrop"] and steps[0].min_size == 256
    chain = image_chain(zoo.model_card("mobilenet-v2-imagenet")["preprocessing"])
    assert Pipeline.from_json(chain.to_json())(np.zeros((300, 400, 3), np.uint8)).shape == (3, 224, 224)
    pretrained = zoo.load_pretrained("mobilenet-v2-imagenet")
    assert pretrained.color == "rgb" and pretrained.preprocessing()(np.zeros((90, 60, 3), np.uint8)).shape == (3, 224, 224)
    points = pretrained.cut_points()
    assert points["feature_map"] == (1280, 7, 7) and points["pool"] == (1280, 1, 1) and points["features"] == (1280,)


@pytest.mark.slow
def test_mobilenet_v2_fine_tunes_through_spark_on_real_photos(spark, tmp_path):
    root = _crops(tmp_path)
    pretrained = zoo.load_pretrained("mobilenet-v2-imagenet")
    spec = {**pretrained.card["preprocessing"], "size": [112, 112], "resize_shorter": 128}
    chain = Pipeline([*resize_steps(spec), PixelScale(spec["scale"]), ChannelNormalize(spec["mean"], spec["std"]),
                      ToTensor()])
    train = NNImageReader.read_images(str(root / "train"), spark, color="rgb")
    classes = train.schema["label"].metadata["ml_attr"]["vals"]
    test = NNImageReader.read_images(str(root / "test"), spark, color="rgb", classes=classes)
    probe = SparkPipeline(stages=[
        NNFeatureExtractor(pretrained.model, layer="features", featuresCol="image", featurePreprocessing=chain,
                           batchSize=8),
        LogisticRegression(featuresCol="nnFeatures", maxIter=50)]).fit(train)
    assert accuracy(probe, test) == 1.0
    random.manual_seed(0)
    net = with_new_head(cut(pretrained, "features"), Linear(1280, 2, name="head"))
    common = {"featuresCol": "image", "featurePreprocessing": chain, "batchSize": 8, "optimizer": "adam",
              "seed": 0, "showProgress": False}
    head = SparkPipeline(stages=[NNClassifier(net, maxEpoch=2, learningRate=0.01, **common)]).fit(train).stages[-1]
    assert accuracy(head, test) == 1.0
    frozen = head.model.state_dict()["backbone.block16_dw_conv.weight"].copy()
    tuned = NNClassifier(head.model.unfreeze(), maxEpoch=1, learningRate=1e-4, **common).fit(train)
    assert not np.array_equal(tuned.model.state_dict()["backbone.block16_dw_conv.weight"], frozen)
    assert accuracy(tuned, test) >= 0.75
    train.unpersist()
    test.unpersist()
