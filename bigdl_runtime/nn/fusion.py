"""Fused steps of an inference plan (:mod:`.executor`): short chains run as one function.

Only the inference steps are fused; training runs every layer. A fusion applies when the
first layer's output has no other reader (not another step, not a graph output), and it
never copies a weight (a fused step reads the layers' own parameters on every call), so
the plan stays valid whatever happens to the weights. The chains:

- ``Sigmoid(x) -> Mul(x, .)`` (SiLU / Swish, as YOLO-style exporters write it): one
  ``x / (1 + exp(-x))`` in four passes instead of the ~ten of the sigmoid and the product;
- ``Conv2d`` (or ``Conv1d``) ``-> ReLU`` / ``ReLU6``: the convolution applies the activation as it writes its
  output (as :class:`~.layers.conv.ConvReLU2d`), with the convolution's own parameters;
- layer normalisation spelled out (as PyTorch exports ``LayerNorm`` below opset 17): ``ReduceMean`` over the
  last axis, ``Sub``, ``Pow`` 2, ``ReduceMean``, ``Add`` of a stored epsilon, ``Sqrt``, ``Div``, ``Mul`` by a
  stored scale and ``Add`` of a stored shift: nine steps (and three stored-tensor steps) as one function
  (:func:`~bigdl_runtime.kernels.norm.layer_norm_last_axis`), reading the stored tensors at every call.
"""
from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from ..kernels.activation import silu_infer
from ..kernels.norm import layer_norm_last_axis
from .layers.activation import ReLU, Sigmoid
from .layers.conv import Conv1d, Conv2d
from .layers.elementwise import Add, Div, Mul, Sub
from .layers.graph_values import TensorSource
from .layers.math import Pow, ReLU6, Sqrt
from .layers.reduce import ReduceMean

if TYPE_CHECKING:
    from .executor import Plan, Step


def fuse_steps(plan: "Plan") -> list["Step"]:
    """The plan's steps with each fusable chain (see the module docstring) replaced by one step."""
    from .executor import Step

    readers = plan.readers()
    producer = {step.out: step for step in plan.steps}
    fused_away: set[int] = set()  # slots of earlier links, now computed inside the fused step
    replaced: dict[int, Step] = {}  # slot of a chain's last link -> its fused step
    for step in plan.steps:
        if step.out in fused_away:
            continue
        fused = _second_link(step, producer, readers)
        if fused is not None:
            first, args, run = fused
            links = [first]
        else:
            norm = _layer_norm(step, producer, readers)
            if norm is None:
                continue
            links, args, run = norm
        new = Step(step.module, step.name, args, step.out)
        new.run = run
        fused_away.update(link.out for link in links)
        replaced[step.out] = new
    return [replaced.get(step.out, step) for step in plan.steps if step.out not in fused_away]


def _second_link(step: "Step", producer: dict[int, "Step"], readers: dict[int, int]
                 ) -> tuple["Step", tuple, Callable[..., Any]] | None:
    """``(first step, arguments of the fused step, its function)`` when ``step`` ends a chain."""
    if any(i is not None for _, i in step.args):
        return None
    module = step.module
    if type(module) is Mul and len(step.args) == 2:  # x * sigmoid(x), either order
        for k in (0, 1):
            first = producer.get(step.args[k][0])
            other = step.args[1 - k]
            if (first is not None and type(first.module) is Sigmoid and readers.get(first.out) == 1
                    and first.args == (other,)):
                return first, first.args, silu_infer
        return None
    if type(module) in (ReLU, ReLU6) and len(step.args) == 1:
        first = producer.get(step.args[0][0])
        if first is not None and type(first.module) in (Conv1d, Conv2d) and readers.get(first.out) == 1:
            return first, first.args, _conv_relu(first.module, True if type(module) is ReLU else 6.0)
    return None


def _conv_relu(conv: Conv1d | Conv2d, relu: bool | float) -> Callable[[Any], Any]:
    """``conv`` then max(., 0) (clipped at ``relu`` when a number) in the convolution's own pass, reading
    ``conv``'s parameters at every call (as :class:`~.layers.conv.ConvReLU2d` does)."""
    return functools.partial(conv.infer_with_relu, relu=relu)


def _layer_norm(step: "Step", producer: dict[int, "Step"], readers: dict[int, int]
                ) -> tuple[list["Step"], tuple, Callable[..., Any]] | None:
    """``(earlier links, arguments (x), function)`` when ``step`` is the shift ``Add`` of a spelled-out layer
    normalisation over the last axis (see the module docstring) whose intermediate values nothing else reads."""
    def link(slot: int, kind: type, uses: int = 1) -> "Step | None":
        found = producer.get(slot)
        if found is None or type(found.module) is not kind or readers.get(slot) != uses or found.run is not None \
                or any(i is not None for _, i in found.args):
            return None
        return found

    sources: list["Step"] = []  # the stored tensors' steps that only this chain reads (fused away with it)

    def stored(slot: int) -> TensorSource | None:
        found = producer.get(slot)
        if found is None or type(found.module) is not TensorSource:
            return None
        if readers.get(slot) == 1:
            sources.append(found)
        return found.module

    if type(step.module) is not Add or len(step.args) != 2 or any(i is not None for _, i in step.args):
        return None
    scaled, beta = link(step.args[0][0], Mul), stored(step.args[1][0])
    normed = None if scaled is None or len(scaled.args) != 2 else link(scaled.args[0][0], Div)
    gamma = None if scaled is None or len(scaled.args) != 2 else stored(scaled.args[1][0])
    if normed is None or beta is None or gamma is None or len(normed.args) != 2:
        return None
    centred, std = link(normed.args[0][0], Sub, 2), link(normed.args[1][0], Sqrt)
    shifted = None if std is None else link(std.args[0][0], Add)
    if centred is None or shifted is None or len(shifted.args) != 2 or len(centred.args) != 2:
        return None
    variance, eps = link(shifted.args[0][0], ReduceMean), stored(shifted.args[1][0])
    squared = None if variance is None else link(variance.args[0][0], Pow)
    mean = link(centred.args[1][0], ReduceMean)
    if (variance is None or eps is None or squared is None or mean is None or squared.module.exponent != 2.0
            or squared.args[0][0] != centred.out or mean.args[0][0] != centred.args[0][0]):
        return None
    for reduce in (mean.module, variance.module):
        if not reduce.keepdim or reduce.dim not in (-1, [-1]):
            return None
    links = [mean, centred, squared, variance, shifted, std, normed, scaled, *sources]
    return links, (centred.args[0],), functools.partial(_layer_norm_infer, eps=eps, gamma=gamma, beta=beta)


def _layer_norm_infer(x: np.ndarray, eps: TensorSource, gamma: TensorSource, beta: TensorSource) -> np.ndarray:
    """The fused layer normalisation's output, reading the stored tensors at every call."""
    if not isinstance(x, np.ndarray) or x.dtype.kind != "f" or x.ndim == 0:
        raise ValueError(f"layer normalisation of a {type(x).__name__} {getattr(x, 'dtype', '')}: a floating array of "
                         "at least one axis is needed")
    return layer_norm_last_axis(x, eps._array(), gamma._array(), beta._array())
