"""BlockedSegment: a sub-graph of convolutions, poolings, residual adds, activations (ReLU, clip, leaky ReLU,
hard-swish, hard-sigmoid, sigmoid, tanh, ``x * a + b``), per-channel gates (squeeze-excitation products), channel
concatenations, nearest upsampling and the
classifier head (flatten, dropout, linear layers) that evaluation-mode
float32 forwards run as one oneDNN inference plan (:mod:`bigdl_runtime.kernels.onednn_plan`), its
activations kept in oneDNN's blocked layouts from the segment's input to its output.

:func:`~bigdl_runtime.nn.fuse.fuse_for_inference` wraps the longest such runs of a fused model in
segments. A segment holds its layers as an ordinary :class:`~.graph.Graph` (``body``): the model saves,
loads and exports as before (the body is saved as a child and exported inline), and everything but an
evaluation-mode float32 forward (training, float64, no oneDNN, a shape oneDNN rejects) runs the body layer by
layer, the reference the plan is tested against.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Any, Callable, Sequence

import numpy as np

from ..kernels import onednn_plan as plan_ops
from ..kernels.onednn import Unsupported
from .graph import Graph, Node
from .layers.activation import Hardsigmoid, Hardswish, LeakyReLU, ReLU, Sigmoid, Tanh
from .layers.affine import Power
from .layers.conv import Conv2d, ConvReLU2d
from .layers.dropout import Dropout
from .layers.elementwise import Add, Mul
from .layers.linear import Linear
from .layers.math import Clip, ReLU6
from .layers.pad import Pad
from .layers.pool import AvgPool2d, GlobalAvgPool2d, MaxPool2d
from .layers.resize import Upsample
from .layers.shape import Concat, Flatten, Split
from .module import Module


def _conv(layer: Conv2d, src: list[int]) -> plan_ops.Op:
    config = layer._kernel_config()
    return plan_ops.Conv(src[0], layer.weight.data, None if layer.bias is None else layer.bias.data,
                         config["stride"], config["padding"], config["dilation"], config["groups"],
                         config.get("relu", False))


def _pool(kind: str) -> Callable[[Module, list[int]], plan_ops.Op]:
    def make(layer: Module, src: list[int]) -> plan_ops.Op:
        if isinstance(layer, GlobalAvgPool2d):
            return plan_ops.Pool(src[0], "avg")
        config = layer.get_config()
        return plan_ops.Pool(src[0], kind, config["kernel_size"], config["stride"], config["padding"],
                             config.get("dilation", 1), config["ceil_mode"], config.get("count_include_pad", True))
    return make


_BIG = float(np.finfo(np.float32).max)  # an open end of a clip

#: layer class (exactly) -> its plan operation from the layer and the values it reads (None: the layer is
#: the identity in evaluation mode, the only mode plans run in)
TRANSLATORS: dict[type, Callable[[Any, list[int]], plan_ops.Op | None]] = {
    Conv2d: _conv,
    ConvReLU2d: _conv,
    ReLU: lambda layer, src: plan_ops.Eltwise.relu(src[0], True),
    ReLU6: lambda layer, src: plan_ops.Eltwise.relu(src[0], 6.0),
    Clip: lambda layer, src: plan_ops.Eltwise(src[0], "clip", -_BIG if layer.min is None else layer.min,
                                              _BIG if layer.max is None else layer.max),
    LeakyReLU: lambda layer, src: plan_ops.Eltwise(src[0], "relu", layer.negative_slope),
    Hardswish: lambda layer, src: plan_ops.Eltwise(src[0], "hardswish", 1.0 / 6.0, 0.5),
    Hardsigmoid: lambda layer, src: plan_ops.Eltwise(src[0], "hardsigmoid", layer.alpha, layer.beta),
    Sigmoid: lambda layer, src: plan_ops.Eltwise(src[0], "logistic"),
    Tanh: lambda layer, src: plan_ops.Eltwise(src[0], "tanh"),
    Power: lambda layer, src: plan_ops.Eltwise(src[0], "linear", layer.scale, layer.shift),
    Mul: lambda layer, src: plan_ops.Mul(src[0], src[1]),
    Concat: lambda layer, src: plan_ops.Concat(tuple(src)),
    Upsample: lambda layer, src: plan_ops.Upsample(src[0], *(int(f) for f in _factors(layer))),
    MaxPool2d: _pool("max"),
    AvgPool2d: _pool("avg"),
    GlobalAvgPool2d: _pool("avg"),
    Add: lambda layer, src: plan_ops.Add(src[0], src[1]),
    Flatten: lambda layer, src: plan_ops.Flatten(src[0]),
    Linear: lambda layer, src: plan_ops.Dense(src[0], layer.weight.data,
                                              None if layer.bias is None else layer.bias.data),
    Dropout: lambda layer, src: None,
    Pad: lambda layer, src: plan_ops.PadChannels(src[0], layer.pads[1], layer.pads[5]),
}


def _factors(layer: Upsample) -> tuple[float, float]:
    """The (height, width) scale factors of an Upsample given them (its size is None)."""
    scale = layer.scale_factor
    return (float(scale), float(scale)) if isinstance(scale, (int, float)) else (float(scale[0]), float(scale[-1]))


def _channel_padding(layer: Pad) -> bool:
    """Whether ``layer`` zero-pads the channel axis of an NCHW value and nothing else."""
    pads = layer.pads
    return (layer.mode == "constant" and layer.value == 0.0 and layer.axes is None and pads is not None
            and len(pads) == 8 and min(pads) >= 0 and not any(pads[k] for k in (0, 2, 3, 4, 6, 7)))


def plannable_layer(layer: Module, inputs: int = 1) -> bool:
    """Whether a plan runs ``layer`` applied to ``inputs`` whole values (an ``Add`` or ``Mul`` of exactly two,
    a ``Concat`` of channels (``dim=1``), a nearest ``Upsample`` by powers of two, a ``Flatten`` from axis 1,
    a ``Pad`` of zero channels, a ``Power`` of exponent 1, a ``Clip`` with ``min <= max``)."""
    if type(layer) not in TRANSLATORS or (isinstance(layer, Flatten) and layer.start_dim != 1):
        return False
    if isinstance(layer, Pad) and not _channel_padding(layer):
        return False
    if isinstance(layer, Power) and layer.power != 1.0:
        return False
    if isinstance(layer, Clip) and None not in (layer.min, layer.max) and layer.min > layer.max:
        return False
    if type(layer) is Concat:
        return layer.dim == 1 and inputs >= 1
    if type(layer) is Upsample:  # whole powers of two: the layer's float32 source index floor(i * (1 / f)) is i // f
        return (layer.mode == "nearest" and layer.size is None and inputs == 1
                and all(f in (1.0, 2.0, 4.0, 8.0, 16.0) for f in _factors(layer)))
    return inputs == (2 if type(layer) in (Add, Mul) else 1)


#: layers that make a run worth a plan (a run of linear layers and activations alone stays layer by layer)
ANCHORS = (Conv2d, ConvReLU2d, MaxPool2d, AvgPool2d, GlobalAvgPool2d)


def _channel_split(node: Node) -> bool:
    """Whether ``node`` is a ``Split`` of one whole value along the channels (a plan reads its parts)."""
    return (type(node.module) is Split and node.module.dim == 1 and len(node.inputs) == 1
            and node.inputs[0][1] is None)


def plannable(node: Node) -> bool:
    """Whether a graph node can be part of a segment: a :func:`plannable_layer` reading whole values or parts of
    a channel ``Split``, or such a split."""
    if node.module is None:
        return False
    if _channel_split(node):
        return True
    return (all(i is None or _channel_split(s) for s, i in node.inputs)
            and plannable_layer(node.module, len(node.inputs)))


class BlockedSegment(Module):
    """Run ``body`` (a one-input, one-output Graph of the layers of :data:`TRANSLATORS`: convolutions, poolings,
    two-input adds and products, activations, channel zero-padding, Flatten, Dropout and Linear layers) as one
    oneDNN inference plan in evaluation mode on float32 inputs.

    A plan is compiled per input shape on first use (the last :attr:`PLANS_KEPT` shapes are kept); it
    copies the weights then, so a segment does not see later changes to them: fuse the model again
    after changing its weights. A training-mode forward runs the body and drops the plans (a model
    fine-tuned in place gets plans of its new weights in its next evaluation). ``backward`` after an
    evaluation-mode forward recomputes the body's forward (the plan keeps no activations).

    Args:
        body: the layers, as a Graph from one input to one output.
        name: the segment's name.

    Examples:
        >>> fused = fuse_for_inference(resnet18())
        >>> [type(m).__name__ for m in fused.children()]
        ['BlockedSegment']
    """

    stores_children = True
    #: compiled plans kept per segment (one per input shape)
    PLANS_KEPT = 4

    def __init__(self, body: Graph, name: str | None = None) -> None:
        super().__init__(name=name)
        if len(body.input_names) != 1 or len(body.output_names) != 1:
            raise ValueError(f"BlockedSegment: the body must have one input and one output, got "
                             f"{body.input_names} -> {body.output_names}")
        for node in body.nodes[1:]:
            if not plannable(node):
                raise ValueError(f"BlockedSegment: node '{node.name}' ({node.module.describe()}) cannot run in a "
                                 f"plan; supported layers: {sorted(c.__name__ for c in TRANSLATORS)}")
        self.body = body
        object.__setattr__(self, "_plans", OrderedDict())  # input shape -> Plan, or None when oneDNN said no

    @classmethod
    def from_children(cls, children: Sequence[Module], config: dict[str, Any], name: str | None) -> "BlockedSegment":
        """Rebuild from the saved body (the model loader's hook for layers that store children)."""
        return cls(children[0], name=name)

    def __getstate__(self) -> dict[str, Any]:
        """Copies and pickles leave the compiled plans behind (they hold library handles of this process)."""
        return {**self.__dict__, "_plans": OrderedDict()}

    def operations(self) -> list[plan_ops.Op]:
        """The body as plan operations (value 0 is the input, value k the output of operation k - 1)."""
        index: dict[tuple[int, int | None], int] = {(id(self.body.nodes[0]), None): 0}
        ops: list[plan_ops.Op] = []
        for node in self.body.nodes[1:]:
            if _channel_split(node):
                continue  # each part is sliced out where it is first read
            src = []
            for s, i in node.inputs:
                if (id(s), i) not in index:  # a part of a split
                    sections = s.module.split_size_or_sections
                    ops.append(plan_ops.Slice(index[(id(s.inputs[0][0]), None)],
                                              sections if isinstance(sections, int) else tuple(sections), i))
                    index[(id(s), i)] = len(ops)
                src.append(index[(id(s), i)])
            op = TRANSLATORS[type(node.module)](node.module, src)
            if op is None:  # an identity: the node's value is its input's
                index[(id(node), None)] = src[0]
                continue
            ops.append(op)
            index[(id(node), None)] = len(ops)
        return ops

    def _plan(self, x: np.ndarray) -> plan_ops.Plan | None:
        plans = self._plans
        if x.shape in plans:
            plan = plans[x.shape]
            if plan is None or plan.valid():
                plans.move_to_end(x.shape)
                return plan
            del plans[x.shape]  # compiled before this process was forked: compile again
        if x.dtype != np.float32 or any(p.data.dtype != np.float32 for p in self.parameters()):
            return None
        try:
            plan = plan_ops.Plan(self.operations(), x.shape)
        except Unsupported:
            plan = None
        plans[x.shape] = plan
        if len(plans) > self.PLANS_KEPT:
            plans.popitem(last=False)
        return plan

    def forward_pass(self, x: np.ndarray) -> tuple[np.ndarray, Any]:
        x = np.asarray(x)
        if self.training:
            self._plans.clear()
        elif x.ndim == 4 and x.dtype == np.float32:
            plan = self._plan(x)
            if plan is not None:
                return plan.run(x), ("plan", x)
        y, ctx = self.body.forward_pass(x)
        return y, ("body", ctx)

    def backward_pass(self, grad_output: np.ndarray, ctx: Any) -> np.ndarray:
        kind, saved = ctx
        if kind == "plan":
            _, saved = self.body.forward_pass(saved)
        return self.body.backward_pass(grad_output, saved)
