"""Post-training static quantisation: :func:`quantize` turns a trained float32 model into one whose
convolutions and linear layers run in int8 (see :mod:`bigdl_runtime.nn.layers.int8`).

How a model is rewritten:

1. :func:`~bigdl_runtime.nn.fuse_for_inference` (``blocked=False``: ordinary layers, no float32 oneDNN
   plans) folds batch norms into convolutions and ReLUs into them, on a copy (the caller's model is never
   changed).
2. Every ``Conv2d`` / ``ConvReLU2d`` / ``Linear`` gets an :class:`~.calibration.Observer` on its input and
   output, every Add on its inputs and output, every ReLU / ReLU6 on its output; the calibration batches run
   through the float model.
3. Each of those linear layers becomes a ``QuantizedConv2d`` / ``QuantizedLinear``: per-channel symmetric int8
   weights, the input's uint8 scale and zero point from the observed range (by ``method``), a ReLU (or ReLU6)
   that follows a linear layer as its only consumer fused into it. In a Graph, :mod:`.graph_rewrite` also
   fuses residual Adds (and their ReLU) into the convolution before them and keeps uint8 values between the
   int8 layers, through max pools, dequantising only for float consumers (see there). In a Sequential, an int8
   layer followed by another (directly or through pass-through layers: max pools, some pads) requantises its output to that one's input
   scale inside its primitive and passes it on as uint8; a convolution output that reaches an int8
   convolution through layout-keeping layers (Add, ReLU, MaxPool2d) stays NHWC memory seen as an NCHW array
   (``channels_last``). Everything else stays float32 and shared with the copy.
"""
from __future__ import annotations

import copy
from typing import Any, Iterable

import numpy as np

from ..nn.fuse import fuse_for_inference
from ..nn.graph import Graph
from ..nn.layers.activation import ReLU
from ..nn.layers.conv import Conv2d, ConvReLU2d
from ..nn.layers.elementwise import Add
from ..nn.kernel_layer import as_inputs
from ..nn.layers.int8 import QuantizedConv2d, QuantizedConvAdd2d, QuantizedLinear
from ..nn.layers.linear import Linear
from ..nn.layers.math import ReLU6
from ..nn.layers.pad import Pad
from ..nn.layers.pool import MaxPool2d
from ..nn.module import Module
from ..nn.sequential import Sequential
from .calibration import METHODS, Observer, int8_weight, uint8_params
from .graph_rewrite import ELEMENTWISE, RELUS, passes_uint8, rewrite_graph

_TARGETS = (Conv2d, ConvReLU2d, Linear)
#: layers whose outputs (and an Add's inputs) calibration observes too: a residual Add and its ReLU fused
#: into a convolution write uint8 with their output's range
_OBSERVED = (Add, ReLU, ReLU6)
#: an observed value: (id(layer), input position or "out")
Key = tuple[int, Any]


def quantize(model: Module, calibration_data: Any, method: str = "minmax", *, percentile: float = 99.99,
             batch_size: int = 32) -> Module:
    """An int8 copy of ``model`` (post-training static quantisation); ``model`` is left as it was.

    Args:
        model: a trained float32 model (a Graph or Sequential, nested ones included).
        calibration_data: representative inputs: one array whose first axis is the sample (run in batches of
            ``batch_size``), or an iterable of input batches. A few hundred samples are enough.
        method: how an input range is chosen from what calibration saw: ``"minmax"`` (all of it),
            ``"percentile"`` (``percentile`` and ``100 - percentile`` of the values) or ``"entropy"``
            (the clipping that minimises the KL divergence of the quantised histogram).
        percentile: for ``method="percentile"``.
        batch_size: batch size for an array ``calibration_data``.

    Returns:
        the quantised model in evaluation mode: it runs, saves, loads and exports to ONNX (QDQ) like any model.

    Raises:
        ValueError: an unknown method, or no calibration data.

    Examples:
        >>> int8 = quantize(model, train_images[:512], method="percentile")
        >>> int8.save("model-int8.bigdl")
    """
    if method not in METHODS:
        raise ValueError(f"unknown calibration method {method!r}; use one of {METHODS}")
    fused = copy.deepcopy(fuse_for_inference(model, blocked=False)).evaluate()
    observers: dict[Key, Observer] = {}
    shapes: dict[Key, tuple[int, ...]] = {}
    targets = [m for m in fused.modules() if type(m) in _TARGETS + _OBSERVED]
    for module in targets:
        module.forward_pass = _observing(module, observers, shapes)  # an instance attribute: removed below
    try:
        seen = 0
        for batch in _batches(calibration_data, batch_size):
            # forward_pass, not forward: an evaluation-mode forward runs the layers' infer (and a graph's
            # fused steps), which would pass by the observers
            fused.forward_pass(batch)
            seen += len(batch)
        if not seen:
            raise ValueError("quantize: calibration_data holds no samples")
    finally:
        for module in targets:
            del module.__dict__["forward_pass"]
    ranges = {key: obs.range(method, percentile) for key, obs in observers.items() if obs.low <= obs.high}
    params = {key: uint8_params(*r) for key, r in ranges.items()}
    return _Rewriter(params, shapes).module(fused).evaluate()


def _observing(module: Module, observers: dict[Key, Observer], shapes: dict[Key, tuple[int, ...]]) -> Any:
    """A forward_pass that observes the inputs (the first of a linear layer, all of an Add) and the output."""
    forward_pass = type(module).forward_pass

    def see(key: Key, value: Any) -> None:
        if isinstance(value, np.ndarray) and value.dtype.kind in "fiu":
            observers.setdefault(key, Observer()).update(value)
            shapes[key] = value.shape[1:]

    def observe(*args: Any) -> Any:
        seen = as_inputs(args) if isinstance(module, Add) else args[:1] if type(module) in _TARGETS else ()
        for k, x in enumerate(seen):
            see((id(module), k), x)
        out = forward_pass(module, *args)
        see((id(module), "out"), out[0])
        return out

    return observe


def _batches(data: Any, batch_size: int) -> Iterable[np.ndarray]:
    if isinstance(data, np.ndarray):
        for start in range(0, len(data), batch_size):
            yield data[start:start + batch_size]
    else:
        for batch in data:
            yield np.asarray(batch)


class _Rewriter:
    """Builds the quantised model from the fused one, given each observed layer's input (scale, zero point)."""

    def __init__(self, params: dict[Key, tuple[float, int]], shapes: dict[Key, tuple[int, ...]]) -> None:
        self.params = params
        self.shapes = shapes
        self.done: dict[int, Module] = {}  # a layer at several places stays one (shared) layer
        self.fed: dict[int, tuple[float, int]] = {}  # layers fed uint8 by the layer before: its quantisation

    def quantizable(self, module: Module | None) -> bool:
        return module is not None and type(module) in _TARGETS and (id(module), 0) in self.params

    def layer(self, module: Module, max_value: float | None | bool = False,
              output: tuple[float, int] | None = None, inside: bool = False,
              addend: tuple[float, int, bool] | None = None) -> Module:
        """The int8 version of a Conv2d/ConvReLU2d/Linear (``max_value``: a ReLU that followed, None for a plain
        one; ``output``: requantise to this uint8 (scale, zero point); ``inside``: the output is not one of the
        model's, so a convolution returns it channels-last; ``addend``: a residual Add fused in, with its
        (scale, zero point, whether it comes as uint8)). Its input quantisation is that of the uint8 it is fed
        (``self.fed``), else its input's observed range."""
        if id(module) in self.done:
            return self.done[id(module)]
        scale, zero_point = self.fed.get(id(module)) or self.params[(id(module), 0)]
        relu = max_value is not False or isinstance(module, ConvReLU2d)
        cap = getattr(module, "max_value", None) if isinstance(module, ConvReLU2d) else (max_value or None)
        quant = dict(bias=module.bias is not None, input_scale=scale, input_zero_point=zero_point, relu=relu,
                     max_value=cap, output_scale=None if output is None else output[0],
                     output_zero_point=0 if output is None else output[1],
                     quantized_input=id(module) in self.fed, name=module.name)
        if isinstance(module, Conv2d):
            config = {k: v for k, v in module.get_config().items() if k not in ("bias", "max_value")}
            if addend is None:
                layer = QuantizedConv2d(**config, **quant, channels_last=inside)
            else:
                layer = QuantizedConvAdd2d(**config, **quant, channels_last=inside, addend_scale=addend[0],
                                           addend_zero_point=addend[1], quantized_addend=addend[2])
        else:
            layer = QuantizedLinear(module.in_features, module.out_features, **quant)
        weight, weight_scale = int8_weight(module.weight.data)
        layer.register_buffer("weight", weight)
        layer.register_buffer("weight_scale", weight_scale)
        if module.bias is not None:
            layer.register_buffer("bias", np.asarray(module.bias.data, dtype=np.float32).copy())
        self.done[id(module)] = layer.evaluate()
        return layer

    def module(self, module: Module) -> Module:
        if isinstance(module, Graph):
            return self.graph(module)
        if isinstance(module, Sequential):
            return self.sequential(module)
        if self.quantizable(module):
            return self.layer(module)
        return module

    def sequential(self, seq: Sequential) -> Sequential:
        layers = list(seq.children())
        relu_of = {k: RELUS[type(layers[k + 1])] for k in range(len(layers) - 1)
                   if isinstance(layers[k], Linear) and self.quantizable(layers[k]) and type(layers[k + 1]) in RELUS}
        out: list[Module] = []
        k = 0
        while k < len(layers):
            layer = layers[k]
            if not self.quantizable(layer):
                out.append(self.module(layer))
                k += 1
                continue
            nxt = k + 2 if k in relu_of else k + 1
            after = nxt  # pass-through layers (max pools, some pads) carry the uint8 on unchanged
            while after < len(layers) and isinstance(layers[after], (MaxPool2d, Pad)):
                after += 1
            following = layers[after] if after < len(layers) else None
            chained = self.params[(id(following), 0)] if self.quantizable(following) else None
            if chained is not None and not all(passes_uint8(m, chained[1]) for m in layers[nxt:after]):
                chained = None
            if chained is not None:
                self.fed[id(following)] = chained
            out.append(self.layer(layer, relu_of.get(k, False), chained, inside=self._feeds_conv(layers[nxt:])))
            k = nxt
        return Sequential(*out, name=seq.name)

    def _feeds_conv(self, rest: list[Module]) -> bool:
        """Whether a Sequential's output of one layer, followed by ``rest``, reaches an int8 convolution
        through layout-keeping layers only."""
        for layer in rest:
            if self.quantizable(layer) and isinstance(layer, Conv2d):
                return True
            if not isinstance(layer, ELEMENTWISE):
                return False
        return False

    def graph(self, graph: Graph) -> Graph:
        return rewrite_graph(self, graph)
