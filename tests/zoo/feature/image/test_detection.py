"""Box-aware detection augmentations: the boxes must keep covering the same pixels."""
from __future__ import annotations

import numpy as np
import pytest

from zoo.feature.image import Expand, HFlip, ImageRecord, Resize, SSDRandomCrop, iou


def coordinate_image(h: int, w: int) -> np.ndarray:
    """Channel 0 = row, channel 1 = column, channel 2 = 7: every pixel says where it came from."""
    rows, cols = np.mgrid[0:h, 0:w]
    return np.stack([rows, cols, np.full_like(rows, 7)], axis=-1).astype(np.uint8)


def detection_record(key: str) -> ImageRecord:
    boxes = np.array([[10, 20, 60, 70], [80, 5, 120, 40], [30, 90, 100, 140]], np.float32)
    return ImageRecord(coordinate_image(150, 160), path=key, boxes=boxes, box_labels=np.array([1, 2, 3]))


def test_iou_hand_computed():
    boxes = np.array([[0, 0, 2, 2], [1, 1, 3, 3], [5, 5, 6, 6]], np.float32)
    np.testing.assert_allclose(iou(boxes, np.array([0, 0, 2, 2], np.float32)), [1.0, 1 / 7, 0.0])


def test_expand_keeps_boxes_on_their_pixels():
    for i in range(5):
        rec = detection_record(f"e{i}")
        out = Expand(max_ratio=3, fill=(0, 0, 255), p=1.0, seed=1)(rec)
        assert out.image.shape[0] >= 150 and out.image.shape[1] >= 160
        placed = np.argwhere(out.image[..., 2] == 7)
        top, left = placed.min(0)
        np.testing.assert_array_equal(out.image[top:top + 150, left:left + 160], rec.image)
        np.testing.assert_allclose(out.boxes, rec.boxes + [left, top, left, top])
        assert (out.image[..., 2] == 255).sum() == out.image.shape[0] * out.image.shape[1] - 150 * 160


@pytest.mark.parametrize("min_iou, min_cropped", [(0.1, 10), (0.5, 3), (0.9, 0)])
def test_ssd_crop_respects_the_iou_constraint(min_iou, min_cropped):
    cropped = 0
    for i in range(20):
        rec = detection_record(f"c{i}")
        out = SSDRandomCrop(min_ious=(min_iou,), seed=4)(rec)
        if out is rec:
            continue
        cropped += 1
        top, left = int(out.image[0, 0, 0]), int(out.image[0, 0, 1])
        h, w = out.image.shape[:2]
        np.testing.assert_array_equal(out.image, rec.image[top:top + h, left:left + w])
        window = np.array([left, top, left + w, top + h], np.float32)
        assert iou(rec.boxes, window).max() >= min_iou
        centers = (rec.boxes[:, :2] + rec.boxes[:, 2:]) / 2
        inside = (centers[:, 0] >= left) & (centers[:, 0] < left + w) & (centers[:, 1] >= top) & \
                 (centers[:, 1] < top + h)
        np.testing.assert_array_equal(out.box_labels, rec.box_labels[inside])
        expected = np.clip(rec.boxes[inside], [left, top, left, top], [left + w, top + h, left + w, top + h])
        np.testing.assert_allclose(out.boxes, expected - [left, top, left, top])
    assert cropped >= min_cropped


def test_ssd_crop_none_option_keeps_the_image_and_needs_boxes():
    rec = detection_record("n")
    assert SSDRandomCrop(min_ious=(None,))(rec) is rec
    with pytest.raises(ValueError, match="SSDRandomCrop on /x.png: SSDRandomCrop needs a record with boxes"):
        SSDRandomCrop()(ImageRecord(np.zeros((4, 4, 3), np.uint8), path="/x.png"))


def test_detection_chain_boxes_follow_pixels():
    chain = Expand(p=1.0, seed=2) >> SSDRandomCrop(seed=3) >> Resize(60, 60, interpolation="nearest") >> \
        HFlip(p=1.0)
    for i in range(6):
        rec = detection_record(f"chain{i}")
        out = chain(rec)
        assert out.image.shape == (60, 60, 3)
        for box in out.boxes:
            x1, y1, x2, y2 = box
            assert 0 <= x1 <= x2 <= 60 and 0 <= y1 <= y2 <= 60
        assert len(out.boxes) == len(out.box_labels) >= 1
