"""Reduction layers: forwards vs numpy, gradients by finite differences, ArgMax/TopK in a Graph."""
from __future__ import annotations

import numpy as np
import pytest

from bigdl_runtime.nn import Graph, Input, layers as L
from tests.helpers.gradcheck import check_module

REDUCTIONS = [(L.ReduceSum, np.sum), (L.ReduceMean, np.mean), (L.ReduceMax, np.amax), (L.ReduceMin, np.amin),
              (L.ReduceProd, np.prod)]


@pytest.mark.parametrize("dim, keepdim", [(None, False), (1, True), ([0, -1], False), ([], True)])
@pytest.mark.parametrize("cls, reference", REDUCTIONS)
def test_reductions(cls, reference, dim, keepdim):
    x = 0.5 + np.abs(np.random.default_rng(0).standard_normal((2, 3, 4)))
    m = cls(dim=dim, keepdim=keepdim)
    axis = tuple(dim) if isinstance(dim, list) else dim
    np.testing.assert_allclose(m(x), reference(x, axis=axis, keepdims=keepdim))
    check_module(m, [x])
    assert cls(**m.get_config()).get_config() == m.get_config()


def test_reduction_errors_name_the_layer():
    with pytest.raises(ValueError, match=r"ReduceMean\('gap'\): reduce_mean: axis 4 is out of range"):
        L.ReduceMean(dim=4, name="gap")(np.ones((2, 3)))
    with pytest.raises(RuntimeError, match="backward called before forward"):
        L.ReduceSum().backward(np.ones(2))


@pytest.mark.parametrize("cls, fn", [(L.ArgMax, np.argmax), (L.ArgMin, np.argmin)])
def test_arg_layers(cls, fn):
    x = np.random.default_rng(1).standard_normal((3, 5))
    m = cls(dim=1, keepdim=True)
    np.testing.assert_array_equal(m(x), fn(x, axis=1)[:, None])
    assert m(x).dtype == np.int64 and m.backward(np.zeros((3, 1))) is None
    ties = np.array([[2.0, 2.0, 1.0]]) * (1 if cls is L.ArgMax else -1)
    assert cls(select_last_index=True)(ties).tolist() == [1]
    assert cls()(ties).tolist() == [0]


def test_topk_layer_gradient_and_graph_use():
    x = np.random.default_rng(2).standard_normal((2, 6))
    m = L.TopK(3, dim=1)
    values, indices = m(x)
    np.testing.assert_array_equal(values, -np.sort(-x, axis=1)[:, :3])
    check_module(m, [x])
    inp = Input()
    parts = L.TopK(2, dim=1, largest=False)(inp)
    g = Graph(inp, L.Exp()(parts[0]))  # the indices output is unused: it gets no gradient
    y = g(x)
    dx = g.backward(np.ones_like(y))
    smallest = np.argsort(x, axis=1)[:, :2]
    expected = np.zeros_like(x)
    np.put_along_axis(expected, smallest, np.exp(np.take_along_axis(x, smallest, 1)), 1)
    np.testing.assert_allclose(dx, expected)
    with pytest.raises(ValueError, match=r"TopK: k=7 is out of range|topk: k=7"):
        L.TopK(7)(x)


def test_topk_of_a_k_given_per_call_matches_topk_and_its_gradient() -> None:
    from bigdl_runtime.nn.layers.reduce import TopK, TopKOf

    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 6))
    layer = TopKOf(dim=1, largest=False)
    for got, want in zip(layer(x, np.array([4])), TopK(4, dim=1, largest=False)(x)):
        np.testing.assert_array_equal(got, want)
    dx, dk = layer.backward((np.ones((3, 4)), None))
    assert dk is None and dx.sum() == 12
    check_module(_KFixed(TopKOf(dim=1), np.array(2)), [x])
    with pytest.raises(ValueError, match="k must be one non-negative integer"):
        layer(x, np.array([1.5]))


class _KFixed(L.TopKOf):
    """TopKOf with its k input fixed (for the gradient check)."""

    def __init__(self, layer, k: np.ndarray) -> None:
        super().__init__(layer.dim, layer.largest, layer.sorted)
        self.fixed = k

    def forward(self, x):
        return super().forward(x, self.fixed)

    def backward(self, grad_output):
        return super().backward(grad_output)[0]


@pytest.mark.parametrize("cls", [L.ReduceMax, L.ReduceMin])
def test_extremes_in_evaluation_mode_propagate_nan_and_fail_like_the_forward(cls):
    x = np.array([[1.0, np.nan, 3.0], [4.0, 5.0, -6.0]], np.float32)
    layer = cls(dim=1, keepdim=True, name="r").evaluate()
    np.testing.assert_array_equal(layer(x), layer.forward_pass(x)[0])  # nan in the first row, as the forward
    with pytest.raises(ValueError, match=rf"{cls.__name__}\('r'\): reduce_m..: axis 1 is out of range"):
        layer(np.zeros(3, np.float32))
