"""What inference plans compute once and reuse: shape chains per input signature, loop-invariant steps per
Loop call, and the fused layer normalisation. Each against the same graph run step by step (training mode's
forward_pass, which reuses nothing)."""
from __future__ import annotations

import numpy as np
import pytest

from bigdl_runtime import nn
from bigdl_runtime.nn import Graph, Input
from bigdl_runtime.nn.layers.control_flow import Loop
from bigdl_runtime.nn.layers.graph_values import ReshapeTo, ShapeOf, TensorSource
from bigdl_runtime.nn.layers.index import Gather
from bigdl_runtime.nn.layers.math import Pow, Sqrt
from bigdl_runtime.nn.layers.matmul import MatMul
from bigdl_runtime.nn.layers.reduce import ReduceMean
from bigdl_runtime.nn.layers.runtime_values import Cast
from bigdl_runtime.nn.layers.shape import Concat


class Counting(nn.Module):
    """The identity, counting its inference calls."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def forward_pass(self, x):
        return x, None

    def infer(self, x):
        self.calls += 1
        return x


def _flatten_by_shape() -> tuple[Graph, Counting, TensorSource]:
    """y = reshape(x, concat(shape(x)[0:1], [-1])) * 2: a run-time shape chain ending in a stored int tensor."""
    x = Input("x")
    counter = Counting()
    batch = counter(Gather(dim=0)(ShapeOf()(x), TensorSource.of(np.array([0]))(x)))
    rest = TensorSource.of(np.array([-1]))
    target = Concat(dim=0)(batch, rest(x))
    return Graph(x, nn.Mul()(ReshapeTo()(x, target), TensorSource.of(np.float32(2))(x))).evaluate(), counter, rest


def test_shape_chains_run_once_per_input_signature() -> None:
    graph, counter, _ = _flatten_by_shape()
    for shape in [(2, 3, 4), (2, 3, 4), (5, 2), (2, 3, 4), (5, 2)]:
        x = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
        np.testing.assert_array_equal(graph(x), 2 * x.reshape(shape[0], -1))
    assert counter.calls == 2  # once per signature
    graph(np.zeros((2, 3, 4), np.float64))  # another dtype: another signature
    assert counter.calls == 3


@pytest.mark.parametrize("shape_kept, shapes", [
    (lambda x: Pow(2.0)(x), None), (lambda x: Pow()(x, x), None), (lambda x: nn.Where()(nn.Greater()(x, x), x, x), None),
    (lambda x: nn.Add()(x, TensorSource.of(np.float32(1.5))(x)), None),  # a stored parameter: a fixed shape
    (lambda x: nn.Split(1, dim=1)(x)[0], None),
    (lambda x: MatMul()(x, nn.Transpose([1, 0])(x)), [(2, 3), (2, 3), (5, 2), (2, 3)])])
def test_shapes_are_followed_through_more_layers(shape_kept, shapes) -> None:
    """shape(f(x)) of a layer whose output shape its inputs' shapes set (elementwise ones, a split, a product)
    is kept per input signature, not recomputed."""
    x = Input("x")
    counter = Counting()
    batch = counter(Gather(dim=0)(ShapeOf()(shape_kept(x)), TensorSource.of(np.array([0]))(x)))
    target = Concat(dim=0)(batch, TensorSource.of(np.array([-1]))(x))
    graph = Graph(x, ReshapeTo()(x, target)).evaluate()
    for shape in shapes or [(2, 3, 4), (2, 3, 4), (5, 2), (2, 3, 4)]:
        v = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
        np.testing.assert_array_equal(graph(v), v.reshape(shape[0], -1))
    assert counter.calls == 2  # once per signature


def test_kept_shape_values_are_read_only_and_dropped_after_load_state_dict() -> None:
    """y = x * cast(stored int): the cast value is kept, and load_state_dict (new stored values) drops it."""
    x = Input("x")
    stored = TensorSource.of(np.array([3], np.int64))
    graph = Graph(x, nn.Mul()(x, Cast("float32")(stored(x)))).evaluate()
    v = np.ones((2, 2), np.float32)
    graph(v)
    np.testing.assert_array_equal(graph(v), 3 * v)
    kept = next(iter(graph._plan._shape_cache.values()))
    assert kept and all(not k.flags.writeable for k in kept)
    graph.load_state_dict({k: np.array([5]) for k in graph.state_dict()})
    np.testing.assert_array_equal(graph(v), 5 * v)


def test_shape_of_a_value_set_by_input_values_is_not_kept() -> None:
    """ShapeOf of a tensor whose shape depends on an input's values (a reshape to a given shape) is recomputed."""
    x, dims = Input("x"), Input("dims")
    shaped = ReshapeTo()(x, dims)
    graph = Graph([x, dims], ShapeOf()(shaped)).evaluate()
    values = np.arange(6.0, dtype=np.float32)
    assert graph(values, np.array([2, 3])).tolist() == [2, 3]
    assert graph(values, np.array([3, 2])).tolist() == [3, 2]


def _loop(step: float) -> tuple[Loop, Counting]:
    """carried (m, acc): m' = m + step (unchanged for step 0), acc' = acc + (m @ w) + i; the product goes through
    a counting layer."""
    i, c, m, acc = Input("i"), Input("c"), Input("m"), Input("acc")
    counter = Counting()
    w = TensorSource.of(np.array([[1.0, 2.0], [3.0, 4.0]], np.float32))(i)
    product = counter(MatMul()(m, w))
    m_next = nn.Add()(m, TensorSource.of(np.float32(step))(i))
    acc_next = nn.Add()(nn.Add()(acc, product), Cast("float32")(i))
    return Loop(Graph([i, c, m, acc], [c, m_next, acc_next]), 2).evaluate(), counter


@pytest.mark.parametrize("step", [0.0, 1.0])
def test_loop_invariant_steps_run_once_per_call(step: float) -> None:
    loop, counter = _loop(step)
    m0 = np.array([[1.0, -1.0]], np.float32)
    acc0 = np.zeros((1, 2), np.float32)
    got = loop(np.array(5), np.array(True), m0, acc0)
    want = loop.forward_pass(np.array(5), np.array(True), m0, acc0)[0]
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-6)
    assert counter.calls == (1 if step == 0.0 else 5)  # forward_pass ran the counter's forward_pass
    loop(np.array(3), np.array(True), m0 + 1, acc0)  # a new call: its first iteration computes the product again
    assert counter.calls == (2 if step == 0.0 else 8)


def _spelled_out_layer_norm(features: int, rng: np.random.Generator) -> Graph:
    x = Input("x")
    mean = ReduceMean(dim=-1, keepdim=True)(x)
    d = nn.Sub()(x, mean)
    var = ReduceMean(dim=-1, keepdim=True)(Pow(2.0)(d))
    std = Sqrt()(nn.Add()(var, TensorSource.of(np.float32(1e-5))(x)))
    gamma = TensorSource.of(rng.standard_normal(features).astype(np.float32))(x)
    beta = TensorSource.of(rng.standard_normal(features).astype(np.float32))(x)
    return Graph(x, nn.Add()(nn.Mul()(nn.Div()(d, std), gamma), beta)).evaluate()


def test_spelled_out_layer_norm_is_one_step_with_the_same_values(rng) -> None:
    graph = _spelled_out_layer_norm(8, rng)
    assert len(graph._plan.infer_steps) == 1
    x = rng.standard_normal((3, 8)).astype(np.float32) * 4 + 1
    np.testing.assert_allclose(graph(x), graph.forward_pass(x)[0], rtol=1e-6, atol=1e-6)
    graph.load_state_dict({k: v * 2 for k, v in graph.state_dict().items()})  # stored tensors are read per call
    np.testing.assert_allclose(graph(x), graph.forward_pass(x)[0], rtol=1e-6, atol=1e-6)


def test_layer_norm_with_a_shared_intermediate_is_not_fused(rng) -> None:
    x = Input("x")
    mean = ReduceMean(dim=-1, keepdim=True)(x)
    d = nn.Sub()(x, mean)
    std = Sqrt()(nn.Add()(ReduceMean(dim=-1, keepdim=True)(Pow(2.0)(d)), TensorSource.of(np.float32(1e-5))(x)))
    y = nn.Add()(nn.Mul()(nn.Div()(d, std), TensorSource.of(np.float32(2))(x)), TensorSource.of(np.float32(1))(x))
    graph = Graph(x, [y, std]).evaluate()  # std is also an output
    assert len(graph._plan.infer_steps) > 1
    v = rng.standard_normal((2, 5)).astype(np.float32)
    for g, w in zip(graph(v), graph.forward_pass(v)[0]):
        np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-6)


def test_values_through_a_layer_with_parameters_are_not_kept() -> None:
    """A Linear applied to a shape-derived value has a trainable weight: its output is recomputed each call (an
    in-place weight change, as a finite-difference check makes, is seen)."""
    x = Input("x")
    size = Cast("float32")(ShapeOf()(x))
    linear = nn.Linear(2, 1)
    graph = Graph(x, linear(ReshapeTo([1, 2])(size))).evaluate()
    v = np.zeros((3, 4), np.float32)
    first = graph(v)
    linear.weight.data += 1
    np.testing.assert_allclose(graph(v), first + 7, rtol=1e-6)
