"""Summing the partitions' gradients on Spark: a reduce-scatter through the shuffle.

Each training task yields one :class:`Contribution`: its flat gradient, a few
summable side values (``extras``: the weighted loss and batch-norm running
statistics) and its compute time and sample count.

``sync="shuffle"`` (:func:`reduce_scatter`, BigDL's algorithm): every task
splits its gradient into chunks of at most :data:`CHUNK_BYTES` (at least ``N``)
and emits ``(chunk_id, chunk)``; the chunks form ``N`` contiguous slices, and
``partitionBy(N)`` sends slice ``j`` of every task to reduce task ``j``, which
sums them on Spark's block manager (no driver in the path) and returns the
summed chunks; the driver concatenates them. Each reduce task sums its inputs
in source-partition order, so the result does not depend on the order shuffle
blocks arrive in: a retried or repeated iteration gives bit-identical sums.
Chunking matters on PySpark: every record crosses the Python <-> JVM boundary
as one byte array, and records of tens of megabytes move markedly slower than
a few megabytes each (measured in ``scripts/bench_distributed.py``).

``sync="driver"`` sums on the driver instead, the gradients pushed to it by the tasks
(:mod:`bigdl_runtime.spark.iteration_hub`), in partition order, so it is deterministic too.

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
    grad: np.ndarray | None   # flat gradient, float32 (float16 on the wire when compressed); None once pushed
    extras: np.ndarray | None  # summable float64 side values: [loss, *float buffers]; None on chunks k > 0
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
#: Largest gradient record sent through the shuffle (bytes on the wire).
CHUNK_BYTES = 4 << 20


def num_chunks(size: int, itemsize: int, num_slices: int, chunk_bytes: int = CHUNK_BYTES) -> int:
    """Chunks a gradient of ``size`` elements is cut into: at most ``chunk_bytes`` each, at least one per slice."""
    return max(num_slices, -(-size * itemsize // chunk_bytes))


def chunk_owner(chunk: int, chunks: int, num_slices: int) -> int:
    """The reduce task (slice) that sums ``chunk``: slices are contiguous runs of chunks."""
    return chunk * num_slices // chunks


def reduce_scatter(contributions: RDD, num_slices: int, compress: str | None = None,
                   chunk_bytes: int = CHUNK_BYTES) -> Reduced:
    """Sum the contributions through a shuffle keyed by chunk id, ``num_slices`` reduce tasks (one Spark job)."""
    pairs = contributions.flatMap(functools.partial(_chunks, num_slices=num_slices, compress=compress,
                                                    chunk_bytes=chunk_bytes))
    owner = functools.partial(_owner_of_key, num_slices=num_slices)
    summed = pairs.partitionBy(num_slices, owner).mapPartitions(_sum_chunks).collect()
    tic = time.perf_counter()
    parts = [r for _, r in sorted(summed, key=lambda pair: pair[0][0])]
    grad = np.concatenate([r.grad for r in parts])
    return Reduced(grad, parts[0].extras, parts[0].samples, max(r.compute_seconds for r in parts),
                   max(r.sync_seconds for r in parts) + time.perf_counter() - tic)


def _owner_of_key(key: tuple[int, int], num_slices: int) -> int:
    return chunk_owner(key[0], key[1], num_slices)


def _chunks(c: Contribution, num_slices: int, compress: str | None,
            chunk_bytes: int = CHUNK_BYTES) -> Iterator[tuple[tuple[int, int], Contribution]]:
    """``((chunk id, chunk count), contribution holding that chunk)``; only chunk 0 carries the extras."""
    wire = compress_array(c.grad, compress)
    count = num_chunks(wire.size, wire.itemsize, num_slices, chunk_bytes)
    for k, piece in enumerate(np.array_split(wire, count)):
        yield (k, count), c._replace(grad=piece, extras=c.extras if k == 0 else None)


def _sum_chunks(pairs: Iterable[tuple[tuple[int, int], Contribution]]) -> Iterator[tuple[tuple[int, int], Reduced]]:
    tic = time.perf_counter()
    by_chunk: dict[tuple[int, int], list[Contribution]] = {}
    for key, c in pairs:
        by_chunk.setdefault(key, []).append(c)
    for key in sorted(by_chunk):
        parts = sorted(by_chunk.pop(key), key=lambda c: c.partition)  # a fixed order: deterministic sums
        grad = np.zeros(parts[0].grad.shape, dtype=np.float32)
        for c in parts:
            grad += c.grad
        extras = [c.extras for c in parts if c.extras is not None]
        yield key, Reduced(grad, np.sum(extras, axis=0) if extras else None, sum(c.samples for c in parts),
                           max(c.compute_seconds for c in parts), time.perf_counter() - tic)
