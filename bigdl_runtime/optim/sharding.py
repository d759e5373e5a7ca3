"""An optimizer applied to one slice of a model's flat parameter vector (BigDL's ``AllReduceParameter``).

In the gang mode of the distributed trainer the flat weight vector
(:meth:`~bigdl_runtime.nn.module.Module.flatten_parameters`) is cut into ``N``
contiguous slices; task ``j`` receives the summed gradient of slice ``j``,
applies the optimizer to weight slice ``j`` and publishes it. Its optimizer
state is sharded the same way, so no task holds more than ``1/N`` of it.

This is exact because the update rules of this package are element-wise: a
parameter's update reads only that parameter's elements and its own state
arrays (regularizers and ``clip_value`` too). A slice may cut a parameter in
two; the part of parameter ``i`` that falls in ``[lo, hi)`` is a *piece*, a
:class:`~bigdl_runtime.nn.module.Parameter` viewing the flat vectors, and the
shard's optimizer (a copy of the original's hyper-parameters, schedule and
counters) updates its pieces as if they were parameters. Gradient-norm
clipping is the one global quantity: :meth:`OptimizerShard.step` takes the
function that sums the squared norms of every slice.

The shards' ``state_dict()`` entries are keyed by piece; :meth:`ShardLayout.merge`
puts them back together into the whole optimizer's ``state_dict()``, which
loads into the original optimizer (or a checkpoint) like any other.

Examples:
    >>> layout = ShardLayout.of(model, optimizer)          # on the driver, after flatten_parameters()
    >>> shard = layout.shard(lo, hi, flat_w, grad_slice)   # in task j
    >>> shard.load_state_dict(optimizer.state_dict())      # start where the optimizer is
    >>> shard.step()                                       # after grad_slice holds the summed gradient
    >>> optimizer.load_state_dict(layout.merge([s0.state_dict(), s1.state_dict()]))
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from ..nn.module import Module, Parameter
from .optimizer import Optimizer

_PIECE = "piece."
#: A shard updates its slice in pieces of at most this many elements (256 KB of float32), each one finished
#: before the next is read: the summed gradient, the weights and the optimizer state of a piece stay in
#: cache across the update's passes (an 11M-parameter MLP's 22 MB slice, sum of two ranks' gradients and
#: an SGD-momentum update, two processes at once: 1 MB pieces 4.6 ms; 256 KB pieces into one reused gradient
#: buffer and the optimizer's shared scratch, 3.4 ms; smaller pieces cost more in per-piece Python work).
PIECE_ELEMENTS = 1 << 16


@dataclass(frozen=True)
class Piece:
    """The part of optimizer parameter ``index`` that lies in a shard: flat elements ``[lo, hi)``."""

    index: int
    start: int   # first element of the piece inside the (flattened) parameter
    lo: int
    hi: int


@dataclass(frozen=True)
class ShardLayout:
    """Where each of an optimizer's parameters lies in the model's flat vector, and how to rebuild it.

    Attributes:
        shell: a copy of the optimizer without parameters or per-parameter state
            (hyper-parameters, schedule, counters): small enough to ship to tasks.
        offsets: per optimizer parameter, its first element in the flat vector,
            or None when it is not in it (frozen).
        shapes: per optimizer parameter, its shape.
        regularizers: per optimizer parameter, its regularizer (or None).
    """

    shell: Optimizer
    offsets: tuple[int | None, ...]
    shapes: tuple[tuple[int, ...], ...]
    regularizers: tuple[Any, ...]

    @classmethod
    def of(cls, model: Module, optimizer: Optimizer) -> "ShardLayout":
        """The layout of ``optimizer``'s parameters in ``model.flatten_parameters()`` order."""
        offsets: dict[int, int] = {}
        offset = 0
        for p in model.parameters(trainable_only=True):
            offsets[id(p)] = offset
            offset += p.data.size
        shell = copy.copy(optimizer)
        shell.params, shell.state, shell._scratch = [], [], {}
        return cls(copy.deepcopy(shell), tuple(offsets.get(id(p)) for p in optimizer.params),
                   tuple(tuple(p.shape) for p in optimizer.params), tuple(p.regularizer for p in optimizer.params))

    def pieces(self, lo: int, hi: int, max_elements: int | None = None) -> list[Piece]:
        """The pieces of the parameters that fall in flat elements ``[lo, hi)``.

        ``max_elements``: cut larger pieces into runs of at most this many elements.
        """
        found = []
        for i, (offset, shape) in enumerate(zip(self.offsets, self.shapes)):
            if offset is None:
                continue
            a, b = max(lo, offset), min(hi, offset + math.prod(shape))
            step = max_elements or max(b - a, 1)
            for start in range(a, b, step):
                found.append(Piece(i, start - offset, start, min(start + step, b)))
        return found

    def shard(self, lo: int, hi: int, weights: np.ndarray, grad: np.ndarray) -> "OptimizerShard":
        """The optimizer for flat elements ``[lo, hi)``.

        Args:
            weights: the whole flat weight vector (the shard updates ``weights[lo:hi]`` in place).
            grad: the summed gradient of the slice, ``hi - lo`` elements, filled before each ``step()``.
        """
        if grad.shape != (hi - lo,):
            raise ValueError(f"ShardLayout.shard: the gradient slice has shape {grad.shape}, expected ({hi - lo},)")
        return OptimizerShard(self, self.pieces(lo, hi, PIECE_ELEMENTS), weights, grad, lo)

    def merge(self, states: Sequence[dict[str, Any]]) -> dict[str, Any]:
        """The whole optimizer's ``state_dict()`` from every shard's ``OptimizerShard.state_dict()``."""
        return merge_shard_states(states, self.shapes, tuple(self.shell._counters))

    def describe(self) -> dict[str, Any]:
        """What :func:`merge_shard_states` needs besides the shards (stored in a sharded checkpoint)."""
        return {"shapes": [list(shape) for shape in self.shapes], "counters": list(self.shell._counters)}


def merge_shard_states(states: Sequence[dict[str, Any]], shapes: Sequence[tuple[int, ...]],
                       counters: Sequence[str]) -> dict[str, Any]:
    """A whole optimizer's ``state_dict()`` from its shards' (``OptimizerShard.state_dict()``).

    Args:
        shapes: the shape of each of the optimizer's parameters.
        counters: per-parameter state entries that are counters, the same in every piece.
    """
    if not states:
        raise ValueError("merge_shard_states: no shard states")
    merged = {k: v for k, v in states[0].items() if not k.startswith(_PIECE)}
    merged["num_params"] = len(shapes)
    for state in states:
        for key, value in state.items():
            if not key.startswith(_PIECE):
                continue
            index, start, field = key[len(_PIECE):].split(".", 2)
            i, start = int(index), int(start)
            target = f"state.{i}.{field}"
            if field in counters:
                merged[target] = value
                continue
            value = np.asarray(value)
            whole = merged.get(target)
            if whole is None:
                whole = merged[target] = np.zeros(shapes[i], dtype=value.dtype)
            whole.reshape(-1)[start:start + value.size] = value.ravel()
    return merged


class OptimizerShard:
    """The optimizer of one slice: a copy of the original whose parameters are the slice's pieces."""

    def __init__(self, layout: ShardLayout, pieces: list[Piece], weights: np.ndarray, grad: np.ndarray,
                 lo: int) -> None:
        self.layout = layout
        self.pieces = pieces
        self.optimizer = copy.deepcopy(layout.shell)
        params = []
        for piece in pieces:
            p = Parameter(weights[piece.lo:piece.hi])
            p.grad = grad[piece.lo - lo:piece.hi - lo]
            p.regularizer = layout.regularizers[piece.index]
            params.append(p)
        self.optimizer.params = params
        self.optimizer.state = [{} for _ in params]
        #: the pieces' views of the gradient slice (each piece's ``grad`` outside a piecewise ``step``)
        self._grad_views = [p.grad for p in params]
        #: where a piecewise ``step`` sums each piece's gradient (one piece's worth, reused: it stays in cache)
        self._piece_grad = np.empty(max((p.hi - p.lo for p in pieces), default=0), np.float32)

    @property
    def current_lr(self) -> float:
        return self.optimizer.current_lr

    def step(self, sum_across: Callable[[float], float] | None = None,
             fill: Callable[[int, int, np.ndarray], None] | None = None) -> None:
        """Update the slice from its summed gradient.

        ``sum_across`` sums a number over all shards (needed only with
        ``clip_norm``: the global norm covers every slice); None for a lone shard.
        ``fill(lo, hi, dest)``, when given, writes the summed gradient of flat
        elements ``[lo, hi)`` into ``dest``; it is called piece by piece, each
        piece's just before its update, into one buffer reused for every piece
        (with ``clip_norm``, all of them first, into the gradient slice). Without
        ``fill`` the gradient slice must hold the sum.
        """
        def norm(grads: Sequence[np.ndarray]) -> float:
            squares = sum(float(np.vdot(g, g)) for g in grads)
            return math.sqrt(sum_across(squares) if sum_across is not None else squares)

        pieces, params = self.pieces, self.optimizer.params
        if fill is None:
            before = None
        elif self.optimizer.clip_norm is not None:   # every piece is read after all are summed
            def before(j: int) -> None:
                fill(pieces[j].lo, pieces[j].hi, params[j].grad)
        else:
            def before(j: int) -> None:
                p = params[j]
                p.grad = self._piece_grad[:p.data.size]
                fill(pieces[j].lo, pieces[j].hi, p.grad)
        try:
            self.optimizer.step(norm=norm, before=before)
        finally:
            for p, view in zip(params, self._grad_views):
                p.grad = view

    def epoch_end(self, epoch: int, metric: float | None = None) -> None:
        self.optimizer.epoch_end(epoch, metric)

    def state_dict(self) -> dict[str, Any]:
        """Hyper-parameters and counters as the optimizer's, per-piece state under ``piece.<index>.<start>.<key>``."""
        state = self.optimizer.state_dict()
        result = {k: v for k, v in state.items() if not k.startswith("state.")}
        for key, value in state.items():
            if key.startswith("state."):
                _, j, field = key.split(".", 2)
                piece = self.pieces[int(j)]
                result[f"{_PIECE}{piece.index}.{piece.start}.{field}"] = value
        return result

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Take this shard's part of a whole optimizer's ``state_dict()`` (same type and parameters)."""
        counters = set(self.optimizer._counters)
        own = {k: v for k, v in state.items() if not k.startswith("state.")}
        own["num_params"] = len(self.pieces)
        by_index: dict[int, list[int]] = {}
        for j, piece in enumerate(self.pieces):
            by_index.setdefault(piece.index, []).append(j)
        for key, value in state.items():
            if not key.startswith("state."):
                continue
            _, index, field = key.split(".", 2)
            for j in by_index.get(int(index), ()):
                piece = self.pieces[j]
                own[f"state.{j}.{field}"] = value if field in counters else \
                    np.asarray(value).reshape(-1)[piece.start:piece.start + piece.hi - piece.lo]
        self.optimizer.load_state_dict(own)
