"""LSTM / GRU / RNN kernels: BPTT vs finite differences, forward vs ONNX's reference ops."""
from __future__ import annotations

import numpy as np
import pytest

from bigdl_runtime.kernels import rnn
from tests.helpers.gradcheck import check_kernel
from tests.helpers.onnx_ref import run_node

GATES = {"lstm": 4, "gru": 3, "rnn": 1}
# ONNX gate order as indices into PyTorch's: LSTM i,f,g,o -> i,o,f,c; GRU r,z,n -> z,r,h
ONNX_ORDER = {"lstm": [0, 3, 1, 2], "gru": [1, 0, 2], "rnn": [0]}


def make_arrays(cell: str, n: int, t: int, i: int, h: int, with_state: bool, bias: bool,
                dtype: type = np.float64, seed: int = 0) -> list[np.ndarray | None]:
    rng = np.random.default_rng(seed)
    g = GATES[cell] * h

    def draw(*shape: int) -> np.ndarray:
        return rng.uniform(-0.8, 0.8, size=shape).astype(dtype)

    arrays = [draw(n, t, i), draw(g, i), draw(g, h), draw(g) if bias else None, draw(g) if bias else None]
    n_states = 2 if cell == "lstm" else 1
    arrays += [draw(n, h) if with_state else None for _ in range(n_states)]
    return arrays


def kernel_pair(cell: str):
    return getattr(rnn, f"{cell}_forward"), getattr(rnn, f"{cell}_backward")


CASES = [  # (N, T, I, H, initial state, reverse, bias)
    (2, 4, 3, 3, False, False, True),
    (2, 4, 3, 3, True, False, True),
    (3, 4, 2, 5, True, True, True),
    (1, 1, 3, 2, False, True, True),
    (2, 1, 1, 3, True, False, True),
    (3, 3, 4, 1, False, True, False),
    (2, 4, 3, 2, True, True, False),
]


@pytest.mark.parametrize("cell,config", [("lstm", {}), ("gru", {}), ("rnn", {"nonlinearity": "tanh"}),
                                         ("rnn", {"nonlinearity": "relu"})])
@pytest.mark.parametrize("n,t,i,h,with_state,reverse,bias", CASES)
def test_bptt_matches_finite_differences(cell, config, n, t, i, h, with_state, reverse, bias):
    forward, backward = kernel_pair(cell)
    arrays = make_arrays(cell, n, t, i, h, with_state, bias)
    check_kernel(forward, backward, arrays, config={"reverse": reverse, **config})


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_gradient_of_final_state_only(cell):
    """dy = None (only h_T / c_T used, as a layer with return_sequences=False does)."""
    forward, backward = kernel_pair(cell)
    arrays = make_arrays(cell, 2, 3, 3, 2, with_state=True, bias=True)
    (y, *states), cache = forward(*arrays)
    rng = np.random.default_rng(5)
    weights = [rng.standard_normal(s.shape) for s in states]
    grads = backward((None, *weights), cache)
    full = backward((np.zeros_like(y), *weights), forward(*arrays)[1])
    for got, want in zip(grads, full):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
    assert np.abs(grads[0]).sum() > 0


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_float32_stays_float32(cell):
    forward, backward = kernel_pair(cell)
    arrays = make_arrays(cell, 2, 3, 4, 3, with_state=True, bias=True, dtype=np.float32)
    outs, cache = forward(*arrays)
    assert all(o.dtype == np.float32 for o in outs)
    grads = backward(tuple(np.ones_like(o) for o in outs), cache)
    assert [g.dtype for g in grads] == [np.float32] * len(grads)
    assert [g.shape for g in grads] == [a.shape for a in arrays]


def test_no_state_no_bias_gives_none_grads():
    arrays = make_arrays("lstm", 2, 3, 2, 2, with_state=False, bias=False)
    outs, cache = rnn.lstm_forward(*arrays)
    grads = rnn.lstm_backward(tuple(np.ones_like(o) for o in outs), cache)
    assert [g is None for g in grads] == [False, False, False, True, True, True, True]


def test_reverse_is_forward_on_flipped_time():
    arrays = make_arrays("gru", 2, 5, 3, 4, with_state=True, bias=True)
    (y_rev, h_rev), _ = rnn.gru_forward(*arrays, reverse=True)
    flipped = [arrays[0][:, ::-1].copy(), *arrays[1:]]
    (y_fwd, h_fwd), _ = rnn.gru_forward(*flipped)
    np.testing.assert_allclose(y_rev, y_fwd[:, ::-1], rtol=1e-12)
    np.testing.assert_allclose(h_rev, y_rev[:, 0], rtol=1e-12)


def test_unknown_nonlinearity_is_rejected():
    with pytest.raises(ValueError, match="nonlinearity"):
        rnn.rnn_forward(*make_arrays("rnn", 1, 2, 2, 2, False, True), nonlinearity="sigmoid")


def to_onnx_weights(cell: str, w_ih, w_hh, b_ih, b_hh):
    """PyTorch-layout weights -> ONNX W (1, G*H, I), R (1, G*H, H), B (1, 2*G*H)."""
    h = w_hh.shape[1]

    def reorder(a: np.ndarray) -> np.ndarray:
        return np.concatenate([a[k * h:(k + 1) * h] for k in ONNX_ORDER[cell]])[None]

    return reorder(w_ih), reorder(w_hh), np.concatenate([reorder(b_ih), reorder(b_hh)], axis=1)


ONNX_CASES = [  # (cell, reverse, initial state, attributes)
    ("lstm", False, True, {}),
    ("lstm", True, False, {}),
    ("gru", False, False, {"linear_before_reset": 1}),
    ("gru", True, True, {"linear_before_reset": 1}),
    ("rnn", False, True, {}),
    ("rnn", True, False, {}),  # the reference evaluator has no Relu activation; torch covers relu
]


@pytest.mark.parametrize("cell,reverse,with_state,attrs", ONNX_CASES)
def test_forward_matches_onnx_reference(cell, reverse, with_state, attrs):
    arrays = make_arrays(cell, 3, 5, 4, 6, with_state, bias=True, dtype=np.float32, seed=3)
    x, w_ih, w_hh, b_ih, b_hh, *states = arrays
    outs, _ = kernel_pair(cell)[0](*arrays, reverse=reverse)

    w, r, b = to_onnx_weights(cell, w_ih, w_hh, b_ih, b_hh)
    onnx_states = [None if s is None else s[None] for s in states]  # (1, N, H)
    inputs = [x.transpose(1, 0, 2).copy(), w, r, b, None, *onnx_states]
    ref = run_node(cell.upper(), inputs, n_outputs=len(outs), hidden_size=w_hh.shape[1],
                   direction="reverse" if reverse else "forward", **attrs)
    np.testing.assert_allclose(outs[0], ref[0][:, 0].transpose(1, 0, 2), rtol=1e-5, atol=1e-6)
    for ours, theirs in zip(outs[1:], ref[1:]):
        np.testing.assert_allclose(ours, theirs[0], rtol=1e-5, atol=1e-6)
