"""The execution plan of a Graph: made once when the graph is built, run on every call.

Every value of the graph has a slot in a list (inputs first, then one per layer node in
topological order); each step names its layer, the slots (and output indices) of its
arguments, its own slot and the slots whose last reader it is, which are emptied right
after it runs, so no activation outlives its last use. Two ways to run it:

- :meth:`Plan.forward_pass`: with contexts, for training (``Graph.forward_pass``);
- :meth:`Plan.infer`: without them (``Graph.infer``: evaluation-mode ``forward``, control-flow
  bodies at inference), calling each layer's ``infer`` and the fused steps of
  :mod:`.fusion`, which replace chains of parameter-free steps (so no weight is copied and
  the plan never goes stale).

Shape chains: the values an inference computes from nothing but the shapes (and dtypes) of the graph's
inputs and stored integer or boolean tensors (buffers, not parameters), through layers without
parameters (``ShapeOf`` -> ``Gather`` -> ``Concat`` -> ``Reshape``, the run-time shape arithmetic of a
model exported with a dynamic batch axis), are the same at every call with inputs of the same shapes.
:meth:`Plan.infer` computes them at the first call per input signature (shapes and dtypes) and keeps
those that later steps read (read-only: a layer that wrote into one would fail rather than change it for
later calls); further calls of that signature skip their steps. Shapes are followed through the layers
whose output shape their inputs' shapes (and fixed configuration) set, so ``ShapeOf`` of a convolution's
output counts, and stored parameters count as values of fixed shape; never through a layer whose output
shape depends on input values. Kept values are dropped by
a training-mode pass and by :meth:`Plan.clear_shape_cache` (which ``Graph.weights_changed`` calls after
``load_state_dict``), since stored tensors may change then.

Loop bodies: over the iterations of one ``Loop`` call, the steps that read only values fixed for the call
(stored tensors, the outer values, carried values passed on unchanged) give the same values every
iteration; :meth:`Plan.loop_split` and :meth:`Plan.infer_with` let the Loop layer run them once per call
(see :meth:`~bigdl_runtime.nn.layers.control_flow.Loop.infer`).
"""
from __future__ import annotations

from collections import OrderedDict
from operator import itemgetter
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

if TYPE_CHECKING:
    from .graph import Edge, Node
    from .module import Module

#: One argument: (slot, output index or None for the whole value).
Arg = tuple[int, "int | None"]
#: input signatures whose shape-chain values a plan keeps
SHAPE_SIGNATURES_KEPT = 4


class Step:
    """One layer node of the plan.

    Attributes:
        module: the layer.
        name: the node's name (for error messages).
        args: ``(slot, output index or None)`` of each argument.
        slots: the argument slots when no argument selects an output (the fast path), else None.
        out: the slot of the result.
        free: slots to empty after the step (their last reader is this step).
        run: what :meth:`Plan.infer` calls: ``module.infer``, or a fused function of the arguments.
    """

    __slots__ = ("module", "name", "args", "slots", "out", "free", "run", "one", "fetch")

    def __init__(self, module: "Module", name: str, args: tuple[Arg, ...], out: int) -> None:
        self.module = module
        self.name = name
        self.args = args
        self.slots = tuple(s for s, _ in args) if all(i is None for _, i in args) else None
        self.out = out
        self.free: tuple[int, ...] = ()
        self.run: Callable[..., Any] | None = None  # None: module.infer
        # how Plan._run reads the arguments: the slot of a single whole value (else -1), or a function of the
        # values giving the tuple of whole values (else None: some argument selects an output)
        self.one = self.slots[0] if self.slots is not None and len(self.slots) == 1 else -1
        self.fetch: Callable[[list[Any]], tuple[Any, ...]] | None = (
            None if self.slots is None or len(self.slots) == 1 else
            itemgetter(*self.slots) if self.slots else _no_arguments)


class Plan:
    """Slots and steps of a graph (see the module docstring).

    Args:
        owner: the graph's ``describe()``, for error messages.
        inputs: the graph's Input nodes, in order.
        order: its layer nodes in topological order.
        outputs: ``(node, output index or None)`` of each graph output.
    """

    def __init__(self, owner: str, inputs: Sequence["Node"], order: Sequence["Node"],
                 outputs: Sequence["Edge"]) -> None:
        self.owner = owner
        self.n_inputs = len(inputs)
        slot = {id(n): k for k, n in enumerate([*inputs, *order])}
        self.n_slots = len(slot)
        self.steps = [Step(n.module, n.name, tuple((slot[id(s)], i) for s, i in n.inputs), slot[id(n)])
                      for n in order]
        self.outputs: tuple[Arg, ...] = tuple((slot[id(s)], i) for s, i in outputs)
        self.names = [n.name for n in [*inputs, *order]]
        #: the outputs from the values when each is a whole value (one: itself; several: their tuple), else None
        self._whole_outputs: Callable[[list[Any]], Any] | None = (
            itemgetter(*(s for s, _ in self.outputs)) if self.outputs and all(i is None for _, i in self.outputs)
            else None)
        self.free_after_last_use(self.steps)
        from .fusion import fuse_steps  # the fused steps need the layer classes, which import the graph
        #: the steps :meth:`infer` runs: ``steps`` with chains of parameter-free layers fused
        self.infer_steps = fuse_steps(self)
        self.free_after_last_use(self.infer_steps)
        self._plan_shape_chains()

    def _plan_shape_chains(self) -> None:
        """Find the shape-chain steps (see the module docstring): ``shape_slots``, the values of those later
        steps or the outputs read (kept per input signature), and ``rest_steps``, what runs once they are known."""
        from .layers.graph_values import ShapeOf, TensorSource  # layer classes import the graph

        derived: set[int] = set()  # values set by the input signature
        shaped = set(range(self.n_inputs))  # values whose shape the input signature sets
        for step in self.infer_steps:
            module = step.module
            if ((isinstance(module, ShapeOf) and step.args[0][0] in shaped)
                    or (isinstance(module, TensorSource) and not module._params)
                    or (step.run is None and step.args and all(s in derived for s, _ in step.args)
                        and module.deterministic and not module._params
                        and next(module.children(), None) is None)):
                derived.add(step.out)
                shaped.add(step.out)
            elif isinstance(module, TensorSource):  # a stored parameter: its shape is fixed (its values are not)
                shaped.add(step.out)
            elif step.args and (
                    (isinstance(module, _SHAPE_BY_INPUT_SHAPES()) and all(s in shaped for s, _ in step.args))
                    or (isinstance(module, _SHAPE_BY_CONFIG()) and step.args[0][0] in shaped
                        and all(s in derived for s, _ in step.args[1:]))):
                shaped.add(step.out)
        self.rest_steps, kept = self._without(derived)
        #: slots of the shape-chain values read after the chain (empty: the plan has no shape chain)
        self.shape_slots = kept if len(self.rest_steps) < len(self.infer_steps) else ()
        self._shape_cache: OrderedDict[tuple, list[Any]] = OrderedDict()
        self._loop_splits: dict[frozenset[int], tuple[list[Step], tuple[int, ...]]] = {}

    def _without(self, known: set[int]) -> tuple[list[Step], tuple[int, ...]]:
        """The inference steps that remain when the values of slots ``known`` are given (copies, with their own
        ``free``), and the known slots they or the outputs read."""
        rest = [step for step in self.infer_steps if step.out not in known]
        read = {s for step in rest for s, _ in step.args} | {s for s, _ in self.outputs}
        copies = [Step(step.module, step.name, step.args, step.out) for step in rest]
        for new, old in zip(copies, rest):
            new.run = old.run
        self.free_after_last_use(copies)
        return copies, tuple(sorted(read & known))

    # ------------------------------------------------------------ loop bodies
    def input_dependencies(self) -> list[set[int]]:
        """For each graph output, the graph inputs its value depends on (stored tensors depend on none)."""
        from .layers.graph_values import TensorSource

        deps: dict[int, set[int]] = {k: {k} for k in range(self.n_inputs)}
        for step in self.infer_steps:
            deps[step.out] = set() if isinstance(step.module, TensorSource) else set().union(
                *(deps[s] for s, _ in step.args))
        return [deps[s] for s, _ in self.outputs]

    def invariant_slots(self, invariant: frozenset[int]) -> set[int]:
        """The step slots whose values stay the same over consecutive calls (a loop's iterations) in which the
        inputs ``invariant`` keep theirs and no weight changes: those of stored tensors and of deterministic
        layers (no sub-graphs) reading only such values."""
        from .layers.graph_values import TensorSource

        fixed, slots = set(invariant), set()
        for step in self.infer_steps:
            module = step.module
            if isinstance(module, TensorSource) or (step.args and all(s in fixed for s, _ in step.args)
                                                     and module.deterministic
                                                     and next(module.children(), None) is None):
                fixed.add(step.out)
                slots.add(step.out)
        return slots

    def loop_split(self, invariant: frozenset[int]) -> tuple[list[Step], tuple[int, ...]]:
        """The steps a call runs once the :meth:`invariant_slots` of ``invariant`` are known, and the slots of
        those it reads (made once per set of invariant inputs)."""
        if invariant not in self._loop_splits:
            self._loop_splits[invariant] = self._without(self.invariant_slots(invariant))
        return self._loop_splits[invariant]

    def infer_recording(self, inputs: tuple[Any, ...], slots: set[int]) -> tuple[Any, dict[int, Any]]:
        """:meth:`infer`'s outputs (every step run) and the values of ``slots``."""
        values = self._start(inputs)
        made: dict[int, Any] = dict.fromkeys(slots)
        self._run(self.infer_steps, values, made)
        return self._result(values), made

    def infer_with(self, inputs: tuple[Any, ...], steps: list[Step], slots: tuple[int, ...],
                   known: list[Any]) -> Any:
        """The outputs, running ``steps`` (from :meth:`loop_split`) with the values ``known`` of ``slots``."""
        values = self._start(inputs)
        for s, v in zip(slots, known):
            values[s] = v
        self._run(steps, values)
        return self._result(values)

    def clear_shape_cache(self) -> None:
        """Forget the kept shape-chain values (stored tensors may have changed)."""
        self._shape_cache.clear()

    def free_after_last_use(self, steps: list[Step]) -> None:
        """Set each step's ``free``: the slots it is the last reader of (graph outputs are kept)."""
        keep = {s for s, _ in self.outputs}
        last: dict[int, int] = {}
        for k, step in enumerate(steps):
            for s, _ in step.args:
                last[s] = k
        frees: list[list[int]] = [[] for _ in steps]
        for s, k in last.items():
            if s not in keep:
                frees[k].append(s)
        for step, free in zip(steps, frees):
            step.free = tuple(free)

    def readers(self) -> dict[int, int]:
        """How many times each slot is read (by steps, and as a graph output)."""
        count: dict[int, int] = {}
        for step in self.steps:
            for s, _ in step.args:
                count[s] = count.get(s, 0) + 1
        for s, _ in self.outputs:
            count[s] = count.get(s, 0) + 1
        return count

    # ------------------------------------------------------------------ running
    def _start(self, inputs: tuple[Any, ...]) -> list[Any]:
        if len(inputs) != self.n_inputs:
            raise ValueError(f"{self.owner}: expected {self.n_inputs} input(s) {self.names[:self.n_inputs]}, "
                             f"got {len(inputs)}")
        values: list[Any] = [None] * self.n_slots
        values[:self.n_inputs] = inputs
        return values

    def _select(self, values: list[Any], slot: int, index: int | None) -> Any:
        value = values[slot]
        if index is None:
            return value
        if not isinstance(value, (tuple, list)) or not -len(value) <= index < len(value):
            got = f"{len(value)} outputs" if isinstance(value, (tuple, list)) else "a single output"
            name = self.names[slot]
            raise ValueError(f"{self.owner}: node '{name}[{index}]' selects output {index} "
                             f"but node '{name}' produced {got}")
        return value[index]

    def _args(self, values: list[Any], step: Step) -> list[Any]:
        if step.slots is not None:
            return [values[s] for s in step.slots]
        return [self._select(values, s, i) for s, i in step.args]

    def _result(self, values: list[Any]) -> Any:
        if self._whole_outputs is not None:
            return self._whole_outputs(values)
        outs = tuple(self._select(values, s, i) for s, i in self.outputs)
        return outs[0] if len(outs) == 1 else outs

    def forward_pass(self, inputs: tuple[Any, ...]) -> tuple[Any, dict[int, Any], list[Any]]:
        """The outputs, the (shape, dtype) metadata of the inputs and of multi-output steps by slot,
        and each step's context (for :meth:`Graph.backward_pass`)."""
        self.clear_shape_cache()  # training may change stored tensors
        values = self._start(inputs)
        meta: dict[int, Any] = {k: _meta(x) for k, x in enumerate(inputs)}
        ctxs: list[Any] = []
        for step in self.steps:
            out, ctx = step.module.forward_pass(*self._args(values, step))
            ctxs.append(ctx)
            values[step.out] = out
            if isinstance(out, (tuple, list)):
                meta[step.out] = _meta(out)
            for s in step.free:
                values[s] = None
        return self._result(values), meta, ctxs

    def infer(self, inputs: tuple[Any, ...]) -> Any:
        """The outputs, with no context: each step's ``infer`` (or fused function) in order, the shape-chain
        steps only at the first call of an input signature."""
        values = self._start(inputs)
        steps = self.infer_steps
        if self.shape_slots:
            key = tuple([(x.shape, x.dtype) if type(x) is np.ndarray else (np.shape(x), getattr(x, "dtype", None))
                         for x in inputs])
            kept = self._shape_cache.get(key)
            if kept is None:
                made: dict[int, Any] = dict.fromkeys(self.shape_slots)
                self._run(self.infer_steps, values, made)
                self._shape_cache[key] = [_frozen(made[s]) for s in self.shape_slots]
                while len(self._shape_cache) > SHAPE_SIGNATURES_KEPT:
                    self._shape_cache.popitem(last=False)
                return self._result(values)
            for s, v in zip(self.shape_slots, kept):
                values[s] = v
            steps = self.rest_steps
        self._run(steps, values)
        return self._result(values)

    def _run(self, steps: list[Step], values: list[Any], made: dict[int, Any] | None = None) -> None:
        """Run ``steps`` on ``values``, emptying each slot after its last reader; the values of the slots of
        ``made`` are also stored there. (The per-step work is kept to a few attribute reads: on a small
        graph the loop was a tenth of the call.)"""
        for step in steps:
            run = step.run
            if step.one >= 0:
                x = values[step.one]
                out = step.module.infer(x) if run is None else run(x)
            else:
                args = step.fetch(values) if step.fetch is not None else self._args(values, step)
                out = step.module.infer(*args) if run is None else run(*args)
            values[step.out] = out
            if made is not None and step.out in made:
                made[step.out] = out
            for s in step.free:
                values[s] = None


def _no_arguments(values: list[Any]) -> tuple[()]:
    return ()


def _SHAPE_BY_INPUT_SHAPES() -> tuple[type, ...]:  # noqa: N802 (a constant, imported late: layers import the graph)
    """Layer classes whose output shape is set by their inputs' shapes alone (elementwise and broadcasting ones:
    activations, arithmetic, powers, comparisons and logic, Where; Concat, Gather)."""
    from .layers.activation import _Activation
    from .layers.elementwise import _Merge
    from .layers.index import Gather
    from .layers.math import Clip, Pow, Where, _Boolean, _NAry
    from .layers.matmul import MatMul
    from .layers.scatter import ScatterElements
    from .layers.shape import Concat

    return _Activation, _Merge, Clip, _NAry, Pow, _Boolean, Where, MatMul, ScatterElements, Concat, Gather


def _SHAPE_BY_CONFIG() -> tuple[type, ...]:  # noqa: N802
    """Layer classes whose output shape is set by their first input's shape, their fixed configuration and the
    values of their other inputs (convolutions, products by a weight, poolings, reductions, reshapes, slices,
    splits; the fused runs of convolutions of :mod:`.blocked_segment`)."""
    from .blocked_segment import BlockedSegment
    from .layers.conv import _ConvNd
    from .layers.graph_values import ReshapeTo
    from .layers.index import Slice, Squeeze, Unsqueeze
    from .layers.linear import Linear
    from .layers.pad import Pad
    from .layers.pool import _Pool
    from .layers.reduce import _Reduce
    from .layers.runtime_values import Cast
    from .layers.shape import Flatten, Reshape, Split, Transpose

    return (_ConvNd, Linear, _Pool, _Reduce, Cast, Squeeze, Unsqueeze, Slice, Pad, Flatten, Reshape, ReshapeTo,
            Transpose, Split, BlockedSegment)


def _frozen(value: Any) -> Any:
    """``value`` made read-only (an array, or the arrays of a tuple of outputs), to be kept between calls."""
    if isinstance(value, np.ndarray):
        value = value.view()
        value.flags.writeable = False
    elif isinstance(value, (tuple, list)):
        value = type(value)(_frozen(v) for v in value)
    return value


def _meta(value: Any) -> Any:
    """(shape, dtype) of an array, or a list of those for a tuple of outputs."""
    if isinstance(value, (tuple, list)):
        return [_meta(v) for v in value]
    value = np.asarray(value)
    return value.shape, value.dtype
