"""The main job end to end at reduced size (`zoo finetune --epochs 1`): the catalog's LeNet-5 on the bundled
MNIST digits through Spark; fine-tuning must beat the untrained head; outputs are written and reload."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from bigdl_runtime.serialization import load_model, read_metadata
from zoo.cli import main
from zoo.pipeline import NNClassifierModel
from zoo.catalog.preprocess import image_chain
from zoo.pipeline.finetune import BUNDLED_IMAGES


def test_bundled_images_are_a_small_labelled_train_test_split():
    for split, per_digit in (("train", 24), ("test", 16)):
        for digit in range(10):
            files = sorted((BUNDLED_IMAGES / split / str(digit)).glob("*.png"))
            assert len(files) == per_digit
    image = np.asarray(Image.open(BUNDLED_IMAGES / "train" / "3" / "000.png"))
    assert image.shape == (28, 28) and image.dtype == np.uint8 and image.max() > 200 and image.min() == 0
    assert sum(f.stat().st_size for f in BUNDLED_IMAGES.rglob("*.png")) < 200_000


def test_card_preprocessing_becomes_an_equivalent_image_chain():
    from zoo.catalog.preprocess import normalise
    from zoo.feature.image import Pipeline

    spec = {"kind": "image", "color": "L", "size": [28, 28], "scale": 1 / 255, "mean": [0.286], "std": [0.353]}
    chain = image_chain(spec)
    pixels = np.asarray(Image.open(BUNDLED_IMAGES / "test" / "7" / "000.png"))
    rgb = np.repeat(pixels[..., None], 3, axis=-1)       # images read in colour are made grey by the chain
    for image in (pixels[..., None], rgb):
        np.testing.assert_allclose(Pipeline.from_json(chain.to_json())(image), normalise(pixels[None], spec)[0],
                                   rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="'text' inputs"):
        image_chain({"kind": "text"})


def test_cli_lists_the_catalog_and_rejects_unknown_commands(capsys):
    assert main(["models"]) == 0
    assert "lenet5-fashion-mnist" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["train"])


def test_finetune_job_end_to_end_beats_the_untrained_head(spark, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out = tmp_path / "run"                      # file:// URIs: input and output go through Hadoop's FileSystem
    status = main(["finetune", "--epochs", "1", "--batch-size", "48", "--images", BUNDLED_IMAGES.as_uri(),
                   "--output", out.as_uri(), "--no-progress"])
    printed = capsys.readouterr().out
    assert status == 0, printed
    accuracies = {}
    for line in printed.split("held-out accuracy on", 1)[-1].splitlines():
        for key in ("(before)", "backbone frozen", "(after)", "from scratch"):
            if key in line:
                accuracies[key] = float(line.rsplit(None, 1)[-1].rstrip("%")) / 100
    assert accuracies.keys() == {"(before)", "backbone frozen", "(after)", "from scratch"}, printed
    assert accuracies["(after)"] > accuracies["(before)"] + 0.15, printed
    assert 0.0 <= accuracies["(before)"] <= 0.3                            # an untrained head: about chance
    assert (out / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    tuned = load_model(str(out / "finetuned.bigdl"))
    meta = read_metadata(str(out / "finetuned.bigdl"))
    assert meta["labels"] == [str(d) for d in range(10)] and meta["base_model"] == "lenet5-fashion-mnist"
    assert abs(meta["test_top1"] - accuracies["(after)"]) < 1e-3
    assert all(p.trainable for p in tuned.parameters())
    stage = NNClassifierModel.load(str(out / "nn-classifier-model"))
    assert stage.getFeaturesCol() == "image" and stage.getFeaturePreprocessing()
