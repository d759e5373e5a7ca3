"""Round-trip cases for the layers of the ONNX operator breadth (see test_every_layer_round_trip.py)."""
from __future__ import annotations

from typing import Callable

import numpy as np

from bigdl_runtime.nn import Module, layers as L


def _unit(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.uniform(-0.9, 0.9, shape).astype(np.float32)


def _above_one(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.uniform(1.1, 3.0, shape).astype(np.float32)


def _uint8(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.integers(0, 8, size=shape).astype(np.uint8)


def _special(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.choice(np.array([np.nan, np.inf, -np.inf, 1.0], np.float32), size=shape)


def _data_and_indices(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Floats for the (3, 4) data, small int64 indices for the other shapes."""
    if shape == (3, 4):
        return rng.standard_normal(shape).astype(np.float32)
    return rng.integers(-2, 2, size=shape).astype(np.int64)


def _small_ints(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """int64 values in [-2, 2): valid indices for axes of size >= 2, and data for integer scatters."""
    return rng.integers(-2, 2, size=shape).astype(np.int64)


def _quantised(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Scales are the (1,)-shaped inputs (positive float32); everything else is uint8."""
    if shape == (1,):
        return rng.uniform(0.01, 0.1, shape).astype(np.float32)
    return rng.integers(0, 256, size=shape).astype(np.uint8)


def _float_then_scale(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.uniform(0.01, 0.1, shape).astype(np.float32) if shape == (1,) else \
        rng.standard_normal(shape).astype(np.float32)


def _unpool_inputs(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """The (1, 2, 2, 2) values, and for the (2, 2) placeholder distinct flat indices into (1, 2, 4, 4), shaped alike."""
    if shape == (2, 2):
        return rng.permutation(32)[:8].reshape(1, 2, 2, 2)
    return rng.standard_normal(shape).astype(np.float32)


def _rois(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """A (1, 2, 6, 6) feature map, (3, 4) regions inside it and (3,) batch indices (all 0)."""
    if shape == (3,):
        return np.zeros(3, np.int64)
    if shape == (3, 4):
        corner = rng.uniform(0, 3, (3, 2))
        return np.concatenate([corner, corner + rng.uniform(1, 3, (3, 2))], axis=1).astype(np.float32)
    return rng.standard_normal(shape).astype(np.float32)


def _quantized_lstm() -> Module:
    """A bidirectional int8 LSTM with random weights, per-column scales and biases."""
    rng = np.random.default_rng(3)
    layer = L.DynamicQuantizedLSTM(4, 3, direction="bidirectional", per_channel=True)
    for key, value in layer.state_dict().items():
        if key.startswith("weight") and value.dtype == np.int8 and value.ndim == 2:
            layer.load_state_dict({key: rng.integers(-128, 128, value.shape).astype(np.int8)}, strict=False)
        elif "scale" in key or key.startswith("bias"):
            layer.load_state_dict({key: rng.uniform(0.01, 0.1, value.shape).astype(np.float32)}, strict=False)
    return layer


# layer class name -> (factory, input shapes[, input maker])
CASES: dict[str, tuple[Callable[[], Module], list[tuple[int, ...]]] | tuple] = {
    "Sin": (lambda: L.Sin(), [(3, 4)]), "Cos": (lambda: L.Cos(), [(3, 4)]), "Tan": (lambda: L.Tan(), [(3, 4)]),
    "Asin": (lambda: L.Asin(), [(3, 4)], _unit), "Acos": (lambda: L.Acos(), [(3, 4)], _unit),
    "Atan": (lambda: L.Atan(), [(3, 4)]), "Sinh": (lambda: L.Sinh(), [(3, 4)]), "Cosh": (lambda: L.Cosh(), [(3, 4)]),
    "Asinh": (lambda: L.Asinh(), [(3, 4)]), "Acosh": (lambda: L.Acosh(), [(3, 4)], _above_one),
    "Atanh": (lambda: L.Atanh(), [(3, 4)], _unit),
    "Ceil": (lambda: L.Ceil(), [(3, 4)]), "Floor": (lambda: L.Floor(), [(3, 4)]),
    "Round": (lambda: L.Round(), [(3, 4)]), "Sign": (lambda: L.Sign(), [(3, 4)]),
    "Mod": (lambda: L.Mod(fmod=True), [(3, 4), (4,)]),
    "IsNaN": (lambda: L.IsNaN(), [(3, 4)], _special),
    "IsInf": (lambda: L.IsInf(detect_negative=False), [(3, 4)], _special),
    "BitShift": (lambda: L.BitShift("RIGHT"), [(3, 4), (4,)], _uint8),
    "BitwiseAnd": (lambda: L.BitwiseAnd(), [(3, 4), (4,)], _uint8),
    "BitwiseOr": (lambda: L.BitwiseOr(), [(3, 4), (4,)], _uint8),
    "BitwiseXor": (lambda: L.BitwiseXor(), [(3, 4), (4,)], _uint8),
    "BitwiseNot": (lambda: L.BitwiseNot(), [(3, 4)], _uint8),
    "GatherElements": (lambda: L.GatherElements(axis=0), [(3, 4), (2, 3)], _data_and_indices),
    "ScatterElements": (lambda: L.ScatterElements(axis=0, reduction="add"), [(3, 4), (2, 4), (2, 4)], _small_ints),
    "GatherND": (lambda: L.GatherND(), [(3, 4), (5, 2)], _data_and_indices),
    "ScatterND": (lambda: L.ScatterND(reduction="max"), [(3, 4), (2, 1), (2, 4)], _small_ints),
    "QuantizeLinear": (lambda: L.QuantizeLinear(dtype="int8"), [(3, 4), (1,)], _float_then_scale),
    "DequantizeLinear": (lambda: L.DequantizeLinear(), [(3, 4), (1,), ()], _quantised),
    "MatMulInteger": (lambda: L.MatMulInteger(), [(3, 4), (4, 2), (), ()], _quantised),
    "DynamicQuantizeLinear": (lambda: L.DynamicQuantizeLinear(), [(3, 4)]),
    "DynamicQuantizedLSTM": (_quantized_lstm, [(5, 2, 4)]),
    "ConvInteger": (lambda: L.ConvInteger(padding=[1, 0, 1, 0]), [(1, 2, 5, 5), (3, 2, 3, 3), (), ()], _quantised),
    "QLinearMatMul": (lambda: L.QLinearMatMul(), [(3, 4), (1,), (), (4, 2), (1,), (), (1,), ()], _quantised),
    "QLinearConv": (lambda: L.QLinearConv(stride=[2, 1]),
                    [(1, 2, 5, 5), (1,), (), (3, 2, 3, 3), (1,), (), (1,), ()], _quantised),
    "CumSum": (lambda: L.CumSum(axis=1, exclusive=True), [(3, 4)]),
    "CumProd": (lambda: L.CumProd(axis=-1, reverse=True), [(3, 4)]),
    "Hardmax": (lambda: L.Hardmax(axis=0), [(3, 4)]),
    "OneHot": (lambda: L.OneHot(5, off=-1.0, on=2.5, dtype="float32", axis=0), [(3, 4)], _small_ints),
    "NonZero": (lambda: L.NonZero(), [(3, 4)], _small_ints),
    "Unique": (lambda: L.Unique(axis=0, sorted=False), [(5, 2)], _small_ints),
    "BitCast": (lambda: L.BitCast("uint32"), [(3, 4)]),
    "Det": (lambda: L.Det(), [(2, 3, 3)]),
    "GridSample": (lambda: L.GridSample("cubic", "reflection", align_corners=True), [(2, 3, 4, 5), (2, 3, 2, 2)]),
    "DFT": (lambda: L.DFT(axis=1, length=6, onesided=True), [(2, 5, 1)]),
    "Col2Im": (lambda: L.Col2Im([4, 5], [2, 2], pads=[1, 0, 0, 1], strides=[2, 2]), [(2, 8, 6)]),
    "MaxUnpool": (lambda: L.MaxUnpool([2, 2], strides=[2, 2], output_shape=[1, 2, 5, 4]), [(1, 2, 2, 2), (2, 2)],
                  _unpool_inputs),
    "RoiAlign": (lambda: L.RoiAlign(2, 3, sampling_ratio=2, spatial_scale=0.5, mode="max"),
                 [(1, 2, 6, 6), (3, 4), (3,)], _rois),
    "MaxPoolIndices": (lambda: L.MaxPoolIndices([3, 2], stride=[2, 1], padding=[1, 0, 1, 1], storage_order=1),
                       [(2, 3, 7, 6)]),
}
