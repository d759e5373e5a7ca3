"""oneDNN bound plans (LstmPlan, Int8MatmulPlan, MatmulPlan) against the numpy references they replace."""
from __future__ import annotations

import numpy as np
import pytest

from bigdl_runtime.kernels import onednn
from bigdl_runtime.kernels import rnn as K
from bigdl_runtime.kernels.onednn_matmul import Int8MatmulPlan, MatmulPlan, Unsupported
from bigdl_runtime.kernels.onednn_rnn import LstmPlan

pytestmark = pytest.mark.skipif(not onednn.available(), reason="oneDNN (onednn-cpu-gomp) is not installed")


def _lstm_weights(rng: np.random.Generator, directions: int, inputs: int, hidden: int) -> tuple[list, ...]:
    def draw(*shape: int) -> list[np.ndarray]:
        return [(0.3 * rng.standard_normal(shape)).astype(np.float32) for _ in range(directions)]
    return draw(4 * hidden, inputs), draw(4 * hidden, hidden), draw(4 * hidden), draw(4 * hidden)


@pytest.mark.parametrize("steps, batch, inputs, hidden, direction, states", [
    (16, 1, 96, 32, "bidirectional", True),   # a wake-word classifier's layer
    (1, 1, 128, 128, "forward", True),        # a streaming VAD's one-frame step
    (5, 3, 7, 9, "reverse", False),
    (4, 2, 5, 6, "bidirectional", False),
])
def test_lstm_plan_matches_the_numpy_lstm(steps, batch, inputs, hidden, direction, states, rng) -> None:
    d = 2 if direction == "bidirectional" else 1
    w_ih, w_hh, b_ih, b_hh = _lstm_weights(rng, d, inputs, hidden)
    x = rng.standard_normal((steps, batch, inputs)).astype(np.float32)
    h0 = rng.standard_normal((d, batch, hidden)).astype(np.float32) if states else None
    c0 = rng.standard_normal((d, batch, hidden)).astype(np.float32) if states else None
    plan = LstmPlan(steps, batch, inputs, hidden, direction)
    plan.set_weights(w_ih, w_hh, b_ih, b_hh)
    y, h, c = plan.run(x, h0, c0)
    assert y.shape == (steps, batch, d * hidden) and h.shape == c.shape == (d, batch, hidden)
    reverse = {"forward": [False], "reverse": [True], "bidirectional": [False, True]}[direction]
    for k, rev in enumerate(reverse):
        (y_ref, h_ref, c_ref), _ = K.lstm_forward(x.transpose(1, 0, 2), w_ih[k], w_hh[k], b_ih[k], b_hh[k],
                                                  None if h0 is None else h0[k], None if c0 is None else c0[k],
                                                  reverse=rev)
        np.testing.assert_allclose(y[:, :, k * hidden:(k + 1) * hidden], y_ref.transpose(1, 0, 2), rtol=1e-5, atol=2e-6)
        np.testing.assert_allclose(h[k], h_ref, rtol=1e-5, atol=2e-6)
        np.testing.assert_allclose(c[k], c_ref, rtol=1e-5, atol=2e-6)


def test_lstm_plan_outputs_are_new_arrays_and_new_weights_are_taken(rng) -> None:
    w_ih, w_hh, b_ih, b_hh = _lstm_weights(rng, 1, 3, 4)
    x = rng.standard_normal((2, 1, 3)).astype(np.float32)
    plan = LstmPlan(2, 1, 3, 4, "forward")
    plan.set_weights(w_ih, w_hh, b_ih, [None])
    y1 = plan.run(x, None, None)[0]
    (ref, _, _), _ = K.lstm_forward(x.transpose(1, 0, 2), w_ih[0], w_hh[0], b_ih[0], None)
    np.testing.assert_allclose(y1[:, 0], ref[0], rtol=1e-5, atol=2e-6)
    plan.set_weights([2 * w_ih[0]], w_hh, b_ih, b_hh)
    y2 = plan.run(x, None, None)[0]
    (ref2, _, _), _ = K.lstm_forward(x.transpose(1, 0, 2), 2 * w_ih[0], w_hh[0], b_ih[0], b_hh[0])
    np.testing.assert_allclose(y2[:, 0], ref2[0], rtol=1e-5, atol=2e-6)
    np.testing.assert_allclose(y1[:, 0], ref[0], rtol=1e-5, atol=2e-6)  # the first result was not overwritten


@pytest.mark.parametrize("rows, k, n, zero", [(1, 512, 2048, 131), (3, 7, 5, 0), (20, 600, 64, 255)])
def test_int8_matmul_plan_is_the_exact_integer_product(rows, k, n, zero, rng) -> None:
    w = rng.integers(-128, 128, (k, n)).astype(np.int8)
    plan = Int8MatmulPlan(rows, w)
    for _ in range(2):  # the bound buffers are reused call after call
        q = rng.integers(0, 256, (rows, k)).astype(np.uint8)
        want = (q.astype(np.int64) - zero) @ w.astype(np.int64)
        got = plan.run(q, zero)
        assert got.dtype == np.int32
        np.testing.assert_array_equal(got, want)


def test_int8_matmul_plan_refuses_other_weights() -> None:
    with pytest.raises(Unsupported, match="int8"):
        Int8MatmulPlan(1, np.zeros((3, 4), np.uint8))


def test_matmul_plan_reads_the_weight_where_it_lies(rng) -> None:
    """a @ w.T with the weight's memory pointing at the caller's array: in-place changes and new arrays are seen."""
    a = rng.standard_normal((3, 40)).astype(np.float32)
    w = rng.standard_normal((17, 40)).astype(np.float32)
    plan = MatmulPlan(3, 40, 17)

    def rows(buffer: np.ndarray) -> None:
        buffer[...] = a
    np.testing.assert_allclose(plan.run(rows, w), a @ w.T, rtol=1e-5, atol=1e-5)
    w *= -2  # in place
    np.testing.assert_allclose(plan.run(rows, w), a @ w.T, rtol=1e-5, atol=1e-5)
    other = rng.standard_normal((17, 40)).astype(np.float32)
    np.testing.assert_allclose(plan.run(rows, other, lambda y: y.T.copy()), (a @ other.T).T, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="C-ordered float32"):
        plan.run(rows, w.T)
