"""Pixel-value transformers: colour mode, jitter, scaling, per-channel normalisation, channel order, CHW tensor."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .record import ImageRecord
from .transform import Transformer, as_float, check_hwc, like_input

#: ITU-R 601 luma weights (what Pillow's ``convert("L")`` uses).
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def rgb_to_hsv(rgb: np.ndarray) -> np.ndarray:
    """``(..., 3)`` RGB in ``[0, 1]`` -> HSV in ``[0, 1]`` (hue as a fraction of a turn).

    Works on contiguous channel planes (numpy reduces slowly over a last axis of 3).
    """
    r, g, b = np.moveaxis(rgb, -1, 0).copy()
    v = np.maximum(np.maximum(r, g), b)
    c = v - np.minimum(np.minimum(r, g), b)
    safe_c = np.where(c > 0, c, 1)
    s = np.where(v > 0, c / np.where(v > 0, v, 1), 0)
    h = np.where(v == r, (g - b) / safe_c, np.where(v == g, 2 + (b - r) / safe_c, 4 + (r - g) / safe_c))
    h = np.where(c > 0, (h / 6.0) % 1.0, 0.0)
    return np.stack([h, s, v], axis=-1)


def hsv_to_rgb(hsv: np.ndarray) -> np.ndarray:
    """Inverse of :func:`rgb_to_hsv`.

    Channel ``n`` (5, 3, 1 for R, G, B) is ``v - v s clip(min(k, 4 - k), 0, 1)``
    with ``k = (n + 6 h) mod 6``: no per-sector branching.
    """
    h, s, v = np.moveaxis(hsv, -1, 0).copy()
    vs = v * s
    planes = []
    for n in (5.0, 3.0, 1.0):
        k = (n + 6.0 * h) % 6.0
        planes.append(v - vs * np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0))
    return np.stack(planes, axis=-1)


def adjust_brightness(x: np.ndarray, factor: float) -> np.ndarray:
    """``x * factor`` (x float in ``[0, 255]``)."""
    return x * np.float32(factor)


def adjust_contrast(x: np.ndarray, factor: float) -> np.ndarray:
    """Blend with the mean luma of the whole image: ``factor * x + (1 - factor) * mean``."""
    mean = (x @ LUMA).mean() if x.shape[-1] == 3 else x.mean()
    return np.float32(factor) * x + np.float32((1 - factor) * mean)


def adjust_saturation(x: np.ndarray, factor: float) -> np.ndarray:
    """Blend with each pixel's luma: ``factor * x + (1 - factor) * gray``."""
    gray = (x @ LUMA)[..., None]
    return np.float32(factor) * x + np.float32(1 - factor) * gray


def adjust_hue(x: np.ndarray, shift: float) -> np.ndarray:
    """Rotate the hue by ``shift`` turns (``[-0.5, 0.5]``)."""
    hsv = rgb_to_hsv(np.clip(x, 0, 255) / 255.0)
    hsv[..., 0] = (hsv[..., 0] + shift) % 1.0
    return (hsv_to_rgb(hsv) * 255.0).astype(np.float32)


class ColorJitter(Transformer):
    """Random brightness, contrast, saturation and hue changes, applied in a random order.

    Each factor is drawn per record: brightness/contrast/saturation
    ``~ U(max(0, 1 - v), 1 + v)``, hue shift ``~ U(-hue, hue)`` turns. Values are
    treated as ``[0, 255]`` and clipped there; uint8 in gives uint8 out.
    Saturation and hue need 3 channels and are skipped for 1-channel images.

    Args:
        brightness, contrast, saturation: jitter strength (0 disables), or an explicit ``(low, high)`` factor range.
        hue: maximum hue shift in turns, ``0 <= hue <= 0.5``.
        seed: the random stream's seed.
    """

    random = True

    def __init__(self, brightness: float | Sequence[float] = 0.0, contrast: float | Sequence[float] = 0.0,
                 saturation: float | Sequence[float] = 0.0, hue: float = 0.0, seed: int = 0) -> None:
        self.brightness = _factor_range(brightness, "brightness")
        self.contrast = _factor_range(contrast, "contrast")
        self.saturation = _factor_range(saturation, "saturation")
        if not 0.0 <= hue <= 0.5:
            raise ValueError(f"ColorJitter hue must be in [0, 0.5], got {hue}")
        self.hue, self.seed = float(hue), int(seed)

    def apply(self, record: ImageRecord, rng: np.random.Generator | None) -> ImageRecord:
        check_hwc(record.image)
        x = as_float(record.image).astype(np.float32, copy=True)
        color = x.shape[-1] == 3
        ops = []
        if self.brightness is not None:
            ops.append((adjust_brightness, float(rng.uniform(*self.brightness))))
        if self.contrast is not None:
            ops.append((adjust_contrast, float(rng.uniform(*self.contrast))))
        if self.saturation is not None:
            ops.append((adjust_saturation, float(rng.uniform(*self.saturation))))
        if self.hue > 0:
            ops.append((adjust_hue, float(rng.uniform(-self.hue, self.hue))))
        for k in rng.permutation(len(ops)):
            op, value = ops[k]
            if color or op in (adjust_brightness, adjust_contrast):
                x = np.clip(op(x, value), 0, 255)
        return record.replace(image=like_input(x, record.image))

    def get_config(self) -> dict[str, Any]:
        return {"brightness": _config_range(self.brightness), "contrast": _config_range(self.contrast),
                "saturation": _config_range(self.saturation), "hue": self.hue, "seed": self.seed}


def _factor_range(value: float | Sequence[float], what: str) -> tuple[float, float] | None:
    if isinstance(value, (int, float)):
        if value < 0:
            raise ValueError(f"ColorJitter {what} must be >= 0, got {value}")
        return None if value == 0 else (max(0.0, 1.0 - value), 1.0 + value)
    low, high = float(value[0]), float(value[1])
    if not 0 <= low <= high:
        raise ValueError(f"ColorJitter {what} range must have 0 <= low <= high, got {value}")
    return low, high


def _config_range(value: tuple[float, float] | None) -> float | list[float]:
    return 0.0 if value is None else list(value)


class PixelScale(Transformer):
    """``image * scale + offset`` as float32 (default maps ``[0, 255]`` to ``[0, 1]``)."""

    def __init__(self, scale: float = 1 / 255, offset: float = 0.0) -> None:
        self.scale, self.offset = float(scale), float(offset)

    def apply(self, record: ImageRecord, rng: np.random.Generator | None) -> ImageRecord:
        x = record.image.astype(np.float32) * np.float32(self.scale) + np.float32(self.offset)
        return record.replace(image=x)

    def get_config(self) -> dict[str, Any]:
        return {"scale": self.scale, "offset": self.offset}


class ChannelNormalize(Transformer):
    """``(image - mean) / std`` per channel, as float32.

    Args:
        mean, std: one value per channel (or one for all).

    Examples:
        >>> imagenet = PixelScale() >> ChannelNormalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    """

    def __init__(self, mean: float | Sequence[float], std: float | Sequence[float] = 1.0) -> None:
        self.mean = np.atleast_1d(np.asarray(mean, dtype=np.float32))
        self.std = np.atleast_1d(np.asarray(std, dtype=np.float32))
        if self.mean.ndim != 1 or self.std.ndim != 1 or np.any(self.std == 0):
            raise ValueError(f"ChannelNormalize needs 1-D mean and non-zero std, got {mean}, {std}")

    def apply(self, record: ImageRecord, rng: np.random.Generator | None) -> ImageRecord:
        check_hwc(record.image)
        channels = record.image.shape[-1]
        for what, values in (("mean", self.mean), ("std", self.std)):
            if len(values) not in (1, channels):
                raise ValueError(f"{len(values)} {what} values for a {channels}-channel image")
        return record.replace(image=(record.image.astype(np.float32) - self.mean) / self.std)

    def get_config(self) -> dict[str, Any]:
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}


#: Pillow's fixed-point ITU-R 601 luma weights (``convert("L")``: ``(r*19595 + g*38470 + b*7471 + 0x8000) >> 16``)
_LUMA_FIXED = np.array([19595, 38470, 7471], dtype=np.uint32)


class ColorConvert(Transformer):
    """Convert an ``(H, W, C)`` RGB image to the colour mode a model takes: ``"gray"`` (1 channel) or ``"rgb"`` (3).

    Grey is ITU-R 601 luma; on uint8 images it is bit-identical to Pillow's ``convert("L")`` (what reading
    with ``color="gray"`` gives). An alpha channel is dropped; a grey image becomes RGB by repeating it.
    Put it first in a chain, so a model gets its colour mode whatever mode the images were read in.

    Args:
        mode: ``"gray"`` or ``"rgb"``.

    Examples:
        >>> ColorConvert("gray")(np.zeros((28, 28, 3), np.uint8)).shape
        (28, 28, 1)
    """

    MODES = ("gray", "rgb")

    def __init__(self, mode: str = "rgb") -> None:
        if mode not in self.MODES:
            raise ValueError(f"ColorConvert mode must be one of {self.MODES}, got {mode!r}")
        self.mode = mode

    def apply(self, record: ImageRecord, rng: np.random.Generator | None) -> ImageRecord:
        check_hwc(record.image)
        image, channels = record.image, record.image.shape[-1]
        if channels not in (1, 3, 4):
            raise ValueError(f"ColorConvert({self.mode!r}) takes 1, 3 or 4 channels (grey, RGB, RGBA), got {channels}")
        if channels == 4:
            image = image[..., :3]
        if self.mode == "rgb":
            image = np.repeat(image, 3, axis=-1) if channels == 1 else image
        elif channels != 1:
            image = _luma(image)
        return record.replace(image=np.ascontiguousarray(image))

    def get_config(self) -> dict[str, Any]:
        return {"mode": self.mode}


def _luma(rgb: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` -> ``(H, W, 1)`` grey, as Pillow computes it for uint8, in float otherwise."""
    if rgb.dtype == np.uint8:
        return ((rgb.astype(np.uint32) @ _LUMA_FIXED + 0x8000) >> 16).astype(np.uint8)[..., None]
    return like_input(as_float(rgb) @ LUMA.astype(as_float(rgb).dtype), rgb)[..., None]


class ChannelOrder(Transformer):
    """Reorder channels (default ``(2, 1, 0)``: RGB <-> BGR, for Caffe-trained models).

    Args:
        order: the new position -> old channel index.
    """

    def __init__(self, order: Sequence[int] = (2, 1, 0)) -> None:
        self.order = [int(i) for i in order]
        if sorted(self.order) != list(range(len(self.order))):
            raise ValueError(f"ChannelOrder order must be a permutation of 0..n-1, got {order}")

    def apply(self, record: ImageRecord, rng: np.random.Generator | None) -> ImageRecord:
        check_hwc(record.image)
        if record.image.shape[-1] != len(self.order):
            raise ValueError(f"ChannelOrder {self.order} on a {record.image.shape[-1]}-channel image")
        return record.replace(image=np.ascontiguousarray(record.image[..., self.order]))

    def get_config(self) -> dict[str, Any]:
        return {"order": self.order}


class ToTensor(Transformer):
    """``(H, W, C)`` -> ``(C, H, W)`` float32, the layout models take (apply last)."""

    def apply(self, record: ImageRecord, rng: np.random.Generator | None) -> ImageRecord:
        check_hwc(record.image)
        return record.replace(image=np.ascontiguousarray(record.image.transpose(2, 0, 1), dtype=np.float32))

    def get_config(self) -> dict[str, Any]:
        return {}
