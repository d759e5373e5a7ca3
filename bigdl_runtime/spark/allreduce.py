"""Summing the partitions' gradients on Spark: a reduce-scatter through the shuffle, or treeAggregate.

Each training task yields one :class:`Contribution`: its flat gradient, a few
summable side values (``extras``: the weighted loss and batch-norm running
statistics) and its compute time and sample count.

``sync="shuffle"`` (:func:`reduce_scatter`, BigDL's algorithm): every task
splits its gradient into ``N`` slices (``np.array_split``) and emits
``(slice_id, slice)``; ``partitionBy(N, slice_id)`` sends slice ``j`` of every
task to reduce task ``j``, which sums them on Spark's block manager (no driver
in the path) and returns one summed slice; the driver concatenates the ``N``
slices. Each reduce task sums its inputs in source-partition order, so the
result does not depend on the order shuffle blocks arrive in: a retried or
repeated iteration gives bit-identical sums.

``sync="tree"`` (:func:`tree_reduce`): ``treeReduce`` of whole gradient
vectors (Spark's ``treeAggregate``: partial sums in intermediate tasks, the
last level on the driver). Bit-identical across runs while Spark adds no
intermediate level (up to about 6 partitions); beyond that the intermediate
sums depend on arrival order (float32 rounding only).

``compress="fp16"``: gradients cross the network as float16 and are summed in
float32. Half the bytes; float16 keeps about 3 significant digits and
magnitudes up to 65504 (larger ones overflow to inf), so it suits gradients
of normalised networks and costs a little accuracy per step.
"""
from __future__ import annotations

import functools
import time
from typing import Iterable, Iterator, NamedTuple

import numpy as np
from pyspark import RDD

COMPRESSIONS = (None, "fp16")


class Contribution(NamedTuple):
    """One training task's share of an iteration (already weighted by its share of the batch)."""

    partition: int
    grad: np.ndarray          # flat gradient, float32 (float16 on the wire when compressed)
    extras: np.ndarray | None  # summable float64 side values: [loss, *float buffers]; None on slices j > 0
    compute_seconds: float
    samples: int


class Reduced(NamedTuple):
    """The sum over all tasks: what the driver applies."""

    grad: np.ndarray          # float32
    extras: np.ndarray        # float64
    samples: int
    compute_seconds: float    # the slowest task's forward/backward time
    sync_seconds: float       # time spent summing (reduce tasks and driver)


def compress_array(grad: np.ndarray, compress: str | None) -> np.ndarray:
    """``grad`` as it crosses the network: unchanged, or cast to float16 for ``"fp16"``."""
    if compress not in COMPRESSIONS:
        raise ValueError(f"compress must be one of {COMPRESSIONS}, got {compress!r}")
    return grad.astype(np.float16) if compress == "fp16" else grad


# ------------------------------------------------------------------ reduce-scatter
def reduce_scatter(contributions: RDD, num_slices: int, compress: str | None = None) -> Reduced:
    """Sum the contributions through a shuffle keyed by slice id (one Spark job)."""
    pairs = contributions.flatMap(functools.partial(_slices, num_slices=num_slices, compress=compress))
    summed = pairs.partitionBy(num_slices, _slice_partition).mapPartitions(_sum_slices).collect()
    tic = time.perf_counter()
    parts = [r for _, r in sorted(summed, key=lambda pair: pair[0])]
    grad = np.concatenate([r.grad for r in parts])
    return Reduced(grad, parts[0].extras, parts[0].samples, max(r.compute_seconds for r in parts),
                   max(r.sync_seconds for r in parts) + time.perf_counter() - tic)


def _slice_partition(slice_id: int) -> int:
    return slice_id


def _slices(c: Contribution, num_slices: int, compress: str | None) -> Iterator[tuple[int, Contribution]]:
    wire = compress_array(c.grad, compress)
    for j, piece in enumerate(np.array_split(wire, num_slices)):
        yield j, c._replace(grad=piece, extras=c.extras if j == 0 else None)


def _sum_slices(pairs: Iterable[tuple[int, Contribution]]) -> Iterator[tuple[int, Reduced]]:
    tic = time.perf_counter()
    by_slice: dict[int, list[Contribution]] = {}
    for j, c in pairs:
        by_slice.setdefault(j, []).append(c)
    for j, parts in by_slice.items():
        parts.sort(key=lambda c: c.partition)        # a fixed summation order: deterministic sums
        grad = np.zeros(parts[0].grad.shape, dtype=np.float32)
        for c in parts:
            grad += c.grad
        extras = [c.extras for c in parts if c.extras is not None]
        yield j, Reduced(grad, np.sum(extras, axis=0) if extras else None, sum(c.samples for c in parts),
                         max(c.compute_seconds for c in parts), time.perf_counter() - tic)


# ----------------------------------------------------------------------- tree
def tree_reduce(contributions: RDD, compress: str | None = None) -> Reduced:
    """Sum the contributions with ``treeReduce`` (Spark's treeAggregate, depth 2)."""
    total = contributions.map(functools.partial(_leaf, compress=compress)).treeReduce(_combine)
    return total._replace(grad=total.grad.astype(np.float32, copy=False))  # one partition: the leaf itself


def _leaf(c: Contribution, compress: str | None) -> Reduced:
    return Reduced(compress_array(c.grad, compress), c.extras, c.samples, c.compute_seconds, 0.0)


def _combine(a: Reduced, b: Reduced) -> Reduced:
    """Add two partial sums; ``sync_seconds`` follows the slowest path of combines (the critical path)."""
    tic = time.perf_counter()
    grad = a.grad.astype(np.float32) + b.grad
    return Reduced(grad, a.extras + b.extras, a.samples + b.samples, max(a.compute_seconds, b.compute_seconds),
                   max(a.sync_seconds, b.sync_seconds) + time.perf_counter() - tic)
