"""Inference plans on oneDNN: a small graph of float32 operations run from its input to its output with
every activation in between kept in the layouts oneDNN's primitives pick (nChw16c on AVX-512).

Why: a convolution called on its own (:mod:`.onednn`) takes and returns NCHW, so every call reorders its
input into the blocked layout and its output back, reorders its weights, writes into fresh output pages,
and the max pooling, residual adds and ReLUs between convolutions are numpy passes over NCHW arrays. A plan
does each of those once: weights are reordered when it is compiled; activations are reordered at its
input and output only; a ``Flatten`` feeding a ``Linear`` costs nothing (the inner product reads the
blocked 4-D value with its weights seen as (O, C, H, W)); a residual ``Add`` (and a ``ReLU`` after it) becomes a
post-op of the convolution that feeds it (oneDNN's ``sum`` post-op accumulates the convolution into the buffer
holding the shortcut); channel slices (a ``Split``'s parts) are reorders out of a sub-memory of their value;
pooling runs on oneDNN's pooling primitive; activations (hard-swish, swish, leaky ReLU, ...) are post-ops of
the convolution before them; squeeze-excitation products, channel concatenations and nearest upsampling run
on oneDNN's binary, concat and resampling primitives on the blocked values; and the activation buffers are
allocated once and reused call after call, a buffer going to a later value once the earlier one is dead
(an activation or product whose input dies there runs in place), and shared by all the plans of the process
(one arena: see :data:`_arena`).

A plan is compiled for one input shape from a list of operations (:mod:`.onednn_plan_ops`: :class:`Conv`,
:class:`Pool`, :class:`Eltwise`, :class:`Add`, :class:`Mul`, :class:`Concat`, :class:`Slice`, :class:`Upsample`,
:class:`PadChannels`, :class:`Flatten`, :class:`Dense`; their primitives are made by :mod:`.onednn_plan_prims`)
reading earlier values by index: 0 is the plan's input,
``k`` the output of operation ``k - 1``; the last operation's output is the plan's output (returned as a new
NCHW array). :class:`~.onednn.Unsupported` when oneDNN has no implementation for one of them (the caller keeps its
layer-by-layer path). Weights are copied when the plan is compiled: a plan does not see later changes.
Calls hold the runtime lock (a plan's buffers serve one call at a time); a plan compiled before a fork is
not run in the child (:meth:`Plan.valid`).
"""
from __future__ import annotations

import ctypes
import weakref
from typing import Any, Sequence

import numpy as np

from . import threads
from .onednn import Unsupported, _dims, _release, _rt, available
from .onednn_plan_ops import (Add, Concat, Conv, Dense, Eltwise, Flatten, Mul, Op, PadChannels, Pool, Slice, Step,
                              Upsample, fuse)
from .onednn_plan_prims import ARG_DST, ARG_SRC, TAG_A, TAG_AB, TAG_ABCD, Primitives, aligned
from .onednn_runtime import ExecArg, P

__all__ = ["Add", "Concat", "Conv", "Dense", "Eltwise", "Flatten", "Mul", "Op", "PadChannels", "Plan", "Pool",
           "Slice", "Upsample"]

_ARG_SRC_1, _ARG_WEIGHTS, _ARG_BIAS, _ARG_MULTIPLE_SRC = 2, 33, 41, 1024
#: a step of fewer multiply-adds runs on one thread (an elementwise, pooling or data-movement step counts 32 per
#: output value: a memory-bound pass). Waking the other OpenMP threads and joining them (they sleep between
#: primitives: GOMP_SPINCOUNT=0, see :mod:`.onednn_runtime`) costs 5-8 us per primitive on 2 cores, while
#: halving a step of 2**20 multiply-adds saves 5-10 us (50-100 G multiply-adds/s per AVX-512 core). The
#: SE gates, small-image stages and activations of the imported MobileNetV3s are such steps (ppocr_v2_cls: 75
#: primitives; measured at load 7 on 2 cores, best of 50: 1.21 ms all on 2 threads, 0.72 ms with this split,
#: 0.62 ms all on one thread, onnxruntime 0.97 ms)
SERIAL_MACS = 1 << 20


def step_threads(step: Step, shapes: dict[int, tuple[int, ...]], block: int) -> int:
    """The OpenMP threads a step's primitives are made and run with: 1 below :data:`SERIAL_MACS`, else ``block``."""
    outputs = int(np.prod(shapes[step.out]))
    if step.kind in ("conv", "dense"):
        work = outputs * int(np.prod(step.op.weight.shape[1:]))
    else:
        work = 32 * outputs
    return 1 if work < SERIAL_MACS else block


class Plan(Primitives):
    """The compiled primitives, buffers and memories of ``ops`` for inputs of ``input_shape``; call
    :meth:`run`. :class:`~.onednn.Unsupported` when oneDNN cannot run one of the operations."""

    def __init__(self, ops: Sequence[Op], input_shape: tuple[int, ...]) -> None:
        if not available():
            raise Unsupported("oneDNN is not available")
        self.input_shape = tuple(input_shape)
        self.generation = _rt.generation
        self._entry: dict[str, Any] = {"prims": {}, "reorders": {}, "pds": {}, "mds": []}
        self._memories: list[P] = []
        self._keep: list[np.ndarray] = []  # private buffers and weights the memories point into
        self._slot_bytes: list[int] = []  # bytes this plan needs in each slot of the shared arena
        self._slot_memories: list[tuple[P, int]] = []  # (memory, arena slot) of every value kept there
        self._bound_to: tuple[int, ...] = ()  # the slot addresses the memories point at
        self._program: list[tuple[P, Any, int]] = []  # (primitive, arguments, OpenMP threads)
        self._input_views: list[P] = []  # memories of parts of the input (channel slices), bound per call
        self._finalizer = weakref.finalize(self, _retire, self._entry, self._memories, self.generation)
        try:
            _rt.run(lambda: self._compile(ops))
        except BaseException:
            self._finalizer()  # retire what was made so far (once: the finalizer then does nothing)
            raise

    # ----------------------------------------------------------------- compile
    def _compile(self, ops: Sequence[Op]) -> None:
        _destroy_retired()
        shapes = {0: self.input_shape}
        steps, result = fuse(ops, shapes)
        self.output_shape = shapes[result]
        mds: dict[int, P] = {0: self._new_md(self.input_shape, TAG_ABCD)}
        program: list[tuple[str, P, list[tuple[int, Any]]]] = []  # (kind, primitive, [(arg, value or array)])
        converted: dict[int, list[int]] = {}  # value -> the values holding it reordered to other layouts
        fresh = iter(range(-1, -10**9, -1))  # negative ids: values made by reorders

        def reordered(v: int, md: P) -> int | None:
            """The value holding ``v`` reordered to ``md`` so far, if any."""
            return next((t for t in converted.get(v, ()) if _rt.lib.dnnl_memory_desc_equal(mds[t], md)), None)

        def reorder_to(v: int, md: P) -> int:
            if _rt.lib.dnnl_memory_desc_equal(mds[v], md):
                return v
            t = reordered(v, md)
            if t is None:
                t = next(fresh)
                mds[t] = md
                shapes[t] = shapes[v]
                program.append(("reorder", self._reorder(mds[v], md), [(ARG_SRC, v), (ARG_DST, t)]))
                converted.setdefault(v, []).append(t)
            return t

        last_read = {v: i for i, step in enumerate(steps) for v in step.inputs}
        views = {s.out: s.inputs[0] for s in steps if s.kind == "flatten"}  # a flatten is its source's memory
        padded = {s.out for s in steps if s.kind == "pad"}  # buffers whose zero channels must stay: not reused
        for step in steps:
            if step.kind != "dense" and any(v in views for v in step.inputs):
                raise Unsupported("only a linear layer may read a flattened value in a plan")
        block = current = max(1, threads.block_threads())
        nthreads: list[int] = []  # per program entry: the OpenMP threads it was made with and runs with
        for i, step in enumerate(steps):
            nthreads.extend([current] * (len(program) - len(nthreads)))  # the previous step's entries
            if step.kind == "flatten":
                continue
            nthr = step_threads(step, shapes, block) if _rt.omp_set is not None else block
            if nthr != current:  # oneDNN splits a primitive's work by the threads there are when it is made
                _rt.omp_set(nthr)  # (the runtime sets them back at its next call if this one fails)
                current = nthr
            if step.kind == "conv":
                prim, (lx, lw, ly) = self._conv(step, shapes)
                src = reorder_to(step.inputs[0], lx)
                w = self._weights(step.op, lw)
                args = [(ARG_SRC, src), (_ARG_WEIGHTS, w)]
                if step.op.bias is not None:
                    bias = np.ascontiguousarray(step.op.bias, dtype=np.float32).copy()
                    args.append((_ARG_BIAS, self._memory(self._new_md(bias.shape, TAG_A), bias)))
                mds[step.out] = ly
                if len(step.inputs) == 2:  # the sum operand is already in dst when the convolution runs
                    other = step.inputs[1]
                    # in place when nothing reads the operand later, the convolution does not read it itself
                    # (it would overwrite its own input), and it may be written (not the input, not padded)
                    dies = (other not in (0, result, step.inputs[0]) and other not in padded
                            and last_read[other] == i)
                    copy = reordered(other, ly)  # an earlier reorder of it to dst's layout
                    if copy is not None and copy != src:  # only earlier steps read it: sum into it (later
                        converted[other].remove(copy)  # readers of the operand in this layout reorder again)
                        other, dies = copy, True
                    if not dies or not _rt.lib.dnnl_memory_desc_equal(mds[other], ly):
                        program.append(("copy", self._reorder(mds[other], ly), [(ARG_SRC, other),
                                                                                 (ARG_DST, step.out)]))
                    else:
                        program.append(("sum-into", None, [(ARG_SRC, other), (ARG_DST, step.out)]))
                program.append(("conv", prim, [*args, (ARG_DST, step.out)]))
            elif step.kind == "pool":
                prim, ly = self._pool(step, mds[step.inputs[0]], shapes)
                mds[step.out] = ly
                program.append(("pool", prim, [(ARG_SRC, step.inputs[0]), (ARG_DST, step.out)]))
            elif step.kind == "eltwise":
                prim = self._eltwise(mds[step.inputs[0]], step.op)
                mds[step.out] = mds[step.inputs[0]]
                program.append(("eltwise", prim, [(ARG_SRC, step.inputs[0]), (ARG_DST, step.out)]))
            elif step.kind == "pad":
                src, full = step.inputs[0], self._new_md(shapes[step.out], TAG_ABCD)
                middle = P()  # the source's channels inside the padded NCHW value
                _rt.call("dnnl_memory_desc_create_submemory", ctypes.byref(middle), full, _dims(*shapes[src]),
                         _dims(0, step.op.before, 0, 0))
                self._entry["mds"].append(middle)
                mds[step.out] = full
                program.append(("pad", self._reorder(mds[src], middle), [(ARG_SRC, src),
                                                                         (ARG_DST, ("middle", step.out, middle))]))
            elif step.kind == "slice":  # a reorder out of the channels' sub-memory (of a plain copy if need be)
                src, (start, _) = step.inputs[0], step.op.bounds(shapes[step.inputs[0]][1])
                try:
                    sub = self._submemory(mds[src], shapes[step.out], start)
                except Unsupported:  # oneDNN takes blocked parts at whole blocks only
                    src = reorder_to(src, self._new_md(shapes[src], TAG_ABCD))
                    sub = self._submemory(mds[src], shapes[step.out], start)
                mds[step.out] = self._new_md(shapes[step.out], TAG_ABCD)
                program.append(("slice", self._reorder(sub, mds[step.out]), [(ARG_SRC, ("view", src, sub)),
                                                                            (ARG_DST, step.out)]))
            elif step.kind == "upsample":
                prim, ly = self._upsample(mds[step.inputs[0]], shapes[step.out])
                mds[step.out] = ly
                program.append(("upsample", prim, [(ARG_SRC, step.inputs[0]), (ARG_DST, step.out)]))
            elif step.kind == "concat":
                prim, ly = self._concat([mds[v] for v in step.inputs], shapes[step.out])
                mds[step.out] = ly
                program.append(("concat", prim, [*((_ARG_MULTIPLE_SRC + k, v) for k, v in enumerate(step.inputs)),
                                                 (ARG_DST, step.out)]))
            elif step.kind == "dense":
                src = views.get(step.inputs[0], step.inputs[0])
                prim, weights, ly = self._dense(step, mds[src], shapes[src], shapes[step.out])
                args = [(ARG_SRC, src), (_ARG_WEIGHTS, weights)]
                if step.op.bias is not None:
                    bias = np.ascontiguousarray(step.op.bias, dtype=np.float32).copy()
                    args.append((_ARG_BIAS, self._memory(self._new_md(bias.shape, TAG_A), bias)))
                mds[step.out] = ly
                program.append(("dense", prim, [*args, (ARG_DST, step.out)]))
            else:  # add, mul
                a, b = step.inputs
                prim = self._binary(step.kind, mds[a], mds[b], step.post)
                mds[step.out] = mds[a]
                program.append((step.kind, prim, [(ARG_SRC, a), (_ARG_SRC_1, b), (ARG_DST, step.out)]))
        nthreads.extend([current] * (len(program) - len(nthreads)))
        if current != block:
            _rt.omp_set(block)
        final = views.get(result, result)  # a flattened result is its source reordered to NCHW, then reshaped
        self._output_nchw = shapes[final]
        out_md = self._new_md(shapes[final], TAG_AB if len(shapes[final]) == 2 else TAG_ABCD)
        program.append(("output", self._reorder(mds[final], out_md), [(ARG_SRC, final), (ARG_DST, "output")]))
        nthreads.append(block)
        self._link(program, nthreads, mds, shapes, out_md)
        #: (kind, primitive) of each step run: "reorder", "copy" (a sum operand into dst), "conv", "pool",
        #: "eltwise", "add", "mul", "concat", "slice", "upsample", "pad", "dense", "output"
        self.steps = [(kind, prim) for kind, prim, _ in program if kind != "sum-into"]

    def _link(self, program: list[tuple[str, P, list[tuple[int, Any]]]], nthreads: list[int], mds: dict[int, P],
              shapes: dict[int, tuple[int, ...]], out_md: P) -> None:
        """Give every value a slot of the shared activation arena (reused once its value is dead; a sum's dst
        takes its operand's slot when that operand dies there; a padded value a zeroed buffer of its own),
        make the memories and the argument arrays of every primitive."""
        last_use: dict[int, int] = {}
        for i, (_, _, args) in enumerate(program):
            for _, v in args:
                if isinstance(v, tuple) and v[0] == "view":  # ("view", value, descriptor): part of a value read
                    v = v[1]
                if isinstance(v, int):
                    last_use[v] = i
        free: list[int] = []
        slot: dict[int, int | np.ndarray] = {}  # value -> arena slot, or a private buffer (padded values)
        need = self._slot_bytes
        pinned = {args[-1][1][1] for kind, _, args in program if kind == "pad"}

        def take(nbytes: int) -> int:
            fits = [i for i, k in enumerate(free) if need[k] >= nbytes]
            if fits:
                return free.pop(min(fits, key=lambda i: need[free[i]]))  # the smallest that fits
            need.append(nbytes)
            return len(need) - 1

        for i, (kind, _, args) in enumerate(program):
            out = args[-1][1]
            if kind == "pad":  # zeroed once; the reorder writes the middle channels each call
                slot[out[1]] = aligned(_rt.lib.dnnl_memory_desc_get_size(mds[out[1]]))
                slot[out[1]][...] = 0
            elif kind == "sum-into" or (kind in ("eltwise", "add", "mul") and args[0][1] not in (0, *pinned)
                                        and last_use[args[0][1]] == i):
                slot[out] = slot[args[0][1]]  # in place
            elif isinstance(out, int) and out not in slot:
                slot[out] = take(_rt.lib.dnnl_memory_desc_get_size(mds[out]))
            written = slot.get(out) if isinstance(out, int) else None
            for _, v in args[:-1]:
                v = v[1] if isinstance(v, tuple) and v[0] == "view" else v
                if (isinstance(v, int) and v != 0 and v not in pinned and last_use[v] == i
                        and slot[v] is not written):
                    free.append(slot[v])
        memory: dict[int, P] = {}
        for v, where in slot.items():
            if isinstance(where, np.ndarray):
                memory[v] = self._memory(mds[v], where)
            else:  # bound to the arena at run time
                memory[v] = self._memory(mds[v], None)
                self._slot_memories.append((memory[v], where))
        self._input = memory[0] = self._memory(mds[0], None)
        self._output = self._memory(out_md, None)
        for (kind, prim, args), nthr in zip(program, nthreads):
            if kind == "sum-into":
                continue
            bound = []
            for arg, v in args:
                if isinstance(v, P):  # weights or bias
                    mem = v
                elif isinstance(v, tuple) and v[0] == "view" and v[1] == 0:  # part of the plan's input
                    mem = self._memory(v[2], None)
                    self._input_views.append(mem)
                elif isinstance(v, tuple) and isinstance(slot[v[1]], int):  # part of a value in the arena
                    mem = self._memory(v[2], None)
                    self._slot_memories.append((mem, slot[v[1]]))
                elif isinstance(v, tuple):  # part of a padded value's buffer (its middle channels, or a view)
                    mem = self._memory(v[2], slot[v[1]])
                else:
                    mem = self._output if v == "output" else memory[v]
                bound.append(ExecArg(arg, mem))
            self._program.append((prim, (ExecArg * len(bound))(*bound), nthr))
        #: bytes of activation buffers the plan needs (shared with the other plans of the process)
        self.buffer_bytes = sum(need) + sum(w.nbytes for w in slot.values() if isinstance(w, np.ndarray))

    def _bind(self) -> None:
        """Point the plan's memories at the arena's slots, growing those too small for this plan (the
        caller holds the runtime lock)."""
        for k, nbytes in enumerate(self._slot_bytes):
            if k == len(_arena):
                _arena.append(aligned(nbytes))
            elif _arena[k].nbytes < nbytes:
                _arena[k] = aligned(nbytes)
        where = tuple(_arena[k].ctypes.data for k in range(len(self._slot_bytes)))
        if where != self._bound_to:
            for mem, k in self._slot_memories:
                _rt.call("dnnl_memory_set_data_handle", mem, P(where[k]))
            self._bound_to = where

    # ------------------------------------------------------------------ run
    def valid(self) -> bool:
        """Whether the plan may run in this process (it was not compiled before a fork)."""
        return self.generation == _rt.generation

    def run(self, x: np.ndarray) -> np.ndarray:
        """The plan's output (a new NCHW float32 array) for ``x`` of the plan's input shape."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        if x.shape != self.input_shape:
            raise ValueError(f"this plan was compiled for inputs of shape {self.input_shape}, got {x.shape}")
        y = np.empty(self._output_nchw, dtype=np.float32)

        def work() -> None:
            _destroy_retired()
            self._bind()
            lib, stream = _rt.lib, _rt.stream
            for mem in (self._input, *self._input_views):
                _rt.call("dnnl_memory_set_data_handle", mem, x.ctypes.data_as(P))
            _rt.call("dnnl_memory_set_data_handle", self._output, y.ctypes.data_as(P))
            block = current = max(1, threads.block_threads())
            for prim, args, nthr in self._program:
                if nthr != current:
                    _rt.omp_set(nthr)
                    current = nthr
                status = lib.dnnl_primitive_execute(prim, stream, len(args), args)
                if status != 0:
                    raise RuntimeError(f"oneDNN dnnl_primitive_execute failed with status {status}")
            if current != block:
                _rt.omp_set(block)
            _rt.call("dnnl_stream_wait", stream)

        _rt.run(work)
        return y.reshape(self.output_shape)


#: the activation buffers every plan of the process uses (plans run one at a time under the runtime lock): a
#: slot is as large as the largest plan needs it, so the memory held is the largest plan's, not the sum over
#: the plans of every segment and input shape (scoring's last, smaller batch compiles a second plan)
_arena: list[np.ndarray] = []
#: library objects of plans that were dropped, freed by the next plan call (a finalizer may run while the
#: runtime lock is held, so it does not take it)
_retired: list[tuple[dict[str, Any], list[P], int]] = []


def _retire(entry: dict[str, Any], memories: list[P], generation: int) -> None:
    _retired.append((entry, list(memories), generation))
    memories.clear()


def _destroy_retired() -> None:
    """Free the retired plans' objects (not those made before a fork: their pages are the parent's).
    The caller holds the runtime lock."""
    while _retired:
        entry, memories, generation = _retired.pop()
        if generation == _rt.generation:
            _rt.destroy([("dnnl_memory_destroy", m) for m in memories])
            _release(entry)
