"""Geometric transformers against hand-computed values, Pillow and OpenCV."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from zoo.feature.image import (AspectScale, CenterCrop, HFlip, ImageRecord, RandomCrop, RandomResizedCrop, Resize,
                               Rotate)


@pytest.fixture
def image(rng) -> np.ndarray:
    return rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)


def test_resize_bilinear_hand_computed():
    row = np.array([0.0, 10.0], dtype=np.float32).reshape(1, 2, 1)
    out = Resize(1, 4)(row)
    np.testing.assert_allclose(out[0, :, 0], [0.0, 2.5, 7.5, 10.0])
    assert out.dtype == np.float32


@pytest.mark.parametrize("size", [(20, 31), (64, 80), (37, 9)])
def test_resize_bilinear_matches_opencv(image, size):
    import cv2
    ours = Resize(*size)(image)
    ref = cv2.resize(image, (size[1], size[0]), interpolation=cv2.INTER_LINEAR)
    assert ours.shape == ref.shape and ours.dtype == np.uint8
    assert np.abs(ours.astype(int) - ref.astype(int)).max() <= 1


@pytest.mark.parametrize("size", [(20, 31), (74, 106)])
def test_resize_nearest_matches_pillow(image, size):
    ours = Resize(*size, interpolation="nearest")(image)
    ref = np.asarray(Image.fromarray(image).resize((size[1], size[0]), Image.Resampling.NEAREST))
    np.testing.assert_array_equal(ours, ref)


def test_resize_scales_boxes():
    rec = ImageRecord(np.zeros((10, 20, 3), np.uint8), boxes=np.array([[2, 1, 10, 5]], np.float32),
                      box_labels=np.array([3]))
    out = Resize(20, 10)(rec)
    np.testing.assert_allclose(out.boxes, [[1, 2, 5, 10]])
    np.testing.assert_array_equal(out.box_labels, [3])


def test_aspect_scale_sizes():
    assert AspectScale(256).output_size(480, 640) == (256, 341)
    assert AspectScale(256, max_size=300).output_size(480, 640) == (225, 300)
    assert AspectScale(100)(np.zeros((50, 20, 1), np.uint8)).shape == (250, 100, 1)
    with pytest.raises(ValueError, match="min_size <= max_size"):
        AspectScale(300, 200)


def test_center_crop_is_the_middle(image):
    np.testing.assert_array_equal(CenterCrop(20, 30)(image), image[8:28, 11:41])
    with pytest.raises(ValueError, match=r"CenterCrop on /x/y.png: crop 40x30 .* does not fit a 37x53 image"):
        CenterCrop(40, 30)(ImageRecord(image, path="/x/y.png"))


def locate(window: np.ndarray, image: np.ndarray) -> tuple[int, int]:
    h, w = window.shape[:2]
    hits = [(t, l) for t in range(image.shape[0] - h + 1) for l in range(image.shape[1] - w + 1)
            if np.array_equal(image[t:t + h, l:l + w], window)]
    assert len(hits) == 1
    return hits[0]


def test_random_crop_is_a_window_and_seeded(image):
    crop = RandomCrop(10, 12, seed=3)
    positions = {locate(crop(ImageRecord(image, path=f"/p/{i}.png")).image, image) for i in range(12)}
    assert len(positions) > 6                                      # positions vary per record
    rec = ImageRecord(image, path="/p/0.png")
    np.testing.assert_array_equal(crop(rec).image, RandomCrop(10, 12, seed=3)(rec).image)
    assert not np.array_equal(crop(rec).image, RandomCrop(10, 12, seed=4)(rec).image)
    padded = RandomCrop(37, 53, padding=2, seed=0)(rec).image
    assert padded.shape == image.shape


def test_random_resized_crop_full_area_equals_resize(image):
    full = RandomResizedCrop(16, 16, scale=(1.0, 1.0), ratio=(53 / 37, 53 / 37))
    np.testing.assert_array_equal(full(image), Resize(16, 16)(image))
    out = RandomResizedCrop(24, 20, seed=5)(ImageRecord(image, path="a"))
    assert out.image.shape == (24, 20, 3)


def test_random_resized_crop_window_in_range(rng):
    t = RandomResizedCrop(8, 8, scale=(0.2, 0.5), ratio=(0.5, 2.0))
    for _ in range(50):
        top, left, h, w = t.window(100, 120, rng)
        assert 0 <= top and top + h <= 100 and 0 <= left and left + w <= 120
        assert 0.19 <= h * w / 12000 <= 0.51 and 0.45 <= w / h <= 2.2


def test_hflip_probability_and_boxes(image):
    boxes = np.array([[0, 0, 10, 5]], np.float32)
    rec = ImageRecord(image, path="k", boxes=boxes)
    out = HFlip(p=1.0)(rec)
    np.testing.assert_array_equal(out.image, image[:, ::-1])
    np.testing.assert_allclose(out.boxes, [[43, 0, 53, 5]])
    assert HFlip(p=0.0)(rec).image is image
    flips = sum(HFlip(0.5, seed=1)(ImageRecord(image, path=str(i))).image is not image for i in range(200))
    assert 70 < flips < 130


def test_rotate_90_is_rot90(image):
    square = image[:31, :31]
    np.testing.assert_array_equal(Rotate(90)(square), np.rot90(square))
    np.testing.assert_array_equal(Rotate(-90)(square), np.rot90(square, k=-1))
    rec = ImageRecord(square, boxes=np.array([[0, 0, 10, 5]], np.float32))
    np.testing.assert_allclose(Rotate(90)(rec).boxes, [[0, 21, 5, 31]], atol=1e-4)


def test_rotate_matches_opencv(image):
    import cv2
    h, w = image.shape[:2]
    matrix = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), 30, 1.0)
    ref = cv2.warpAffine(image, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    diff = np.abs(Rotate(30)(image).astype(int) - ref.astype(int))
    assert diff[2:-2, 2:-2].max() <= 6 and diff.mean() < 1.0     # OpenCV uses 5-bit fixed-point weights


def test_random_rotate_range_is_seeded(image):
    t = Rotate((-20, 20), seed=2)
    rec = ImageRecord(image, path="r")
    np.testing.assert_array_equal(t(rec).image, Rotate((-20, 20), seed=2)(rec).image)
    assert t.random and not Rotate(5).random


def test_antialias_averages_fine_stripes_and_matches_bilinear_when_enlarging(image):
    stripes = np.zeros((64, 64, 3), np.uint8)
    stripes[:, ::2] = 255                                          # 2-pixel period, far above the output's Nyquist
    smooth = Resize(20, 20, interpolation="antialias")(stripes).astype(int)
    assert np.abs(smooth - 127.5).max() <= 10                      # averaged to grey
    aliased = Resize(20, 20)(stripes).astype(int)
    assert np.abs(aliased - 127.5).max() >= 100                    # plain bilinear samples the stripes
    big = Resize(74, 106, interpolation="antialias")(image).astype(int)
    assert np.abs(big - Resize(74, 106)(image).astype(int)).max() <= 1
    floats = image.astype(np.float32)
    np.testing.assert_allclose(Resize(74, 106, interpolation="antialias")(floats), big, atol=1)
