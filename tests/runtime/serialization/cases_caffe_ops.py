"""Round-trip cases for the Caffe-style layers (see test_every_layer_round_trip.py)."""
from __future__ import annotations

from typing import Callable

from bigdl_runtime.nn import Module, layers as L

CASES: dict[str, tuple[Callable[[], Module], list[tuple[int, ...]]]] = {
    "LocalResponseNorm": (lambda: L.LocalResponseNorm(3, alpha=0.1, beta=0.6, k=2.0, region="within"),
                          [(2, 3, 4, 5)]),
    "Scale": (lambda: L.Scale([3, 4], axis=1, bias=True), [(2, 3, 4, 2)]),
    "Bias": (lambda: L.Bias([4], axis=-1), [(2, 3, 4)]),
    "Power": (lambda: L.Power(2.0, scale=0.5, shift=1.5), [(3, 4)]),
    "Crop": (lambda: L.Crop(axis=2, offset=[1, 0]), [(2, 3, 5, 4), (1, 1, 3, 4)]),
    "Normalize": (lambda: L.Normalize(3, across_spatial=False, channel_shared=False, eps=1e-6, init=20.0),
                  [(2, 3, 4, 4)]),
}
