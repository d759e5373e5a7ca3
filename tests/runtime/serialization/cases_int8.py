"""Round-trip cases for the int8 layers made by quantize() (see test_every_layer_round_trip.py)."""
from __future__ import annotations

import numpy as np

from bigdl_runtime.nn import Module, layers as L


def _with_weights(layer: Module, seed: int) -> Module:
    """The layer with random int8 weights, per-channel scales and bias (its buffers, which the round-trip test
    does not randomise itself)."""
    rng = np.random.default_rng(seed)
    layer.register_buffer("weight", rng.integers(-127, 128, layer.weight.shape).astype(np.int8))
    layer.register_buffer("weight_scale", rng.uniform(0.001, 0.01, layer.weight_scale.shape).astype(np.float32))
    if layer.bias is not None:
        layer.register_buffer("bias", rng.standard_normal(layer.bias.shape).astype(np.float32))
    return layer


CASES = {
    "QuantizedConv2d": (lambda: _with_weights(L.QuantizedConv2d(
        4, 6, (3, 2), stride=(2, 1), padding=(1, 0, 1, 1), groups=2, input_scale=0.02, input_zero_point=128,
        relu=True, max_value=6.0, output_scale=0.03, output_zero_point=5, channels_last=True), 0), [(2, 4, 7, 6)]),
    "QuantizedConvAdd2d": (lambda: _with_weights(L.QuantizedConvAdd2d(
        4, 6, 3, padding=1, input_scale=0.02, input_zero_point=128, relu=True, output_scale=0.05,
        output_zero_point=3, addend_scale=0.04, addend_zero_point=120), 2), [(2, 4, 5, 5), (2, 6, 5, 5)]),
    "Dequantize": (lambda: L.Dequantize(0.05, 7), [(2, 3, 4)],
                   lambda rng, shape: rng.integers(0, 256, shape).astype(np.uint8)),
    "QuantizedLinear": (lambda: _with_weights(L.QuantizedLinear(
        5, 3, input_scale=0.05, input_zero_point=100, relu=True), 1), [(4, 5)]),
}
