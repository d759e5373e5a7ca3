"""Pixel-value transformers against colorsys, numpy formulas and hand-computed values."""
from __future__ import annotations

import colorsys

import numpy as np
import pytest

from zoo.feature.image import (ChannelNormalize, ChannelOrder, ColorConvert, ColorJitter, ImageRecord, PixelScale,
                               ToTensor)
from zoo.feature.image.color import LUMA, adjust_hue, hsv_to_rgb, rgb_to_hsv


@pytest.fixture
def image(rng) -> np.ndarray:
    return rng.integers(0, 256, (9, 11, 3), dtype=np.uint8)


def test_hsv_matches_colorsys(rng):
    rgb = rng.random((200, 3))
    rgb[:5] = [[0, 0, 0], [1, 1, 1], [0.5, 0.5, 0.5], [1, 0, 0], [0, 0, 1]]
    hsv = rgb_to_hsv(rgb)
    ref = np.array([colorsys.rgb_to_hsv(*px) for px in rgb])
    np.testing.assert_allclose(hsv, ref, atol=1e-12)
    np.testing.assert_allclose(hsv_to_rgb(hsv), rgb, atol=1e-12)


def test_hue_shift_half_turn_gives_the_complement():
    red = np.array([[[255.0, 0.0, 0.0]]], np.float32)
    np.testing.assert_allclose(adjust_hue(red, 0.5), [[[0, 255, 255]]], atol=1e-3)
    np.testing.assert_allclose(adjust_hue(red, 1 / 3), [[[0, 255, 0]]], atol=1e-3)


def test_brightness_fixed_factor(image):
    out = ColorJitter(brightness=(1.3, 1.3))(image)
    expected = np.clip(np.rint(image.astype(np.float32) * np.float32(1.3)), 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(out, expected)


def test_contrast_fixed_factor(image):
    x = image.astype(np.float64)
    mean = (x @ LUMA.astype(np.float64)).mean()
    expected = np.clip(np.rint(0.5 * x + 0.5 * mean), 0, 255)
    out = ColorJitter(contrast=(0.5, 0.5))(image)
    assert np.abs(out.astype(int) - expected.astype(int)).max() <= 1


def test_zero_saturation_is_grayscale(image):
    out = ColorJitter(saturation=(0.0, 0.0))(image)
    gray = np.rint(image.astype(np.float64) @ LUMA.astype(np.float64))
    for c in range(3):
        assert np.abs(out[..., c].astype(int) - gray.astype(int)).max() <= 1


def test_color_jitter_seeded_and_one_channel_safe(image):
    jitter = ColorJitter(0.4, 0.4, 0.4, 0.1, seed=9)
    rec = ImageRecord(image, path="p")
    np.testing.assert_array_equal(jitter(rec).image, ColorJitter(0.4, 0.4, 0.4, 0.1, seed=9)(rec).image)
    assert not np.array_equal(jitter(rec).image, jitter(rec.replace(path="q")).image)
    assert jitter(rec).image.dtype == np.uint8
    assert jitter(image[..., :1]).shape == (9, 11, 1)
    with pytest.raises(ValueError, match="hue"):
        ColorJitter(hue=0.7)


def test_pixel_scale_normalize_order_tensor(image):
    x = PixelScale()(image)
    assert x.dtype == np.float32
    np.testing.assert_allclose(x, image / 255.0, rtol=1e-6)
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    np.testing.assert_allclose(ChannelNormalize(mean, std)(x), (image / 255.0 - mean) / std, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(ChannelOrder()(image), image[..., ::-1])
    np.testing.assert_array_equal(ChannelOrder((1, 2, 0))(image), image[..., [1, 2, 0]])
    t = ToTensor()(image)
    assert t.shape == (3, 9, 11) and t.dtype == np.float32 and t.flags.c_contiguous
    np.testing.assert_array_equal(t[1], image[..., 1])
    with pytest.raises(ValueError, match="2 mean values for a 3-channel image"):
        ChannelNormalize((1, 2))(image)
    with pytest.raises(ValueError, match="permutation"):
        ChannelOrder((0, 0, 1))


def test_color_convert_to_gray_is_pillows_luma_and_to_rgb_repeats_grey(image):
    from PIL import Image

    grey = ColorConvert("gray")(image)
    assert grey.shape == (9, 11, 1) and grey.dtype == np.uint8
    np.testing.assert_array_equal(grey[..., 0], np.asarray(Image.fromarray(image).convert("L")))  # bit-identical
    rgba = np.concatenate([image, np.full((9, 11, 1), 7, np.uint8)], axis=-1)
    np.testing.assert_array_equal(ColorConvert("gray")(rgba), grey)                               # alpha dropped
    np.testing.assert_allclose(ColorConvert("gray")(image.astype(np.float32))[..., 0],
                               image.astype(np.float32) @ LUMA, rtol=1e-6)
    np.testing.assert_array_equal(ColorConvert("gray")(grey), grey)
    np.testing.assert_array_equal(ColorConvert("rgb")(grey), np.repeat(grey, 3, axis=-1))
    np.testing.assert_array_equal(ColorConvert("rgb")(image), image)
    with pytest.raises(ValueError, match="mode must be one of"):
        ColorConvert("L")
    with pytest.raises(ValueError, match="ColorConvert on .*takes 1, 3 or 4 channels"):
        ColorConvert("gray")(np.zeros((2, 2, 2), np.uint8))
