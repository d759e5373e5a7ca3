"""The shipped ``ssd-mini-shapes`` model: checksums verify, a held-out slice reproduces its mAP."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from zoo.catalog import load_pretrained, model_card, verify
from zoo.datasets.fashion_mnist import DEFAULT_ROOT
from zoo.datasets.shapes import make_shapes
from zoo.models.ssd import detect_images, mean_average_precision, split_detections
from zoo.models.ssd.mini import preprocess

NAME = "ssd-mini-shapes"
pytestmark = pytest.mark.skipif(not Path(DEFAULT_ROOT, "t10k-labels-idx1-ubyte.gz").exists(),
                                reason="Debian package dataset-fashion-mnist is not installed")


def test_card_files_verify_and_record_the_metric() -> None:
    card = verify(NAME)  # weights and the annotated real photo
    assert card["metrics"]["map50"] >= 0.85
    assert "real_photo_detections.png" in card["files"]
    assert card["labels"][0] == "background" and len(card["labels"]) == 8


def test_heldout_slice_reproduces_the_card_map() -> None:
    net = load_pretrained(NAME)
    held = make_shapes(120, "test", seed=1)  # the first 120 canvases of the card's held-out set
    found = split_detections(net.model.forward(preprocess(held.images)), 120)
    truths = [(b.astype(np.float64), lab) for b, lab in zip(held.boxes, held.labels)]
    value = mean_average_precision(found, truths, 8)["map"]
    assert value == pytest.approx(model_card(NAME)["metrics"]["map50"], abs=0.06)


def test_detect_images_from_files(tmp_path: Path) -> None:
    from PIL import Image

    held = make_shapes(2, "test", seed=1)
    paths = []
    for i, image in enumerate(held.images):
        paths.append(tmp_path / f"canvas{i}.png")
        Image.fromarray(image).save(paths[-1])
    found = detect_images(load_pretrained(NAME), paths, min_score=0.5)
    for hits, labels in zip(found, held.labels):
        assert {held.class_names[k] for k in labels} <= {name for name, _, _ in hits}
        assert all(0 <= v <= 1.05 for _, _, box in hits for v in box)


def test_builder_loads_the_pretrained_weights() -> None:
    from zoo.models.ssd import ssd_mini

    x = preprocess(make_shapes(2, "test", seed=7).images)
    shipped = load_pretrained(NAME).model
    np.testing.assert_array_equal(ssd_mini(weights="pretrained", detector=True).evaluate()(x), shipped.forward(x))
    assert ssd_mini(weights="pretrained").evaluate()(x).shape == (2, 1140, 12)  # the training graph too
