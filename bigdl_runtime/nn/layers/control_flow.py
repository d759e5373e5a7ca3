"""Control flow over sub-graphs: IfElse, Loop and Scan (ONNX If, Loop, Scan).

Each holds its branches or body as child :class:`~bigdl_runtime.nn.Graph` modules,
so their weights are parameters of the whole model and are saved with it. Values a
body reads from the enclosing graph come in as extra inputs after the operator's own.
Gradients flow through the data path: IfElse through the branch that ran, Loop and
Scan through every iteration (the context of each iteration's call of the body is
kept until the backward step); conditions, counters and other integer values get ``None``.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..graph import Graph
from ..module import Module


def _same(a: Any, b: Any) -> bool:
    """Whether two values are equal arrays (same shape, dtype and values; NaN never equals)."""
    return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape == b.shape and a.dtype == b.dtype
            and bool(np.array_equal(a, b)))


def _as_tuple(y: Any) -> tuple:
    return tuple(y) if isinstance(y, (tuple, list)) else (y,)


def _flag(value: Any, what: str, layer: Module) -> bool:
    if type(value) is np.ndarray and value.size == 1:  # the usual condition, quickly
        return bool(value)
    value = np.asarray(value)
    if value.size != 1:
        raise ValueError(f"{layer.describe()}: {what} must be a single value, got shape {value.shape}")
    return bool(value.reshape(-1)[0])


def _grad_like(g: Any, value: np.ndarray) -> Any:
    """``g`` where ``value`` can carry a gradient (floating point), else None."""
    return g if np.issubdtype(np.asarray(value).dtype, np.floating) else None


def _add(a: Any, b: Any) -> Any:
    return b if a is None else a if b is None else a + b


class IfElse(Module):
    """Run ``then_branch`` or ``else_branch`` on the inputs, chosen by a boolean scalar (ONNX If).

    Both branches are Graphs taking ``(cond, *inputs)``; they must produce the same
    number of outputs (their shapes may differ).

    Args:
        then_branch: the graph run when ``cond`` is true.
        else_branch: the graph run otherwise.

    Shape:
        - Inputs: ``cond`` (one boolean or number), then the values the branches read.
        - Output: the chosen branch's output(s). ``backward`` returns ``None`` for ``cond``
          and the chosen branch's input gradients for the rest.

    Examples:
        >>> from bigdl_runtime.nn import Input, Neg
        >>> c, x = Input("c"), Input("x")
        >>> layer = IfElse(Graph([c, x], Neg()(x)), Graph([c, x], x))
        >>> layer(np.array(True), np.array([1.0, 2.0])).tolist()
        [-1.0, -2.0]
    """

    stores_children = True

    def __init__(self, then_branch: Graph, else_branch: Graph, name: str | None = None) -> None:
        super().__init__(name=name)
        if len(then_branch.output_names) != len(else_branch.output_names):
            raise ValueError(f"IfElse: the branches have {len(then_branch.output_names)} and "
                             f"{len(else_branch.output_names)} outputs; they must have the same number")
        self.then_branch = then_branch
        self.else_branch = else_branch

    @classmethod
    def from_children(cls, children: Sequence[Module], config: dict[str, Any], name: str | None) -> "IfElse":
        """Rebuild from the saved branches (the model loader's hook for layers that store children)."""
        return cls(*children, name=name)

    def forward_pass(self, cond: Any, *inputs: Any) -> tuple[Any, tuple[Graph, Any, int]]:
        branch = self.then_branch if _flag(cond, "the condition", self) else self.else_branch
        out, ctx = branch.forward_pass(cond, *inputs)
        return out, (branch, ctx, len(inputs))

    def infer(self, cond: Any, *inputs: Any) -> Any:
        """The chosen branch's output, run without contexts."""
        branch = self.then_branch if _flag(cond, "the condition", self) else self.else_branch
        return branch.infer(cond, *inputs)

    def backward_pass(self, grad_output: Any, ctx: tuple[Graph, Any, int]) -> Any:
        branch, branch_ctx, n = ctx
        grads = _as_tuple(branch.backward_pass(grad_output, branch_ctx))
        return None if n == 0 else (None, *grads[1:])


class Loop(Module):
    """Run ``body`` while ``i < trip_count`` and the condition holds (ONNX Loop).

    The body is a Graph taking ``(i, cond, *carried, *outer)`` and producing
    ``(cond, *carried, *scanned)``: ``n_carried`` loop-carried values and the per-iteration
    values that are stacked along a new first axis.

    Args:
        body: the loop body.
        n_carried: number of loop-carried values.

    Shape:
        - Inputs: ``trip_count`` (int64 scalar), ``cond`` (boolean scalar), the ``n_carried``
          initial values, then the values the body reads from outside.
        - Outputs: the final carried values, then each scanned value stacked over iterations.

    Examples:
        >>> from bigdl_runtime.nn import Input, Add
        >>> i, c, v = Input("i"), Input("c"), Input("v")
        >>> body = Graph([i, c, v], [c, Add()(v, v)])
        >>> Loop(body, 1)(np.array(3), np.array(True), np.array([1.0])).tolist()
        [8.0]
    """

    stores_children = True

    def __init__(self, body: Graph, n_carried: int, name: str | None = None) -> None:
        super().__init__(name=name)
        self.body = body
        self.n_carried = int(n_carried)

    def get_config(self) -> dict[str, Any]:
        return {"n_carried": self.n_carried}

    @classmethod
    def from_children(cls, children: Sequence[Module], config: dict[str, Any], name: str | None) -> "Loop":
        return cls(children[0], name=name, **config)

    def forward_pass(self, trip_count: Any, cond: Any, *inputs: Any) -> tuple[Any, tuple]:
        """The final carried values and stacked scan outputs; the context keeps each iteration's call."""
        steps: list[tuple] = []

        def body(*args: Any) -> Any:
            out, ctx = self.body.forward_pass(*args)
            steps.append((args, _as_tuple(out), ctx))
            return out

        result, carried = self._run(body, trip_count, cond, inputs)
        return result, (steps, [np.asarray(c) for c in carried], len(inputs))

    def infer(self, trip_count: Any, cond: Any, *inputs: Any) -> Any:
        """:meth:`forward_pass`'s output, each iteration run without contexts.

        Loop-invariant work runs once per call: the first iteration runs the whole body; from the second on,
        the body's steps that read only values fixed for the call (the outer values, the stored tensors, and
        the carried values the body passes on unchanged: those whose next value depends on nothing but
        themselves and fixed values, and came out of the first iteration equal to what went in) are not run
        again, their first values are reused (see :meth:`~bigdl_runtime.nn.executor.Plan.loop_split`)."""
        plan = self.body._plan
        n = self.n_carried
        outer = frozenset(range(2 + n, plan.n_inputs))
        deps = plan.input_dependencies()
        candidates = [k for k in range(n) if deps[1 + k] <= outer | {2 + k}]
        watched = plan.invariant_slots(outer | {2 + k for k in candidates})
        if not watched:
            return self._run(self.body.infer, trip_count, cond, inputs)[0]
        split: list[Any] = []  # (steps, slots, values) once the first iteration has run

        def body(*args: Any) -> Any:
            if split:
                return plan.infer_with(args, *split)
            out, made = plan.infer_recording(args, watched)
            outs = _as_tuple(out)
            fixed = outer | {2 + k for k in candidates if _same(outs[1 + k], args[2 + k])}
            steps, slots = plan.loop_split(frozenset(fixed))
            split.extend([steps, slots, [made[s] for s in slots]])
            return out

        return self._run(body, trip_count, cond, inputs)[0]

    def _run(self, body: Any, trip_count: Any, cond: Any, inputs: tuple) -> tuple[Any, list[Any]]:
        """The loop's outputs and its final carried values, calling ``body(i, cond, *carried, *outer)``."""
        n = self.n_carried
        if len(inputs) < n:
            raise ValueError(f"{self.describe()}: expected {n} loop-carried input(s), got {len(inputs)}")
        limit, go = int(np.asarray(trip_count).reshape(-1)[0]), _flag(cond, "the condition", self)
        carried, outer = list(inputs[:n]), inputs[n:]
        scanned = []
        i = 0
        while i < limit and go:
            outs = _as_tuple(body(np.array(i, np.int64), np.array(go), *carried, *outer))
            go = _flag(outs[0], "the body's condition output", self)
            carried = list(outs[1:1 + n])
            scanned.append(outs[1 + n:])
            i += 1
        k = len(self.body.output_names) - 1 - n
        stacked = [np.stack([s[j] for s in scanned]) if scanned else np.zeros((0,), np.float32) for j in range(k)]
        results = (*carried, *stacked)
        return (results[0] if len(results) == 1 else results), carried

    def backward_pass(self, grad_output: Any, ctx: tuple) -> tuple:
        steps, final, n_inputs = ctx
        n = self.n_carried
        grads = list(_as_tuple(grad_output)) if len(self.body.output_names) - 1 > 1 else [grad_output]
        g_carried = [_grad_like(g, v) for g, v in zip(grads[:n], final)]
        g_scanned = grads[n:]
        g_outer: list[Any] = [None] * (n_inputs - n)
        for t in range(len(steps) - 1, -1, -1):
            args, outs, step_ctx = steps[t]
            g_out = [None, *[_grad_like(g, v) for g, v in zip(g_carried, outs[1:1 + n])],
                     *[None if g is None else g[t] for g in g_scanned]]
            g_in = _as_tuple(self.body.backward_pass(g_out[0] if len(g_out) == 1 else tuple(g_out), step_ctx))
            g_carried = list(g_in[2:2 + n])
            g_outer = [_grad_like(_add(a, b), x) for a, b, x in zip(g_outer, g_in[2 + n:], args[2 + n:])]
            g_carried = [_grad_like(g, x) for g, x in zip(g_carried, args[2:2 + n])]
        return (None, None, *g_carried, *g_outer)


class Scan(Module):
    """Run ``body`` over slices of the scanned inputs, carrying state (ONNX Scan, opset 9 on).

    The body is a Graph taking ``(*state, *slices, *outer)`` and producing
    ``(*state, *scan_outputs)``; the scan outputs are stacked along ``output_axes``.

    Args:
        body: the body graph.
        n_state: number of state values.
        n_scan: number of scanned inputs.
        input_axes: the scanned axis of each scanned input. Default: 0 for all.
        input_reverse: 1 to walk a scanned input from its end. Default: 0 for all.
        output_axes: the axis each scan output is stacked along. Default: 0 for all.
        output_reverse: 1 to stack a scan output in reverse order. Default: 0 for all.

    Shape:
        - Inputs: the ``n_state`` initial states, the ``n_scan`` scanned inputs, then the values
          the body reads from outside.
        - Outputs: the final states, then the stacked scan outputs.

    Examples:
        >>> from bigdl_runtime.nn import Input, Add
        >>> s, x = Input("s"), Input("x")
        >>> total = Add()(s, x)
        >>> Scan(Graph([s, x], [total, total]), 1, 1)(np.zeros(1), np.ones((3, 1)))[1].ravel().tolist()
        [1.0, 2.0, 3.0]
    """

    stores_children = True

    def __init__(self, body: Graph, n_state: int, n_scan: int, input_axes: Sequence[int] | None = None,
                 input_reverse: Sequence[int] | None = None, output_axes: Sequence[int] | None = None,
                 output_reverse: Sequence[int] | None = None, name: str | None = None) -> None:
        super().__init__(name=name)
        self.body = body
        self.n_state, self.n_scan = int(n_state), int(n_scan)
        n_out = len(body.output_names) - self.n_state
        self.input_axes = [0] * self.n_scan if input_axes is None else [int(a) for a in input_axes]
        self.input_reverse = [0] * self.n_scan if input_reverse is None else [int(a) for a in input_reverse]
        self.output_axes = [0] * n_out if output_axes is None else [int(a) for a in output_axes]
        self.output_reverse = [0] * n_out if output_reverse is None else [int(a) for a in output_reverse]
        if len(self.input_axes) != self.n_scan or len(self.input_reverse) != self.n_scan:
            raise ValueError(f"Scan: {self.n_scan} scanned inputs need as many input axes and directions")
        if len(self.output_axes) != n_out or len(self.output_reverse) != n_out:
            raise ValueError(f"Scan: {n_out} scan outputs need as many output axes and directions")

    def get_config(self) -> dict[str, Any]:
        return {"n_state": self.n_state, "n_scan": self.n_scan, "input_axes": self.input_axes,
                "input_reverse": self.input_reverse, "output_axes": self.output_axes,
                "output_reverse": self.output_reverse}

    @classmethod
    def from_children(cls, children: Sequence[Module], config: dict[str, Any], name: str | None) -> "Scan":
        return cls(children[0], name=name, **config)

    def _scanned(self, inputs: Sequence[Any]) -> tuple[list[np.ndarray], int]:
        """The scanned inputs moved to axis 0 and reversed where asked, and their common length."""
        xs = []
        for x, axis, rev in zip(inputs, self.input_axes, self.input_reverse):
            x = np.moveaxis(np.asarray(x), axis, 0)
            xs.append(x[::-1] if rev else x)
        lengths = {x.shape[0] for x in xs}
        if len(lengths) > 1:
            raise ValueError(f"{self.describe()}: the scanned inputs have different lengths {sorted(lengths)}")
        return xs, lengths.pop() if lengths else 0

    def forward_pass(self, *inputs: Any) -> tuple[Any, tuple]:
        """The final states and stacked scan outputs; the context keeps each step's call of the body."""
        steps: list[tuple] = []

        def body(*args: Any) -> Any:
            out, ctx = self.body.forward_pass(*args)
            steps.append((args, _as_tuple(out), ctx))
            return out

        result, state = self._run(body, inputs)
        s, m = self.n_state, self.n_scan
        ctx = (steps, [np.asarray(v) for v in state], [np.shape(x) for x in inputs[s:s + m]], len(inputs))
        return result, ctx

    def infer(self, *inputs: Any) -> Any:
        """:meth:`forward_pass`'s output, each step run without contexts."""
        return self._run(self.body.infer, inputs)[0]

    def _run(self, body: Any, inputs: tuple) -> tuple[Any, list[Any]]:
        """The scan's outputs and its final states, calling ``body(*state, *slices, *outer)`` per step."""
        s, m = self.n_state, self.n_scan
        if len(inputs) < s + m:
            raise ValueError(f"{self.describe()}: expected at least {s + m} inputs, got {len(inputs)}")
        state, outer = list(inputs[:s]), inputs[s + m:]
        xs, length = self._scanned(inputs[s:s + m])
        per_step = []
        for t in range(length):
            outs = _as_tuple(body(*state, *[x[t] for x in xs], *outer))
            state = list(outs[:s])
            per_step.append(outs[s:])
        outputs = []
        for j, (axis, rev) in enumerate(zip(self.output_axes, self.output_reverse)):
            seq = [p[j] for p in per_step][::-1] if rev else [p[j] for p in per_step]
            outputs.append(np.moveaxis(np.stack(seq), 0, axis))
        results = (*state, *outputs)
        return (results[0] if len(results) == 1 else results), state

    def backward_pass(self, grad_output: Any, ctx: tuple) -> tuple:
        steps, final, scan_shapes, n_inputs = ctx
        s, m = self.n_state, self.n_scan
        n_results = len(self.body.output_names)
        grads = list(_as_tuple(grad_output)) if n_results > 1 else [grad_output]
        g_state = [_grad_like(g, v) for g, v in zip(grads[:s], final)]
        g_outs = []  # each scan output's gradient, as a sequence over steps in scan order
        for g, axis, rev in zip(grads[s:], self.output_axes, self.output_reverse):
            g = None if g is None else np.moveaxis(np.asarray(g), axis, 0)
            g_outs.append(None if g is None else (g[::-1] if rev else g))
        g_slices: list[list[Any]] = [[None] * len(steps) for _ in range(m)]
        g_outer: list[Any] = [None] * (n_inputs - s - m)
        for t in range(len(steps) - 1, -1, -1):
            args, outs, step_ctx = steps[t]
            g_out = [*[_grad_like(g, v) for g, v in zip(g_state, outs[:s])],
                     *[None if g is None else g[t] for g in g_outs]]
            g_in = _as_tuple(self.body.backward_pass(g_out[0] if len(g_out) == 1 else tuple(g_out), step_ctx))
            g_state = [_grad_like(g, x) for g, x in zip(g_in[:s], args[:s])]
            for k in range(m):
                g_slices[k][t] = g_in[s + k]
            g_outer = [_grad_like(_add(a, b), x) for a, b, x in zip(g_outer, g_in[s + m:], args[s + m:])]
        g_scan = []
        for k, (shape, axis, rev) in enumerate(zip(scan_shapes, self.input_axes, self.input_reverse)):
            parts = g_slices[k]
            if not parts or any(p is None or not np.issubdtype(np.asarray(p).dtype, np.floating) for p in parts):
                g_scan.append(None)
                continue
            g = np.stack(parts)
            g_scan.append(np.moveaxis(g[::-1] if rev else g, 0, axis))
        result = (*g_state, *g_scan, *g_outer)
        return result[0] if len(result) == 1 else result
