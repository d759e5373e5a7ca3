"""The operations of a oneDNN inference plan (:mod:`.onednn_plan`) and their fusion into steps.

Operations read earlier values by index: 0 is the plan's input, ``k`` the output of operation ``k - 1``.
:func:`fuse` turns them into the primitives to run: a residual ``Add`` becomes the ``sum`` post-op of
the convolution feeding it (that convolution then runs at the add's place), and an ``Eltwise`` (ReLU,
clip, hard-swish, ...; several in a row) post-ops of the convolution, add, product or inner product before
it, wherever the value in between has no other reader.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from . import pool as pool_kernels
from .conv_geometry import ConvGeometry
from .onednn import ELTWISE, Unsupported, relu_eltwise


@dataclass(frozen=True)
class Conv:
    """A 2-D convolution of value ``src`` (arguments as :func:`.conv.conv2d_forward`); ``relu``: then
    ``max(., 0)`` (a number c: ``clip(., 0, c)``)."""
    src: int
    weight: np.ndarray
    bias: np.ndarray | None
    stride: Any
    padding: Any
    dilation: Any
    groups: int
    relu: bool | float = False


@dataclass(frozen=True)
class Pool:
    """Max or average pooling of value ``src`` (arguments as :mod:`.pool`); ``kernel_size=None``: global
    average pooling (the window is the whole image)."""
    src: int
    kind: str  # "max" or "avg"
    kernel_size: Any = None
    stride: Any = None
    padding: Any = 0
    dilation: Any = 1
    ceil_mode: bool = False
    count_include_pad: bool = True


@dataclass(frozen=True)
class Eltwise:
    """oneDNN's eltwise algorithm ``alg`` (a name of :data:`.onednn.ELTWISE`, which says what ``alpha`` and
    ``beta`` mean) applied to value ``src``."""
    src: int
    alg: str = "relu"
    alpha: float = 0.0
    beta: float = 0.0

    def __post_init__(self) -> None:
        if self.alg not in ELTWISE:
            raise ValueError(f"Eltwise: unknown algorithm {self.alg!r}; known: {sorted(ELTWISE)}")

    @classmethod
    def relu(cls, src: int, relu: bool | float = True) -> "Eltwise":
        """``max(src, 0)`` (``relu=True``) or ``clip(src, 0, relu)`` (a number)."""
        return cls(src, *relu_eltwise(relu))


@dataclass(frozen=True)
class Add:
    """``a + b``, two values of the same shape."""
    a: int
    b: int


@dataclass(frozen=True)
class Mul:
    """``a * b``: ``b`` has ``a``'s shape or is (N, C, 1, 1) of ``a`` (N, C, H, W) (a squeeze-excitation gate)."""
    a: int
    b: int


@dataclass(frozen=True)
class Upsample:
    """Nearest-neighbour upsampling of value ``src`` by whole factors: output pixel (i, j) is input pixel
    (i // factor_h, j // factor_w)."""
    src: int
    factor_h: int
    factor_w: int


@dataclass(frozen=True)
class Slice:
    """Part ``part`` of value ``src`` cut along the channels into ``sections``: sizes, or one size (chunks of it,
    the last one smaller), as a ``Split`` layer cuts."""
    src: int
    sections: int | tuple[int, ...]
    part: int

    def bounds(self, channels: int) -> tuple[int, int]:
        """The part's first channel and one past its last, for a value of ``channels`` channels."""
        if isinstance(self.sections, int):
            size = self.sections
            sizes = [size] * (channels // size) + ([channels % size] if channels % size else [])
        else:
            sizes = list(self.sections)
        if sum(sizes) != channels or not 0 <= self.part < len(sizes):
            raise Unsupported(f"part {self.part} of {channels} channels cut into {self.sections} is not planned")
        start = sum(sizes[:self.part])
        return start, start + sizes[self.part]


@dataclass(frozen=True)
class Concat:
    """The values ``srcs`` (N, C_k, H, W) joined along the channels."""
    srcs: tuple[int, ...]


@dataclass(frozen=True)
class Flatten:
    """``src`` (N, C, H, W) seen as (N, C * H * W); only a :class:`Dense` may read it (or it is the result)."""
    src: int


@dataclass(frozen=True)
class Dense:
    """``src @ weight.T + bias`` (a Linear layer) of a 2-D value or a :class:`Flatten`; ``relu`` as :class:`Conv`."""
    src: int
    weight: np.ndarray
    bias: np.ndarray | None
    relu: bool | float = False


@dataclass(frozen=True)
class PadChannels:
    """``src`` with ``before`` and ``after`` zero channels around its own (ResNet's option A shortcut). The
    padded value has a buffer of its own, zeroed once: each call writes the middle channels only."""
    src: int
    before: int
    after: int


Op = Conv | Pool | Eltwise | Add | Mul | Concat | Slice | Upsample | PadChannels | Flatten | Dense


@dataclass
class Step:
    """One primitive of the compiled plan: its kind, the values it reads and the one it writes, and the
    post-ops fused into it (``("sum", value)``, ``("eltwise", (algorithm, alpha, beta))``)."""
    kind: str
    op: Any
    inputs: list[int]
    out: int
    post: list[tuple[str, Any]]


def shape_of(op: Op, shapes: dict[int, tuple[int, ...]]) -> tuple[int, ...]:
    if isinstance(op, Conv):
        g = ConvGeometry(shapes[op.src], op.weight.shape, op.stride, op.padding, op.dilation, op.groups)
        return g.n, g.o, g.ho, g.wo
    if isinstance(op, Pool):
        x = shapes[op.src]
        if op.kernel_size is None:
            return x[0], x[1], 1, 1
        geo = pool_kernels._geometry(x, op.kernel_size, op.stride, op.padding, op.dilation, op.ceil_mode)
        return (x[0], x[1], *geo["out"])
    if isinstance(op, Flatten):
        x = shapes[op.src]
        return x[0], int(np.prod(x[1:]))
    if isinstance(op, PadChannels):
        x = shapes[op.src]
        return x[0], x[1] + op.before + op.after, *x[2:]
    if isinstance(op, Dense):
        x = shapes[op.src]
        if len(x) != 2 or x[1] != op.weight.shape[1]:
            raise Unsupported(f"a linear layer {op.weight.shape} on shape {x} is not planned")
        return x[0], op.weight.shape[0]
    if isinstance(op, Add):
        if shapes[op.a] != shapes[op.b]:
            raise Unsupported(f"an add of shapes {shapes[op.a]} and {shapes[op.b]} (broadcasting) is not planned")
        return shapes[op.a]
    if isinstance(op, Upsample):
        x = shapes[op.src]
        if len(x) != 4 or op.factor_h < 1 or op.factor_w < 1:
            raise Unsupported(f"an upsampling of shape {x} by {(op.factor_h, op.factor_w)} is not planned")
        return x[0], x[1], x[2] * op.factor_h, x[3] * op.factor_w
    if isinstance(op, Slice):
        x = shapes[op.src]
        if len(x) != 4:
            raise Unsupported(f"a channel slice of shape {x} is not planned")
        start, stop = op.bounds(x[1])
        return x[0], stop - start, *x[2:]
    if isinstance(op, Concat):
        parts = [shapes[v] for v in op.srcs]
        if any(len(s) != 4 or s[0] != parts[0][0] or s[2:] != parts[0][2:] for s in parts):
            raise Unsupported(f"a channel concatenation of shapes {parts} is not planned")
        return parts[0][0], sum(s[1] for s in parts), *parts[0][2:]
    if isinstance(op, Mul):
        a, b = sorted((shapes[op.a], shapes[op.b]), key=lambda shape: -int(np.prod(shape)))
        if len(a) != 4 or (b != a and b != (*a[:2], 1, 1)):
            raise Unsupported(f"a product of shapes {shapes[op.a]} and {shapes[op.b]} is not planned")
        return a
    return shapes[op.src]


def fuse(ops: Sequence[Op], shapes: dict[int, tuple[int, ...]]) -> tuple[list[Step], int]:
    """The steps of ``ops`` with each ``x * logistic(x)`` made one ``swish``, each ``Add`` folded into the
    convolution feeding it (``sum`` post-op) where that convolution's output has no other use, and each
    ``Eltwise`` folded into the step before it where that step's output has no other use; and the value the
    plan returns."""
    last = len(ops)
    uses: dict[int, int] = {last: 1}
    for op in ops:
        for v in inputs_of(op):
            uses[v] = uses.get(v, 0) + 1
    ops, skipped = _swish(ops, uses)
    steps: dict[int, Step] = {}  # by output value, in program order
    for k, op in enumerate(ops, start=1):
        ins = inputs_of(op)
        shapes[k] = shape_of(op, shapes)
        if k in skipped:
            continue
        if isinstance(op, Mul) and shapes[ins[0]] != shapes[k]:
            ins = ins[::-1]  # the full-size operand first: the gate broadcasts over it
        if isinstance(op, Add):
            for mine, other in ((ins[0], ins[1]), (ins[1], ins[0])):
                conv = steps.get(mine)
                if conv is not None and conv.kind == "conv" and not conv.post and uses[mine] == 1 and mine != other:
                    del steps[mine]  # runs here now: its inputs are older, its output had this one use
                    conv.post.append(("sum", other))
                    conv.inputs.append(other)
                    conv.out = k
                    steps[k] = conv
                    break
            else:
                steps[k] = Step("add", op, ins, k, [])
        elif isinstance(op, Eltwise):
            prev = steps.get(ins[0])
            if prev is not None and prev.kind in ("conv", "add", "mul", "dense") and uses[ins[0]] == 1:
                del steps[ins[0]]  # nothing else reads the value it wrote
                prev.post.append(("eltwise", (op.alg, op.alpha, op.beta)))
                prev.out = k
                steps[k] = prev
            else:
                steps[k] = Step("eltwise", op, ins, k, [])
        else:
            post = ([("eltwise", relu_eltwise(op.relu))] if isinstance(op, (Conv, Dense)) and op.relu is not False
                    else [])
            kind = {Conv: "conv", Pool: "pool", Flatten: "flatten", Dense: "dense", PadChannels: "pad",
                    Mul: "mul", Concat: "concat", Upsample: "upsample", Slice: "slice"}[type(op)]
            steps[k] = Step(kind, op, ins, k, post)
    return list(steps.values()), last


def _swish(ops: Sequence[Op], uses: dict[int, int]) -> tuple[list[Op], set[int]]:
    """``ops`` with each ``Mul(x, logistic(x))`` (SiLU as exporters write it) made one ``swish`` eltwise of x
    where nothing else reads the logistic, and the values of those logistics (their ops are not run); ``uses``
    is updated."""
    ops = list(ops)
    skipped: set[int] = set()
    for k, op in enumerate(ops, start=1):
        if not isinstance(op, Mul):
            continue
        for x, gate in ((op.a, op.b), (op.b, op.a)):
            g = ops[gate - 1] if gate > 0 else None
            if (isinstance(g, Eltwise) and g.alg == "logistic" and g.src == x and uses.get(gate) == 1
                    and gate not in skipped):
                ops[k - 1] = Eltwise(x, "swish", 1.0)
                skipped.add(gate)
                uses[x] -= 1
                del uses[gate]
                break
    return ops, skipped


def inputs_of(op: Op) -> list[int]:
    if isinstance(op, Concat):
        return list(op.srcs)
    return [op.a, op.b] if isinstance(op, (Add, Mul)) else [op.src]


