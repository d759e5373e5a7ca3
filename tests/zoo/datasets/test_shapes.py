"""The generated detection set: seeded, boxes tight around the pasted items, splits use different items."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from zoo.datasets.fashion_mnist import DEFAULT_ROOT
from zoo.datasets.shapes import SHAPES_CLASSES, make_shapes

pytestmark = pytest.mark.skipif(not Path(DEFAULT_ROOT, "t10k-labels-idx1-ubyte.gz").exists(),
                                reason="Debian package dataset-fashion-mnist is not installed")


def test_seeded_and_well_formed() -> None:
    a, b = make_shapes(12, "test", seed=4), make_shapes(12, "test", seed=4)
    np.testing.assert_array_equal(a.images, b.images)
    assert a.images.shape == (12, 96, 96) and a.images.dtype == np.uint8
    assert not np.array_equal(a.images, make_shapes(12, "test", seed=5).images)
    assert a.class_names[0] == "background" and len(a.class_names) == len(SHAPES_CLASSES) + 1
    for boxes, labels in zip(a.boxes, a.labels):
        assert 1 <= len(labels) <= 4 and boxes.shape == (len(labels), 4)
        assert labels.min() >= 1 and labels.max() <= len(SHAPES_CLASSES)
        assert np.all(boxes[:, :2] >= 0) and np.all(boxes[:, 2:] <= 1) and np.all(boxes[:, 2:] > boxes[:, :2])
        sides = (boxes[:, 2:] - boxes[:, :2]).max(axis=1) * 96
        assert np.all((sides >= 19) & (sides <= 81))
    # a prefix of a larger set is the smaller set (what the shipped model's test slice relies on)
    np.testing.assert_array_equal(make_shapes(20, "test", seed=4).images[:12], a.images)


def test_boxes_cover_the_objects() -> None:
    """Bright pixels (only items reach them; backgrounds stay below ~130) lie inside the boxes,
    and each box holds a bright item."""
    data = make_shapes(30, "train", seed=2)
    for image, boxes in zip(data.images, data.boxes):
        covered = np.zeros(image.shape, bool)
        for x0, y0, x1, y1 in np.round(boxes * 96).astype(int):
            covered[y0:y1, x0:x1] = True
            assert image[y0:y1, x0:x1].max() > 120
        assert not np.any((image > 170) & ~covered)


def test_splits_use_different_items_and_overlap_is_limited() -> None:
    train, test = make_shapes(10, "train", seed=0), make_shapes(10, "test", seed=0)
    assert not np.array_equal(train.images, test.images)
    for boxes in make_shapes(40, "train", seed=1).boxes:
        for i in range(len(boxes)):
            for j in range(i):
                iw = min(boxes[i, 2], boxes[j, 2]) - max(boxes[i, 0], boxes[j, 0])
                ih = min(boxes[i, 3], boxes[j, 3]) - max(boxes[i, 1], boxes[j, 1])
                areas = np.prod(boxes[[i, j], 2:] - boxes[[i, j], :2], axis=1)
                assert max(iw, 0) * max(ih, 0) <= 0.15 * areas.min() + 1e-6
    with pytest.raises(ValueError, match="min_side"):
        make_shapes(1, min_side=50, max_side=40)
