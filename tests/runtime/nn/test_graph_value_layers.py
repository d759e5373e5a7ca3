"""TensorSource, ShapeOf, ReshapeTo, RecurrentSequence: forward against references, backward by finite differences."""
from __future__ import annotations

import numpy as np
import pytest

from bigdl_runtime.nn import Graph, Input, Mul
from bigdl_runtime.nn.layers.graph_values import ReshapeTo, ShapeOf, TensorSource
from bigdl_runtime.nn.layers.rnn_sequence import RecurrentSequence
from tests.helpers.gradcheck import check_module
from tests.helpers.onnx_ref import run_node


def test_tensor_source_is_a_trainable_graph_constant(rng: np.random.Generator) -> None:
    x = Input("x")
    scale = TensorSource.of(rng.standard_normal(3).astype(np.float32), name="scale")
    g = Graph(x, Mul()(x, scale(x)))
    data = rng.standard_normal((4, 3)).astype(np.float32)
    np.testing.assert_allclose(g(data), data * scale.value.data, rtol=1e-6)
    dy = rng.standard_normal((4, 3)).astype(np.float32)
    g.zero_grad()
    dx = g.backward(dy)
    np.testing.assert_allclose(scale.value.grad, (dy * data).sum(axis=0), rtol=1e-5)
    np.testing.assert_allclose(dx, dy * scale.value.data, rtol=1e-6)
    assert [k for k, p in g.named_parameters() if p.trainable] == ["scale.value"]


def test_tensor_source_keeps_integers_as_buffers() -> None:
    src = TensorSource.of(np.array([2, 3], dtype=np.int64), name="shape")
    assert src.parameters() == [] and src(np.zeros(1)).dtype == np.int64
    assert not TensorSource.of(np.ones(2, np.float32), trainable=False).value.trainable


def test_shape_of_matches_onnx_shape_with_start_end(rng: np.random.Generator) -> None:
    x = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    for start, end in ((0, None), (1, 3), (-2, None)):
        attrs = {"start": start} if end is None else {"start": start, "end": end}
        np.testing.assert_array_equal(ShapeOf(start, end)(x), run_node("Shape", [x], **attrs)[0])


@pytest.mark.parametrize("target, allowzero", [([0, -1], False), ([4, 0, 3], False), ([3, 0, 8], True), ([-1], False)])
def test_reshape_to_follows_onnx_reshape(rng: np.random.Generator, target: list[int], allowzero: bool) -> None:
    x = rng.standard_normal((3, 2, 4)).astype(np.float32) if not allowzero else np.zeros((3, 0, 8), np.float32)
    want = run_node("Reshape", [x, np.array(target, np.int64)], opset=14, allowzero=int(allowzero))[0]
    np.testing.assert_array_equal(ReshapeTo(target, allowzero)(x), want)
    np.testing.assert_array_equal(ReshapeTo(allowzero=allowzero)(x, np.array(target)), want)


def test_reshape_to_gradients_and_errors(rng: np.random.Generator) -> None:
    check_module(ReshapeTo([0, -1]), [rng.standard_normal((2, 3, 4))])
    with pytest.raises(ValueError, match="cannot reshape"):
        ReshapeTo([5, -1])(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="exactly one"):
        ReshapeTo()(np.zeros((2, 3)))


@pytest.mark.parametrize("cell, direction", [("lstm", "bidirectional"), ("gru", "reverse"), ("rnn_tanh", "forward"),
                                             ("gru_reset_before", "bidirectional"),
                                             ("rnn_relu", "bidirectional")])
def test_recurrent_sequence_gradients(rng: np.random.Generator, cell: str, direction: str) -> None:
    layer = RecurrentSequence(cell, 3, 4, direction=direction)
    d = 2 if direction == "bidirectional" else 1
    states = [rng.standard_normal((d, 2, 4)) for _ in range(2 if cell == "lstm" else 1)]
    check_module(layer, [rng.standard_normal((5, 2, 3)), *states])


def test_recurrent_sequence_matches_onnx_lstm(rng: np.random.Generator) -> None:
    layer = RecurrentSequence("lstm", 3, 4, direction="bidirectional", batch_first=True)
    w = rng.standard_normal((2, 16, 3)).astype(np.float32)
    r = rng.standard_normal((2, 16, 4)).astype(np.float32)
    b = rng.standard_normal((2, 32)).astype(np.float32)
    order = [0, 2, 3, 1]  # ONNX i, o, f, c -> our i, f, g, o
    for d, suffix in enumerate(("", "_reverse")):
        blocks = lambda m: np.concatenate([m[k * 4:(k + 1) * 4] for k in order])  # noqa: E731
        getattr(layer, f"weight_ih_l0{suffix}").data[...] = blocks(w[d])
        getattr(layer, f"weight_hh_l0{suffix}").data[...] = blocks(r[d])
        getattr(layer, f"bias_ih_l0{suffix}").data[...] = blocks(b[d, :16])
        getattr(layer, f"bias_hh_l0{suffix}").data[...] = blocks(b[d, 16:])
    x = rng.standard_normal((2, 5, 3)).astype(np.float32)
    want = run_node("LSTM", [x, w, r, b], n_outputs=3, opset=14, hidden_size=4, direction="bidirectional", layout=1)
    for got, ref in zip(layer(x), want):
        np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-5)
