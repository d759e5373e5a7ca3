"""Fused steps of an inference plan (:mod:`.executor`): short chains run as one function.

Only the inference steps are fused; training runs every layer. A fusion applies when the
first layer's output has no other reader (not another step, not a graph output), and it
never copies a weight (a fused step reads the layers' own parameters on every call), so
the plan stays valid whatever happens to the weights. The chains:

- ``Sigmoid(x) -> Mul(x, .)`` (SiLU / Swish, as YOLO-style exporters write it): one
  ``x / (1 + exp(-x))`` in four passes instead of the ~ten of the sigmoid and the product;
- ``Conv2d`` (or ``Conv1d``) ``-> ReLU`` / ``ReLU6``: the convolution applies the activation as it writes its
  output (as :class:`~.layers.conv.ConvReLU2d`), with the convolution's own parameters.
"""
from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, Callable

from ..kernels.activation import silu_infer
from .layers.activation import ReLU, Sigmoid
from .layers.conv import Conv1d, Conv2d
from .layers.elementwise import Mul
from .layers.math import ReLU6

if TYPE_CHECKING:
    from .executor import Plan, Step


def fuse_steps(plan: "Plan") -> list["Step"]:
    """The plan's steps with each fusable chain (see the module docstring) replaced by one step."""
    from .executor import Step

    readers = plan.readers()
    producer = {step.out: step for step in plan.steps}
    fused_away: set[int] = set()  # slots of first links, now computed inside the fused step
    replaced: dict[int, Step] = {}  # slot of a second link -> its fused step
    for step in plan.steps:
        fused = _second_link(step, producer, readers)
        if fused is None:
            continue
        first, args, run = fused
        new = Step(step.module, step.name, args, step.out)
        new.run = run
        fused_away.add(first.out)
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
