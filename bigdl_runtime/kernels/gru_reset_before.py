"""GRU with the reset gate applied before the hidden projection (ONNX ``linear_before_reset=0``).

``r = σ(W_ir x + b_ir + W_hr h + b_hr)``, ``z = σ(W_iz x + b_iz + W_hz h + b_hz)``,
``n = tanh(W_in x + b_in + W_hn (r * h) + b_hn)``, ``h' = (1 - z) * n + z * h``:
the formulation of the original GRU paper, ONNX's default and Keras' ``reset_after=False``.
PyTorch's variant (``r * (W_hn h + b_hn)``) is :func:`bigdl_runtime.kernels.rnn.gru_forward`.

Layout, gate order (``r, z, n``), arguments and outputs are those of ``gru_forward``.
"""
from __future__ import annotations

import numpy as np

from .gemm import matmul
from .rnn import _grad_or_zeros, _initial, _previous, _project, _sigmoid, _steps


def gru_reset_before_forward(x: np.ndarray, w_ih: np.ndarray, w_hh: np.ndarray, b_ih: np.ndarray | None,
                             b_hh: np.ndarray | None, h0: np.ndarray | None = None,
                             reverse: bool = False) -> tuple[tuple[np.ndarray, np.ndarray], tuple]:
    """One GRU layer, one direction, reset before the hidden projection.

    Args:
        x: (N, T, I) input sequence.
        w_ih, w_hh: (3H, I) and (3H, H) weights, gates ``r, z, n``.
        b_ih, b_hh: (3H,) biases or ``None``.
        h0: (N, H) initial state or ``None`` (zeros).
        reverse: run the recurrence from the last time step to the first.

    Returns:
        ``((y (N, T, H), h_T (N, H)), cache)``.
    """
    n, length, _ = x.shape
    hidden = w_hh.shape[1]
    h = h_first = _initial(h0, n, hidden, x.dtype)
    xp = _project(x, w_ih, b_ih)
    if b_hh is not None:
        xp += b_hh  # every hidden bias adds straight to its gate's pre-activation here
    w_rz, w_n = w_hh[:2 * hidden], w_hh[2 * hidden:]
    acts = np.empty_like(xp)  # r, z, n per step
    y = np.empty((n, length, hidden), dtype=x.dtype)
    for t in _steps(length, reverse):
        rz = _sigmoid(xp[:, t, :2 * hidden] + matmul(h, w_rz.T))
        cand = np.tanh(xp[:, t, 2 * hidden:] + matmul(rz[:, :hidden] * h, w_n.T))
        h = cand + rz[:, hidden:] * (h - cand)
        acts[:, t, :2 * hidden], acts[:, t, 2 * hidden:] = rz, cand
        y[:, t] = h
    cache = (x, w_ih, w_hh, acts, y, h_first, reverse, b_ih is not None, b_hh is not None, h0 is not None)
    return (y, h), cache


def gru_reset_before_backward(grads: tuple, cache: tuple) -> tuple:
    """BPTT of :func:`gru_reset_before_forward`; ``grads = (dy, dh_T)``.

    Returns ``(dx, dw_ih, dw_hh, db_ih, db_hh, dh0)`` (``None`` for absent arguments).
    """
    x, w_ih, w_hh, acts, y, h_first, reverse, has_b_ih, has_b_hh, has_h0 = cache
    n, length, hidden = y.shape
    dy, dh = grads
    dh = _grad_or_zeros(dh, (n, hidden), y.dtype)
    w_rz, w_n = w_hh[:2 * hidden], w_hh[2 * hidden:]
    r, z, cand = (acts[..., k * hidden:(k + 1) * hidden] for k in range(3))
    hprev = _previous(y, h_first, reverse)
    dpre = np.empty_like(acts)  # gradients of the r, z, n pre-activations per step
    for t in _steps(length, not reverse):
        dh_t = dh if dy is None else dh + dy[:, t]
        dn = dh_t * (1 - z[:, t]) * (1 - cand[:, t] * cand[:, t])
        drh = matmul(dn, w_n)  # gradient of r * h
        dpre[:, t, :hidden] = drh * hprev[:, t] * r[:, t] * (1 - r[:, t])
        dpre[:, t, hidden:2 * hidden] = dh_t * (hprev[:, t] - cand[:, t]) * z[:, t] * (1 - z[:, t])
        dpre[:, t, 2 * hidden:] = dn
        dh = dh_t * z[:, t] + drh * r[:, t] + matmul(dpre[:, t, :2 * hidden], w_rz)
    flat = dpre.reshape(n * length, 3 * hidden)
    dx = matmul(flat, w_ih).reshape(x.shape)
    dw_ih = matmul(flat.T, x.reshape(n * length, -1))
    dw_hh = np.concatenate([matmul(flat[:, :2 * hidden].T, hprev.reshape(n * length, hidden)),
                            matmul(flat[:, 2 * hidden:].T, (r * hprev).reshape(n * length, hidden))])
    summed = flat.sum(axis=0)
    return (dx, dw_ih, dw_hh, summed if has_b_ih else None, summed.copy() if has_b_hh else None,
            dh if has_h0 else None)
