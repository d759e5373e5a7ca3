"""IfElse, Loop and Scan: forwards, gradients by finite differences (float64), saving and loading, errors."""
from __future__ import annotations

import numpy as np
import pytest

import bigdl_runtime
from bigdl_runtime import nn
from bigdl_runtime.nn import Graph, Input
from bigdl_runtime.nn.layers.control_flow import IfElse, Loop, Scan
from bigdl_runtime.nn.layers.graph_values import TensorSource
from tests.helpers.gradcheck import check_module


class _Fixed(nn.Module):
    """A control-flow layer with its leading non-differentiable inputs (condition, trip count) fixed."""

    def __init__(self, layer: nn.Module, *leading: np.ndarray) -> None:
        super().__init__()
        self.layer = layer
        self.leading = leading

    def forward(self, *xs):
        return self.layer.forward(*self.leading, *xs)

    def backward(self, grad_output):
        grads = self.layer.backward(grad_output)
        assert all(g is None for g in grads[:len(self.leading)])
        rest = grads[len(self.leading):]
        return rest[0] if len(rest) == 1 else rest


def _constant(value: float, anchor) -> nn.Node:
    return TensorSource.of(np.array(value))(anchor)


def _branches() -> IfElse:
    """then: tanh(Linear(x)) * y; else: x - y."""
    c, x, y = Input("c"), Input("x"), Input("y")
    then = Graph([c, x, y], nn.Mul()(nn.Tanh()(nn.Linear(3, 3, name="lin")(x)), y))
    c2, x2, y2 = Input("c"), Input("x"), Input("y")
    return IfElse(then, Graph([c2, x2, y2], nn.Sub()(x2, y2)))


@pytest.mark.parametrize("cond", [True, False])
def test_if_else_runs_one_branch_and_passes_its_gradient(cond: bool, rng: np.random.Generator) -> None:
    layer = _branches()
    x, y = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    lin = layer.then_branch.node("lin").module
    want = np.tanh(x @ lin.weight.data.T + lin.bias.data) * y if cond else x - y
    np.testing.assert_allclose(layer(np.array(cond), x, y), want, rtol=1e-6)
    check_module(_Fixed(layer, np.array(cond)), [x, y])


def _loop_body() -> Graph:
    """carried h <- tanh(Linear(h) + x); scanned: h * i; the condition passes through."""
    i, c, h, x = Input("i"), Input("c"), Input("h"), Input("x")
    new_h = nn.Tanh()(nn.Add()(nn.Linear(3, 3, name="lin")(h), x))
    return Graph([i, c, h, x], [c, new_h, nn.Mul()(new_h, nn.Cast("float64")(i))])


def test_loop_matches_an_unrolled_loop_and_passes_gradients(rng: np.random.Generator) -> None:
    layer = Loop(_loop_body(), n_carried=1)
    h0, x = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    h_final, scanned = layer(np.array(3), np.array(True), h0, x)
    lin = layer.body.node("lin").module
    h, steps = h0, []
    for k in range(3):
        h = np.tanh(h @ lin.weight.data.T + lin.bias.data + x)
        steps.append(h * k)
    np.testing.assert_allclose(h_final, h, rtol=1e-6)
    np.testing.assert_allclose(scanned, np.stack(steps), rtol=1e-6)
    check_module(_Fixed(layer, np.array(3), np.array(True)), [h0, x])


def test_loop_stops_when_the_body_condition_turns_false() -> None:
    i, c, v = Input("i"), Input("c"), Input("v")
    doubled = nn.Add()(v, v)
    body = Graph([i, c, v], [nn.Less()(doubled, _constant(10.0, v)), doubled])
    assert Loop(body, 1)(np.array(100), np.array(True), np.array(1.0)).item() == 16.0
    assert Loop(body, 1)(np.array(100), np.array(False), np.array(1.0)).item() == 1.0
    assert Loop(body, 1)(np.array(2), np.array(True), np.array(1.0)).item() == 4.0


def test_scan_with_reversed_input_and_other_axes_passes_gradients(rng: np.random.Generator) -> None:
    s, x, w = Input("s"), Input("x"), Input("w")
    total = nn.Add()(s, nn.Mul()(x, w))
    layer = Scan(Graph([s, x, w], [total, nn.Tanh()(total)]), n_state=1, n_scan=1, input_axes=[1],
                 input_reverse=[1], output_axes=[1])
    s0, xs, w_ = rng.standard_normal(2), rng.standard_normal((2, 4)), rng.standard_normal(2)
    final, ys = layer(s0, xs, w_)
    acc, want = s0.copy(), []
    for t in range(3, -1, -1):
        acc = acc + xs[:, t] * w_
        want.append(np.tanh(acc))
    np.testing.assert_allclose(final, acc, rtol=1e-6)
    np.testing.assert_allclose(ys, np.stack(want, axis=1), rtol=1e-6)
    check_module(layer, [s0, xs, w_])


def test_control_flow_layers_save_and_load(tmp_path, rng: np.random.Generator) -> None:
    c, x, y, h = Input("c"), Input("x"), Input("y"), Input("h")
    trips = TensorSource.of(np.array(2))(c)
    looped = Loop(_loop_body(), 1)(trips, c, _branches()(c, x, y), h)
    model = Graph([c, x, y, h], looped[0])
    args = (np.array(True), *(rng.standard_normal((2, 3)).astype(np.float32) for _ in range(3)))
    want = model(*args)
    model.save(str(tmp_path / "m.bigdl"))
    np.testing.assert_array_equal(bigdl_runtime.load(str(tmp_path / "m.bigdl"))(*args), want)


def test_errors_name_the_layer() -> None:
    layer = _branches()
    with pytest.raises(ValueError, match="the condition must be a single value"):
        layer(np.ones(2), np.ones((2, 3)), np.ones((2, 3)))
    with pytest.raises(ValueError, match="the branches have 1 and 2 outputs"):
        c, x = Input("c"), Input("x")
        c2, x2 = Input("c"), Input("x")
        IfElse(Graph([c, x], x), Graph([c2, x2], [x2, nn.Neg()(x2)]))
    s, x = Input("s"), Input("x")
    scan = Scan(Graph([s, x, Input("y")], [nn.Add()(s, x)]), n_state=1, n_scan=2)
    with pytest.raises(ValueError, match="different lengths"):
        scan(np.zeros(1), np.zeros((3, 1)), np.zeros((4, 1)))
    with pytest.raises(RuntimeError, match="backward called before forward"):
        Loop(_loop_body(), 1).backward(np.ones((2, 3)))
