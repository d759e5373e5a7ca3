"""The dynamically quantised LSTM of onnxruntime (``com.microsoft::DynamicQuantizeLSTM``), one direction.

Both of its products run in integers, the cell in float32 (the LSTM cell of :mod:`.rnn`):

- the input projection of every time step is one dynamically quantised GEMM (one uint8 scale and
  zero point for the whole ``(N*T, I)`` input, :func:`.dynamic_quantize.dynamic_quantized_matmul`);
- at every step the hidden state is quantised on its own and multiplied by the int8/uint8
  recurrent weight the same way. onnxruntime quantises the hidden state of all ``N`` rows
  together, except when it splits the batch over its threads (``N > 4``, or ``N >= 2`` with
  ``H <= 256``): each block of ``ceil(N / threads)`` rows then has its own scale.
  ``rows_per_scale`` gives that block size (``None``: the whole batch).

Gates are in our (PyTorch's) order ``i, f, g, o``; the weights are ``(I, 4H)`` and ``(H, 4H)``
(onnxruntime's layout, columns in our gate order) prepared with :func:`.dynamic_quantize.quantized_weight`.
No gradient: the products are integer.
"""
from __future__ import annotations

import numpy as np

from .dynamic_quantize import QuantizedWeight, dynamic_quantized_matmul
from .rnn import lstm_recurrence


def ort_rows_per_scale(batch: int, hidden: int, threads: int) -> int | None:
    """The rows of a batch onnxruntime quantises together at each step with ``threads`` threads (None: all)."""
    if batch > 4 or (batch >= 2 and hidden <= 256):
        return -(-batch // max(threads, 1))
    return None


def dynamic_quantized_lstm(x: np.ndarray, w_ih: QuantizedWeight, w_hh: QuantizedWeight, bias: np.ndarray | None,
                           h0: np.ndarray | None = None, c0: np.ndarray | None = None, reverse: bool = False,
                           rows_per_scale: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One direction of onnxruntime's DynamicQuantizeLSTM.

    Args:
        x: (N, T, I) float32 input sequence.
        w_ih, w_hh: the prepared (I, 4H) and (H, 4H) quantised weights, gates ``i, f, g, o``.
        bias: (4H,) the sum of the input and recurrent biases, or ``None``.
        h0, c0: (N, H) initial states or ``None`` (zeros).
        reverse: run the recurrence from the last time step to the first.
        rows_per_scale: rows of the hidden state quantised together (``None``: the whole batch).

    Returns:
        ``(y (N, T, H), h_T (N, H), c_T (N, H))``, float32.
    """
    x = np.asarray(x, np.float32)
    n, length, inputs = x.shape
    hidden = w_hh.centred.shape[0]
    if w_ih.centred.shape != (inputs, 4 * hidden) or w_hh.centred.shape != (hidden, 4 * hidden):
        raise ValueError(f"weights of shapes {w_ih.centred.shape} and {w_hh.centred.shape} do not fit an input of "
                         f"{inputs} features and a hidden size of {hidden}: expected ({inputs}, {4 * hidden}) and "
                         f"({hidden}, {4 * hidden})")
    gates = dynamic_quantized_matmul(x.reshape(n * length, inputs), w_ih).reshape(n, length, 4 * hidden)
    if bias is not None:
        gates += np.asarray(bias, np.float32)
    step = n if rows_per_scale is None else max(int(rows_per_scale), 1)

    def recurrent(h: np.ndarray) -> np.ndarray:
        if step >= n:
            return dynamic_quantized_matmul(h, w_hh)
        return np.concatenate([dynamic_quantized_matmul(h[r:r + step], w_hh) for r in range(0, n, step)])

    zeros = np.zeros((n, hidden), np.float32)
    h_first = zeros if h0 is None else np.asarray(h0, np.float32)
    c_first = zeros if c0 is None else np.asarray(c0, np.float32)
    y, _, h, c = lstm_recurrence(gates, recurrent, h_first, c_first, reverse)
    return y, h, c
