"""Post-training static quantisation: :func:`quantize` turns a trained float32 model into one whose
convolutions and linear layers run in int8 (see :mod:`bigdl_runtime.nn.layers.int8`).

How a model is rewritten:

1. :func:`~bigdl_runtime.nn.fuse_for_inference` (``blocked=False``: ordinary layers, no float32 oneDNN
   plans) folds batch norms into convolutions and ReLUs into them, on a copy (the caller's model is never
   changed).
2. Every ``Conv2d`` / ``ConvReLU2d`` / ``Linear`` gets an :class:`~.calibration.Observer` on its input; the
   calibration batches run through the float model.
3. Each of them becomes a ``QuantizedConv2d`` / ``QuantizedLinear``: per-channel symmetric int8 weights,
   the input's uint8 scale and zero point from the observed range (by ``method``), a ReLU (or ReLU6) that
   follows a linear layer as its only consumer fused into it. Where an int8 layer's output goes only to
   another int8 layer, it is requantised to that layer's input scale inside the first one's primitive and
   passed on as uint8 (no float32 round trip). A convolution output whose every use is an int8 convolution,
   directly or through layout-keeping layers (Add, ReLU, MaxPool2d) all of whose inputs are such outputs,
   stays NHWC memory seen as an NCHW array (``channels_last``: what the int8 kernels read and write, and
   those layers keep); other outputs are C order, because mixed layouts in one Add measured slower than the
   layout change (ResNet-18, batch 32: an Add of an NHWC and an NCHW array 10x a plain one). Everything else stays float32 and shared with the copy.
"""
from __future__ import annotations

import copy
from typing import Any, Iterable

import numpy as np

from ..nn.fuse import fuse_for_inference
from ..nn.graph import Graph, Input, Node
from ..nn.layers.activation import ReLU
from ..nn.layers.conv import Conv2d, ConvReLU2d
from ..nn.layers.elementwise import Add
from ..nn.layers.int8 import QuantizedConv2d, QuantizedLinear
from ..nn.layers.linear import Linear
from ..nn.layers.math import ReLU6
from ..nn.layers.pool import MaxPool2d
from ..nn.module import Module
from ..nn.sequential import Sequential
from .calibration import METHODS, Observer, int8_weight, uint8_params

_TARGETS = (Conv2d, ConvReLU2d, Linear)
_RELUS = {ReLU: None, ReLU6: 6.0}
#: float layers that keep their inputs' memory layout (numpy elementwise, max pooling): channels-last values
#: pass through them
_ELEMENTWISE = (Add, ReLU, ReLU6, MaxPool2d)


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
    observers: dict[int, Observer] = {}
    targets = [m for m in fused.modules() if type(m) in _TARGETS]
    for module in targets:
        observers[id(module)] = observer = Observer()
        module.forward_pass = _observing(module, observer)  # an instance attribute: removed below
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
    return _Rewriter(params).module(fused).evaluate()


def _observing(module: Module, observer: Observer) -> Any:
    forward_pass = type(module).forward_pass

    def observe(x: np.ndarray, *rest: Any) -> Any:
        observer.update(x)
        return forward_pass(module, x, *rest)

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

    def __init__(self, params: dict[int, tuple[float, int]]) -> None:
        self.params = params
        self.done: dict[int, Module] = {}  # a layer at several places stays one (shared) layer
        self.fed_uint8: set[int] = set()  # layers whose input an int8 layer before them requantises

    def quantizable(self, module: Module | None) -> bool:
        return module is not None and type(module) in _TARGETS and id(module) in self.params

    def layer(self, module: Module, max_value: float | None | bool = False,
              output: tuple[float, int] | None = None, inside: bool = False) -> Module:
        """The int8 version of a Conv2d/ConvReLU2d/Linear (``max_value``: a ReLU that followed, None for a plain
        one; ``output``: requantise to this uint8 (scale, zero point); ``inside``: the output is not one of the
        model's, so a convolution returns it channels-last)."""
        if id(module) in self.done:
            return self.done[id(module)]
        scale, zero_point = self.params[id(module)]
        relu = max_value is not False or isinstance(module, ConvReLU2d)
        cap = getattr(module, "max_value", None) if isinstance(module, ConvReLU2d) else (max_value or None)
        quant = dict(bias=module.bias is not None, input_scale=scale, input_zero_point=zero_point, relu=relu,
                     max_value=cap, output_scale=None if output is None else output[0],
                     output_zero_point=0 if output is None else output[1],
                     quantized_input=id(module) in self.fed_uint8, name=module.name)
        if isinstance(module, Conv2d):
            config = {k: v for k, v in module.get_config().items() if k not in ("bias", "max_value")}
            layer = QuantizedConv2d(**config, **quant, channels_last=inside)
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
        relu_of = {k: _RELUS[type(layers[k + 1])] for k in range(len(layers) - 1)
                   if isinstance(layers[k], Linear) and self.quantizable(layers[k]) and type(layers[k + 1]) in _RELUS}
        out: list[Module] = []
        k = 0
        while k < len(layers):
            layer = layers[k]
            if not self.quantizable(layer):
                out.append(self.module(layer))
                k += 1
                continue
            nxt = k + 2 if k in relu_of else k + 1
            following = layers[nxt] if nxt < len(layers) else None
            chained = self.params[id(following)] if self.quantizable(following) else None
            if chained is not None:
                self.fed_uint8.add(id(following))
            out.append(self.layer(layer, relu_of.get(k, False), chained, inside=self._feeds_conv(layers[nxt:])))
            k = nxt
        return Sequential(*out, name=seq.name)

    def _feeds_conv(self, rest: list[Module]) -> bool:
        """Whether a Sequential's output of one layer, followed by ``rest``, reaches an int8 convolution
        through layout-keeping layers only."""
        for layer in rest:
            if self.quantizable(layer) and isinstance(layer, Conv2d):
                return True
            if not isinstance(layer, _ELEMENTWISE):
                return False
        return False

    def _channels_last(self, nodes: tuple[Node, ...], consumers: dict[int, list[Node]], outputs: set[int]) -> set[int]:
        """The graph nodes whose output may stay channels-last: int8 convolutions (not graph outputs) and
        layout-keeping layers, as long as every consumer is an int8 convolution or such a node, and every input
        of such a layout-keeping node is one too (removed until that holds)."""
        def conv(n: Node) -> bool:
            return self.quantizable(n.module) and isinstance(n.module, Conv2d)

        keep = {id(n) for n in nodes if n.module is not None and id(n) not in outputs
                and (conv(n) or isinstance(n.module, _ELEMENTWISE))}
        changed = True
        while changed:
            changed = False
            for n in nodes:
                if id(n) not in keep:
                    continue
                uses = consumers.get(id(n), [])
                bad_use = any(not conv(u) and id(u) not in keep for u in uses)
                bad_input = not conv(n) and any(id(s) not in keep for s, _ in n.inputs)
                if bad_use or bad_input or not uses:
                    keep.discard(id(n))
                    changed = True
        return keep

    def graph(self, graph: Graph) -> Graph:
        nodes = graph.nodes
        consumers: dict[int, list[Node]] = {}
        for n in nodes:
            for s, _ in n.inputs:
                consumers.setdefault(id(s), []).append(n)
        outputs = {id(s) for s, _ in graph.outputs}
        sites: dict[int, int] = {}
        for n in nodes:
            if n.module is not None:
                sites[id(n.module)] = sites.get(id(n.module), 0) + 1

        def single(n: Node) -> Node | None:
            """The only consumer of n's output, when there is one and n is not a graph output."""
            users = consumers.get(id(n), [])
            return users[0] if len(users) == 1 and id(n) not in outputs and users[0].inputs[0][1] is None else None

        def alone(n: Node) -> bool:
            return sites.get(id(n.module), 0) == 1

        relu_node: dict[int, Node] = {}  # linear node -> the ReLU node fused into it
        for n in nodes:
            user = single(n) if isinstance(n.module, Linear) and self.quantizable(n.module) and alone(n) else None
            if user is not None and type(user.module) in _RELUS and len(user.inputs) == 1 and alone(user):
                relu_node[id(n)] = user
        fused_relus = {id(r): n for n, r in ((n, relu_node.get(id(n))) for n in nodes) if r is not None}
        channels_last = self._channels_last(nodes, consumers, outputs)
        new: dict[int, Node] = {}
        for n in nodes:
            if n.module is None:
                new[id(n)] = Input(n.name)
                continue
            if id(n) in fused_relus:
                new[id(n)] = new[id(fused_relus[id(n)])]
                continue
            inputs = [(new[id(s)], i) for s, i in n.inputs]
            if not self.quantizable(n.module):
                new[id(n)] = Node(self.module(n.module), inputs, n.name)
                continue
            end = relu_node.get(id(n), n)
            user = single(end)
            chained = None
            if alone(n) and user is not None and self.quantizable(user.module) and alone(user) \
                    and len(user.inputs) == 1:
                chained = self.params[id(user.module)]
                self.fed_uint8.add(id(user.module))
            max_value = _RELUS[type(end.module)] if end is not n else False
            inside = id(n) in channels_last and alone(n)
            new[id(n)] = Node(self.layer(n.module, max_value, chained, inside), inputs, n.name)
        outs = [new[id(s)] if i is None else new[id(s)][i] for s, i in graph.outputs]
        ins = [new[id(n)] for n in nodes if n.module is None]
        return Graph(ins, outs if len(outs) > 1 else outs[0], name=graph.name)
