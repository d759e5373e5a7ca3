"""DynamicQuantizedLSTM: onnxruntime's int8 LSTM (``com.microsoft::DynamicQuantizeLSTM``), inference only.

The weights are int8 or uint8 buffers with float32 scales (per tensor or per gate column) and
one zero point per direction; input and hidden state are quantised to uint8 on the fly, the
products run in integers and the cell in float32 (see :mod:`bigdl_runtime.kernels.quantized_lstm`).
The interface (layouts, directions, initial and final states) is :class:`RecurrentSequence`'s.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ...kernels.dynamic_quantize import QuantizedWeight, quantized_weight
from ...kernels.quantized_lstm import dynamic_quantized_lstm, ort_rows_per_scale
from ...kernels.threads import block_threads
from ..kernel_layer import call_kernel
from ..module import Module
from .rnn_sequence import batch_major, stack_directions

_WEIGHT_DTYPES = ("int8", "uint8")


class DynamicQuantizedLSTM(Module):
    """One LSTM layer whose products are dynamically quantised to 8 bits, as onnxruntime computes it.

    Args:
        input_size: features of each time step ``I``.
        hidden_size: features of the hidden state ``H``.
        direction: ``"forward"``, ``"reverse"`` or ``"bidirectional"`` (``D`` = 1, 1 or 2).
        batch_first: inputs and outputs put the batch axis first.
        weight_dtype: ``"int8"`` or ``"uint8"``.
        per_channel: one weight scale per gate column (else one per weight matrix).
        bias: the layer adds a bias.
        name: optional layer name.

    Buffers, per direction (suffix ``""``, or ``"_reverse"`` for the reverse one), gates in
    PyTorch's order ``i, f, g, o``: ``weight_ih_l0`` ``(I, 4H)`` and ``weight_hh_l0`` ``(H, 4H)``
    (``weight_dtype``), their ``*_scale`` (float32, ``()`` or ``(4H,)``) and ``*_zero_point``
    (``()``, ``weight_dtype``), and ``bias_l0`` ``(4H,)`` (the input and recurrent biases summed).

    At each step the hidden state of all rows shares one scale, except where onnxruntime splits the
    batch over its threads (``N > 4``, or ``N >= 2`` with ``H <= 256``): then blocks of
    ``ceil(N / threads)`` rows have their own, with our thread count (:func:`block_threads`).

    Shape:
        - Inputs: ``x`` ``(T, N, I)``, optionally ``h0`` and ``c0`` ``(D, N, H)``
          (with ``batch_first``: ``(N, T, I)`` and ``(N, D, H)``).
        - Output: ``(y, h_T, c_T)``, ``y`` ``(T, D, N, H)`` and the states ``(D, N, H)``
          (with ``batch_first``: ``(N, T, D, H)`` and ``(N, D, H)``).

    Examples:
        >>> lstm = DynamicQuantizedLSTM(8, 16, direction="bidirectional")
        >>> y, h, c = lstm(np.ones((5, 2, 8), np.float32))  # (5, 2, 2, 16), (2, 2, 16), (2, 2, 16)
    """

    def __init__(self, input_size: int, hidden_size: int, direction: str = "forward", batch_first: bool = False,
                 weight_dtype: str = "int8", per_channel: bool = False, bias: bool = True,
                 name: str | None = None) -> None:
        super().__init__(name=name)
        if direction not in ("forward", "reverse", "bidirectional"):
            raise ValueError(f"DynamicQuantizedLSTM: direction must be forward, reverse or bidirectional, "
                             f"got {direction!r}")
        if str(np.dtype(weight_dtype)) not in _WEIGHT_DTYPES:
            raise ValueError(f"DynamicQuantizedLSTM: weight_dtype must be one of {_WEIGHT_DTYPES}, got {weight_dtype}")
        self.input_size, self.hidden_size = int(input_size), int(hidden_size)
        self.direction, self.batch_first = direction, bool(batch_first)
        self.weight_dtype, self.per_channel, self.bias = str(np.dtype(weight_dtype)), bool(per_channel), bool(bias)
        gates = 4 * self.hidden_size
        scale_shape = (gates,) if self.per_channel else ()
        for suffix in self.suffixes:
            for kind, rows in (("ih", self.input_size), ("hh", self.hidden_size)):
                self.register_buffer(f"weight_{kind}_l0{suffix}", np.zeros((rows, gates), self.weight_dtype))
                self.register_buffer(f"weight_{kind}_scale_l0{suffix}", np.ones(scale_shape, np.float32))
                self.register_buffer(f"weight_{kind}_zero_point_l0{suffix}", np.zeros((), self.weight_dtype))
            if self.bias:
                self.register_buffer(f"bias_l0{suffix}", np.zeros(gates, np.float32))

    @property
    def suffixes(self) -> tuple[str, ...]:
        """The buffer-name suffix of each direction, in output order."""
        return {"forward": ("",), "reverse": ("_reverse",), "bidirectional": ("", "_reverse")}[self.direction]

    def get_config(self) -> dict[str, Any]:
        return {"input_size": self.input_size, "hidden_size": self.hidden_size, "direction": self.direction,
                "batch_first": self.batch_first, "weight_dtype": self.weight_dtype, "per_channel": self.per_channel,
                "bias": self.bias}

    def _weight(self, kind: str, suffix: str) -> QuantizedWeight:
        """The prepared ``weight_{kind}_l0{suffix}`` (``kind``: ``"ih"`` or ``"hh"``), made once for the buffer
        arrays it is made of (buffers are not trained; :meth:`load_state_dict` makes it again)."""
        arrays = tuple(self._buffers[f"weight_{kind}{part}_l0{suffix}"] for part in ("", "_scale", "_zero_point"))
        prepared = self.__dict__.setdefault("_prepared", {})
        key = (kind, suffix)
        if key not in prepared or any(a is not b for a, b in zip(prepared[key][0], arrays)):
            prepared[key] = (arrays, quantized_weight(*arrays))
        return prepared[key][1]

    def weights_changed(self) -> None:
        self.__dict__.pop("_prepared", None)

    def __getstate__(self) -> dict[str, Any]:
        """Copies and pickles leave the prepared weights behind (their oneDNN plans are this process's)."""
        return {k: v for k, v in self.__dict__.items() if k != "_prepared"}

    def forward_pass(self, x: np.ndarray, *states: np.ndarray) -> tuple[tuple[np.ndarray, ...], None]:
        x = np.asarray(x)
        if x.ndim != 3 or x.shape[-1] != self.input_size:
            raise ValueError(f"{self.describe()}: expected input with {self.input_size} features per step, "
                             f"got shape {x.shape}")
        if len(states) > 2:
            raise ValueError(f"{self.describe()}: at most 2 initial state inputs (h0, c0), got {len(states)}")
        seq, states = batch_major(x, states, self.batch_first)
        rows = ort_rows_per_scale(seq.shape[0], self.hidden_size, block_threads())
        ys, finals = [], [[], []]
        for d, suffix in enumerate(self.suffixes):
            init = [s[:, d] for s in states] + [None] * (2 - len(states))
            y, h, c = call_kernel(self, dynamic_quantized_lstm, seq, self._weight("ih", suffix),
                                  self._weight("hh", suffix), self._buffers.get(f"bias_l0{suffix}"), *init,
                                  reverse=suffix == "_reverse", rows_per_scale=rows)
            ys.append(y)
            finals[0].append(h)
            finals[1].append(c)
        return stack_directions(ys, finals, self.batch_first), None

    def backward_pass(self, grad_output: Any, ctx: None) -> Any:
        raise RuntimeError(f"{self.describe()} has no gradient: its products are quantised (integer); "
                           "fine-tune the float LSTM instead")
