"""GRU with the reset gate before the hidden projection: finite differences and the ONNX reference."""
from __future__ import annotations

import numpy as np
import pytest

from bigdl_runtime.kernels.gru_reset_before import gru_reset_before_backward, gru_reset_before_forward
from tests.helpers.gradcheck import check_kernel
from tests.helpers.onnx_ref import run_node


def _arrays(rng: np.random.Generator, bias: bool, state: bool, n: int = 2, t: int = 4, i: int = 3, h: int = 5):
    return [rng.standard_normal((n, t, i)), rng.standard_normal((3 * h, i)) * 0.5,
            rng.standard_normal((3 * h, h)) * 0.5,
            rng.standard_normal(3 * h) if bias else None, rng.standard_normal(3 * h) if bias else None,
            rng.standard_normal((n, h)) if state else None]


@pytest.mark.parametrize("bias, state, reverse", [(True, True, False), (False, False, True), (True, False, True)])
def test_gru_reset_before_gradients(rng: np.random.Generator, bias: bool, state: bool, reverse: bool) -> None:
    check_kernel(gru_reset_before_forward, gru_reset_before_backward, _arrays(rng, bias, state),
                 config={"reverse": reverse})


@pytest.mark.parametrize("reverse", [False, True])
def test_gru_reset_before_matches_onnx_gru_default(rng: np.random.Generator, reverse: bool) -> None:
    x, w_ih, w_hh, b_ih, b_hh, h0 = (a.astype(np.float32) for a in _arrays(rng, True, True))
    (y, h_last), _ = gru_reset_before_forward(x, w_ih, w_hh, b_ih, b_hh, h0, reverse=reverse)
    hidden = w_hh.shape[1]

    def onnx_order(a: np.ndarray) -> np.ndarray:  # our r, z, n -> ONNX z, r, h
        return np.concatenate([a[hidden:2 * hidden], a[:hidden], a[2 * hidden:]])[None]

    b = np.concatenate([onnx_order(b_ih), onnx_order(b_hh)], axis=1)
    ref_y, ref_h = run_node("GRU", [x.transpose(1, 0, 2).copy(), onnx_order(w_ih), onnx_order(w_hh), b, None, h0[None]],
                            n_outputs=2, hidden_size=hidden, direction="reverse" if reverse else "forward")
    np.testing.assert_allclose(y, ref_y[:, 0].transpose(1, 0, 2), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(h_last, ref_h[0], rtol=1e-5, atol=1e-6)
