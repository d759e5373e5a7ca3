"""Recurrent kernels: LSTM, GRU and the simple (Elman) RNN, one layer and one direction.

Layout and weights follow PyTorch: ``x`` is batch first ``(N, T, I)``,
``w_ih`` is ``(G*H, I)``, ``w_hh`` is ``(G*H, H)`` and the biases ``(G*H,)``
with the gates stacked in PyTorch's order (LSTM ``i, f, g, o``; GRU ``r, z, n``;
RNN one block). ``reverse=True`` runs the recurrence from ``t = T-1`` down to 0;
outputs stay at their time positions, so ``y[:, 0]`` is then the final state.

The input projection of every time step is one GEMM before the loop; the loop
over time does one ``(N, H) @ (H, G*H)`` GEMM per step (all through :func:`.gemm.matmul`). Backward (BPTT) stores
the per-step gradients of the pre-activations and turns them into ``dx`` and
the weight gradients with GEMMs over the whole sequence after the loop.

Forward returns a tuple of outputs ``(y, h_T[, c_T])``; backward takes the
matching tuple of output gradients, where any entry may be ``None`` (zero).
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from .gemm import matmul

_NONLINEARITIES = ("tanh", "relu")


def _sigmoid(a: np.ndarray) -> np.ndarray:
    # the tanh form is overflow-free and keeps the dtype
    return 0.5 * (1.0 + np.tanh(0.5 * a))


def _project(x: np.ndarray, w: np.ndarray, b: np.ndarray | None) -> np.ndarray:
    """``x @ w.T + b`` for all time steps at once: (N, T, K) -> (N, T, G)."""
    n, t, k = x.shape
    out = matmul(x.reshape(n * t, k), w.T).reshape(n, t, w.shape[0])
    if b is not None:
        out += b
    return out


def _steps(length: int, reverse: bool) -> range:
    return range(length - 1, -1, -1) if reverse else range(length)


def _initial(state: np.ndarray | None, n: int, hidden: int, dtype: np.dtype) -> np.ndarray:
    return np.zeros((n, hidden), dtype=dtype) if state is None else state


def _previous(seq: np.ndarray, first: np.ndarray, reverse: bool) -> np.ndarray:
    """The state entering each step: ``seq`` shifted one step against the time order, ``first`` at the start."""
    if reverse:
        return np.concatenate([seq[:, 1:], first[:, None]], axis=1)
    return np.concatenate([first[:, None], seq[:, :-1]], axis=1)


def _grad_or_zeros(grad: np.ndarray | None, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    return np.zeros(shape, dtype=dtype) if grad is None else np.array(grad, dtype=dtype)


def _param_grads(dxp: np.ndarray, dhp: np.ndarray, x: np.ndarray, hprev: np.ndarray,
                 w_ih: np.ndarray, has_b_ih: bool, has_b_hh: bool) -> tuple:
    """(dx, dw_ih, dw_hh, db_ih, db_hh) from the per-step grads of the input and hidden projections."""
    n, t, g = dxp.shape
    dxp2, dhp2 = dxp.reshape(n * t, g), dhp.reshape(n * t, g)
    dx = matmul(dxp2, w_ih).reshape(x.shape)
    dw_ih = matmul(dxp2.T, x.reshape(n * t, -1))
    dw_hh = matmul(dhp2.T, hprev.reshape(n * t, -1))
    db_ih = dxp2.sum(axis=0) if has_b_ih else None
    db_hh = dhp2.sum(axis=0) if has_b_hh else None
    return dx, dw_ih, dw_hh, db_ih, db_hh


# ----------------------------------------------------------------------------- LSTM
def lstm_forward(x: np.ndarray, w_ih: np.ndarray, w_hh: np.ndarray, b_ih: np.ndarray | None,
                 b_hh: np.ndarray | None, h0: np.ndarray | None = None, c0: np.ndarray | None = None,
                 reverse: bool = False) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], tuple]:
    """One LSTM layer, one direction.

    Args:
        x: (N, T, I) input sequence.
        w_ih, w_hh: (4H, I) and (4H, H) weights, gates ``i, f, g, o``.
        b_ih, b_hh: (4H,) biases or ``None``.
        h0, c0: (N, H) initial states or ``None`` (zeros).
        reverse: run the recurrence from the last time step to the first.

    Returns:
        ``((y (N, T, H), h_T (N, H), c_T (N, H)), cache)``.
    """
    n, _, _ = x.shape
    hidden = w_hh.shape[1]
    h_first = _initial(h0, n, hidden, x.dtype)
    c_first = _initial(c0, n, hidden, x.dtype)
    gates = _project(x, w_ih, b_ih)  # overwritten in place by the gate activations
    if b_hh is not None:
        gates += b_hh
    w_hh_t = w_hh.T
    y, cells, h, c = lstm_recurrence(gates, lambda state: matmul(state, w_hh_t), h_first, c_first, reverse)
    cache = (x, w_ih, w_hh, gates, y, cells, h_first, c_first, reverse,
             b_ih is not None, b_hh is not None, h0 is not None, c0 is not None)
    return (y, h, c), cache


def lstm_recurrence(gates: np.ndarray, recurrent: Callable[[np.ndarray], np.ndarray], h0: np.ndarray,
                    c0: np.ndarray, reverse: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The LSTM cell over time, given the input projections: the loop every LSTM variant shares.

    Args:
        gates: (N, T, 4H) pre-activations of the gates ``i, f, g, o`` from the input (biases included);
            overwritten in place by the gate activations (what backward needs).
        recurrent: ``h (N, H) -> (N, 4H)``, the hidden state's contribution to the pre-activations
            (``h @ w_hh.T`` for the float LSTM; a dynamically quantised product for the int8 one).
        h0, c0: (N, H) initial states.
        reverse: run from the last time step to the first.

    Returns:
        ``(y (N, T, H), cells (N, T, H), h_T, c_T)``.
    """
    n, length, four_hidden = gates.shape
    hidden = four_hidden // 4
    h, c = h0, c0
    y = np.empty((n, length, hidden), dtype=gates.dtype)
    cells = np.empty_like(y)
    for t in _steps(length, reverse):
        a = gates[:, t]
        a += recurrent(h)
        a[:, :2 * hidden] = _sigmoid(a[:, :2 * hidden])
        a[:, 2 * hidden:3 * hidden] = np.tanh(a[:, 2 * hidden:3 * hidden])
        a[:, 3 * hidden:] = _sigmoid(a[:, 3 * hidden:])
        c = a[:, hidden:2 * hidden] * c + a[:, :hidden] * a[:, 2 * hidden:3 * hidden]
        h = a[:, 3 * hidden:] * np.tanh(c)
        y[:, t], cells[:, t] = h, c
    return y, cells, h, c


def lstm_backward(grads: tuple, cache: tuple) -> tuple:
    """BPTT of :func:`lstm_forward`; ``grads = (dy, dh_T, dc_T)``.

    Returns ``(dx, dw_ih, dw_hh, db_ih, db_hh, dh0, dc0)`` (``None`` for absent arguments).
    """
    x, w_ih, w_hh, gates, y, cells, h_first, c_first, reverse, has_b_ih, has_b_hh, has_h0, has_c0 = cache
    n, length, hidden = y.shape
    dy, dh, dc = grads
    dh = _grad_or_zeros(dh, (n, hidden), y.dtype)
    dc = _grad_or_zeros(dc, (n, hidden), y.dtype)
    i, f, g, o = (gates[..., k * hidden:(k + 1) * hidden] for k in range(4))
    tanh_c = np.tanh(cells)
    # local derivatives for the whole sequence: d c / d pre-activation of i, f, g and d h / d (o, c)
    local_i = g * i * (1 - i)
    local_f = _previous(cells, c_first, reverse) * f * (1 - f)
    local_g = i * (1 - g * g)
    local_o = tanh_c * o * (1 - o)
    local_c = o * (1 - tanh_c * tanh_c)
    dgates = np.empty_like(gates)
    for t in _steps(length, not reverse):
        dh_t = dh if dy is None else dh + dy[:, t]
        dc = dc + dh_t * local_c[:, t]
        dgates[:, t, :hidden] = dc * local_i[:, t]
        dgates[:, t, hidden:2 * hidden] = dc * local_f[:, t]
        dgates[:, t, 2 * hidden:3 * hidden] = dc * local_g[:, t]
        dgates[:, t, 3 * hidden:] = dh_t * local_o[:, t]
        dc = dc * f[:, t]
        dh = matmul(dgates[:, t], w_hh)
    hprev = _previous(y, h_first, reverse)
    params = _param_grads(dgates, dgates, x, hprev, w_ih, has_b_ih, has_b_hh)
    return (*params, dh if has_h0 else None, dc if has_c0 else None)


# ----------------------------------------------------------------------------- GRU
def gru_forward(x: np.ndarray, w_ih: np.ndarray, w_hh: np.ndarray, b_ih: np.ndarray | None,
                b_hh: np.ndarray | None, h0: np.ndarray | None = None,
                reverse: bool = False) -> tuple[tuple[np.ndarray, np.ndarray], tuple]:
    """One GRU layer, one direction, PyTorch's formulation.

    ``r = σ(W_ir x + b_ir + W_hr h + b_hr)``, ``z = σ(W_iz x + b_iz + W_hz h + b_hz)``,
    ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``, ``h' = (1 - z) * n + z * h``
    (ONNX's GRU with ``linear_before_reset=1``).

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
        xp[..., :2 * hidden] += b_hh[:2 * hidden]
    acts = np.empty_like(xp)  # r, z, n per step
    hn = np.empty((n, length, hidden), dtype=x.dtype)  # W_hn h + b_hn per step
    y = np.empty_like(hn)
    for t in _steps(length, reverse):
        hp = matmul(h, w_hh.T)
        if b_hh is not None:
            hp[:, 2 * hidden:] += b_hh[2 * hidden:]
        rz = _sigmoid(xp[:, t, :2 * hidden] + hp[:, :2 * hidden])
        cand = np.tanh(xp[:, t, 2 * hidden:] + rz[:, :hidden] * hp[:, 2 * hidden:])
        h = cand + rz[:, hidden:] * (h - cand)
        acts[:, t, :2 * hidden], acts[:, t, 2 * hidden:] = rz, cand
        hn[:, t], y[:, t] = hp[:, 2 * hidden:], h
    cache = (x, w_ih, w_hh, acts, hn, y, h_first, reverse, b_ih is not None, b_hh is not None, h0 is not None)
    return (y, h), cache


def gru_backward(grads: tuple, cache: tuple) -> tuple:
    """BPTT of :func:`gru_forward`; ``grads = (dy, dh_T)``.

    Returns ``(dx, dw_ih, dw_hh, db_ih, db_hh, dh0)`` (``None`` for absent arguments).
    """
    x, w_ih, w_hh, acts, hn, y, h_first, reverse, has_b_ih, has_b_hh, has_h0 = cache
    n, length, hidden = y.shape
    dy, dh = grads
    dh = _grad_or_zeros(dh, (n, hidden), y.dtype)
    r, z, cand = (acts[..., k * hidden:(k + 1) * hidden] for k in range(3))
    hprev = _previous(y, h_first, reverse)
    local_n = (1 - z) * (1 - cand * cand)  # d h' / d pre-activation of n
    local_z = (hprev - cand) * z * (1 - z)
    local_r = hn * r * (1 - r)  # d pre-activation of n / d pre-activation of r
    dxp = np.empty_like(acts)
    dhp = np.empty_like(acts)
    for t in _steps(length, not reverse):
        dh_t = dh if dy is None else dh + dy[:, t]
        dn = dh_t * local_n[:, t]
        dxp[:, t, :hidden] = dn * local_r[:, t]
        dxp[:, t, hidden:2 * hidden] = dh_t * local_z[:, t]
        dxp[:, t, 2 * hidden:] = dn
        dhp[:, t, :2 * hidden] = dxp[:, t, :2 * hidden]
        dhp[:, t, 2 * hidden:] = dn * r[:, t]
        dh = dh_t * z[:, t] + matmul(dhp[:, t], w_hh)
    params = _param_grads(dxp, dhp, x, hprev, w_ih, has_b_ih, has_b_hh)
    return (*params, dh if has_h0 else None)


# ----------------------------------------------------------------------------- RNN
def rnn_forward(x: np.ndarray, w_ih: np.ndarray, w_hh: np.ndarray, b_ih: np.ndarray | None,
                b_hh: np.ndarray | None, h0: np.ndarray | None = None, reverse: bool = False,
                nonlinearity: str = "tanh") -> tuple[tuple[np.ndarray, np.ndarray], tuple]:
    """One simple RNN layer, one direction: ``h' = act(W_ih x + b_ih + W_hh h + b_hh)``.

    Args:
        x: (N, T, I) input sequence.
        w_ih, w_hh: (H, I) and (H, H) weights.
        b_ih, b_hh: (H,) biases or ``None``.
        h0: (N, H) initial state or ``None`` (zeros).
        reverse: run the recurrence from the last time step to the first.
        nonlinearity: ``"tanh"`` or ``"relu"``.

    Returns:
        ``((y (N, T, H), h_T (N, H)), cache)``.
    """
    if nonlinearity not in _NONLINEARITIES:
        raise ValueError(f"rnn: nonlinearity must be one of {_NONLINEARITIES}, got {nonlinearity!r}")
    n, length, _ = x.shape
    hidden = w_hh.shape[1]
    h = h_first = _initial(h0, n, hidden, x.dtype)
    pre = _project(x, w_ih, b_ih)
    if b_hh is not None:
        pre += b_hh
    y = np.empty((n, length, hidden), dtype=x.dtype)
    for t in _steps(length, reverse):
        a = pre[:, t] + matmul(h, w_hh.T)
        h = np.tanh(a) if nonlinearity == "tanh" else np.maximum(a, 0)
        y[:, t] = h
    cache = (x, w_ih, w_hh, y, h_first, reverse, nonlinearity, b_ih is not None, b_hh is not None, h0 is not None)
    return (y, h), cache


def rnn_backward(grads: tuple, cache: tuple) -> tuple:
    """BPTT of :func:`rnn_forward`; ``grads = (dy, dh_T)``.

    Returns ``(dx, dw_ih, dw_hh, db_ih, db_hh, dh0)`` (``None`` for absent arguments).
    """
    x, w_ih, w_hh, y, h_first, reverse, nonlinearity, has_b_ih, has_b_hh, has_h0 = cache
    n, length, hidden = y.shape
    dy, dh = grads
    dh = _grad_or_zeros(dh, (n, hidden), y.dtype)
    local = 1 - y * y if nonlinearity == "tanh" else (y > 0).astype(y.dtype)
    dpre = np.empty_like(y)
    for t in _steps(length, not reverse):
        dh_t = dh if dy is None else dh + dy[:, t]
        dpre[:, t] = dh_t * local[:, t]
        dh = matmul(dpre[:, t], w_hh)
    params = _param_grads(dpre, dpre, x, _previous(y, h_first, reverse), w_ih, has_b_ih, has_b_hh)
    return (*params, dh if has_h0 else None)
