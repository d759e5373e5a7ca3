"""Exporter emitters for the importer's pointwise math and the Caffe-style layers, against onnxruntime."""
from __future__ import annotations

from typing import Callable

import numpy as np
import pytest

from bigdl_runtime.nn import Graph, Input, Module, layers as L

from .onnx_export_check import check_export


def _with(layer: Module, **params: np.ndarray) -> Module:
    for key, value in params.items():
        getattr(layer, key).data[...] = value
    return layer


# id -> (factory, per-sample shape, positive inputs)
CASES: dict[str, tuple[Callable[[], Module], tuple[int, ...], bool]] = {
    "sqrt": (lambda: L.Sqrt(), (3, 4), True),
    "exp": (lambda: L.Exp(), (3, 4), False),
    "log": (lambda: L.Log(), (3, 4), True),
    "neg": (lambda: L.Neg(), (3, 4), False),
    "abs": (lambda: L.Abs(), (3, 4), False),
    "reciprocal": (lambda: L.Reciprocal(), (3, 4), True),
    "erf": (lambda: L.Erf(), (3, 4), False),
    "pow_fixed": (lambda: L.Pow(1.5), (3, 4), True),
    "clip": (lambda: L.Clip(-0.5, 0.7), (3, 4), False),
    "clip_min_only": (lambda: L.Clip(min=0.1), (3, 4), False),
    "relu6": (lambda: L.ReLU6(), (3, 4), False),
    "scale_channels_bias": (lambda: _with(L.Scale([3], bias=True), weight=np.array([0.5, -1.0, 2.0]),
                                          bias=np.array([0.1, 0.2, -0.3])), (3, 4, 5), False),
    "scale_hw": (lambda: _with(L.Scale([4, 5], axis=2), weight=np.arange(20.0).reshape(4, 5)), (3, 4, 5), False),
    "bias_channels": (lambda: _with(L.Bias([3]), bias=np.array([1.0, -2.0, 0.5])), (3, 4, 5), False),
    "power": (lambda: L.Power(2.0, 3.0, 1.0), (3, 4), False),
    "power_identity": (lambda: L.Power(), (3, 4), False),
    "lrn_across": (lambda: L.LocalResponseNorm(3, alpha=0.2, beta=0.75, k=2.0), (6, 4, 5), False),
    "lrn_across_even": (lambda: L.LocalResponseNorm(4, alpha=0.3, beta=0.5, k=1.0), (6, 4, 5), False),
    "lrn_within": (lambda: L.LocalResponseNorm(3, alpha=0.5, beta=0.75, region="within"), (2, 6, 7), False),
    "normalize_spatial_shared": (lambda: L.Normalize(3, init=2.0), (3, 4, 5), False),
    "normalize_per_pixel_channels": (lambda: _with(L.Normalize(3, across_spatial=False, channel_shared=False),
                                                   weight=np.array([1.0, 20.0, -3.0])), (3, 4, 5), False),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_layer_exports(case: str, rng: np.random.Generator) -> None:
    factory, shape, positive = CASES[case]
    check_export(factory(), shape, rng, positive=positive)


@pytest.mark.parametrize("layer", [L.Maximum, L.Minimum, L.Average])
def test_variadic(layer: type, rng: np.random.Generator) -> None:
    a, b, c = Input(name="a"), Input(name="b"), Input(name="c")
    check_export(Graph([a, b, c], layer(name="out")(a, b, c)), [(2, 3), (2, 3), (1, 3)], rng)


def test_pow_of_two_inputs(rng: np.random.Generator) -> None:
    a, b = Input(name="a"), Input(name="b")
    check_export(Graph([a, b], L.Pow(name="out")(a, b)), [(2, 3), (2, 3)], rng, positive=True)


def test_comparisons_logic_and_where(rng: np.random.Generator) -> None:
    a, b = Input(name="a"), Input(name="b")
    greater = L.Greater(name="gt")(a, b)
    outputs = [L.Where(name="where")(greater, a, b), L.LogicalNot(name="not")(L.Equal(name="eq")(a, b))]
    for cmp, logic in [(L.Less, L.LogicalAnd), (L.LessOrEqual, L.LogicalOr), (L.GreaterOrEqual, L.LogicalXor)]:
        outputs.append(logic(name=logic.__name__.lower())(greater, cmp(name=cmp.__name__.lower())(a, b)))
    proto = check_export(Graph([a, b], outputs), [(3, 4), (3, 4)], rng)
    assert [o.type.tensor_type.elem_type for o in proto.graph.output] == [1, 9, 9, 9, 9]  # float, then booleans


def test_crop_to_reference(rng: np.random.Generator) -> None:
    x, ref = Input(name="x"), Input(name="ref")
    check_export(Graph([x, ref], L.Crop(axis=2, offset=[1, 2], name="crop")(x, ref)), [(3, 8, 9), (1, 5, 6)], rng)
