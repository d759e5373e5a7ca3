"""Reduce-scatter through the shuffle: exact sums in a fixed order, more slices than gradient elements,
fp16 on the wire, extras and timings."""
from __future__ import annotations

import numpy as np
import pytest

from bigdl_runtime.spark.allreduce import (Contribution, _chunks, _sum_chunks, chunk_owner, compress_array,
                                           num_chunks, reduce_scatter)


def contributions(rng: np.random.Generator, partitions: int, size: int) -> list[Contribution]:
    return [Contribution(p, rng.standard_normal(size).astype(np.float32), rng.standard_normal(3), 0.01 * (p + 1), p + 2)
            for p in range(partitions)]


def ordered_sum(parts: list[Contribution]) -> np.ndarray:
    total = np.zeros_like(parts[0].grad)
    for c in parts:
        total += c.grad
    return total


@pytest.mark.parametrize("partitions, size", [(1, 5), (3, 10), (4, 3)])   # (4, 3): a slice is empty
def test_shuffle_gives_the_partition_order_sum(spark, rng, partitions, size):
    parts = contributions(rng, partitions, size)
    rdd = spark.sparkContext.parallelize(parts, partitions)
    reduced = reduce_scatter(rdd, partitions)
    assert reduced.grad.dtype == np.float32
    np.testing.assert_array_equal(reduced.grad, ordered_sum(parts))
    np.testing.assert_allclose(reduced.extras, np.sum([c.extras for c in parts], axis=0), rtol=1e-12)
    assert reduced.samples == sum(c.samples for c in parts)
    assert reduced.compute_seconds == 0.01 * partitions
    assert reduced.sync_seconds >= 0.0


def test_fp16_is_close_but_not_equal(spark, rng):
    parts = contributions(rng, 3, 200)
    rdd = spark.sparkContext.parallelize(parts, 3)
    exact = ordered_sum(parts)
    bound = np.sum([np.abs(c.grad) for c in parts], axis=0) * 2.0**-11 + 1e-6   # float16 rounding, per term
    reduced = reduce_scatter(rdd, 3, compress="fp16")
    assert reduced.grad.dtype == np.float32
    assert np.all(np.abs(reduced.grad - exact) <= bound)
    assert not np.array_equal(reduced.grad, exact)


def test_chunks_cover_the_gradient_and_only_chunk_zero_carries_extras(rng):
    c = contributions(rng, 1, 7)[0]
    pieces = list(_chunks(c, num_slices=3, compress="fp16"))
    assert [key for key, _ in pieces] == [(0, 3), (1, 3), (2, 3)]
    assert all(p.grad.dtype == np.float16 for _, p in pieces)
    np.testing.assert_array_equal(np.concatenate([p.grad for _, p in pieces]), c.grad.astype(np.float16))
    assert pieces[0][1].extras is c.extras and pieces[1][1].extras is None


def test_reduce_side_sum_does_not_depend_on_arrival_order(rng):
    parts = contributions(rng, 5, 64)
    pairs = [((0, 1), c) for c in parts]
    first = list(_sum_chunks(pairs))[0][1].grad
    second = list(_sum_chunks(pairs[::-1]))[0][1].grad
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(first, ordered_sum(parts))


def test_big_gradients_cross_in_bounded_chunks_owned_by_contiguous_slices(rng):
    c = contributions(rng, 1, 1000)[0]                          # 4000 bytes, chunks of at most 400
    pieces = list(_chunks(c, num_slices=3, compress=None, chunk_bytes=400))
    assert len(pieces) == num_chunks(1000, 4, 3, chunk_bytes=400) == 10
    assert all(p.grad.nbytes <= 400 for _, p in pieces)
    np.testing.assert_array_equal(np.concatenate([p.grad for _, p in pieces]), c.grad)
    owners = [chunk_owner(k, 10, 3) for k in range(10)]
    assert owners == sorted(owners) and set(owners) == {0, 1, 2}   # each reduce task holds one contiguous slice
    assert num_chunks(2, 4, 3) == 3                                  # never fewer chunks than reduce tasks


def test_chunked_reduce_scatter_is_the_exact_sum(spark, rng):
    parts = contributions(rng, 3, 1000)
    rdd = spark.sparkContext.parallelize(parts, 3)
    reduced = reduce_scatter(rdd, 3, chunk_bytes=256)                 # 16 chunks over 3 reduce tasks
    np.testing.assert_array_equal(reduced.grad, ordered_sum(parts))
    np.testing.assert_allclose(reduced.extras, np.sum([c.extras for c in parts], axis=0), rtol=1e-12)
    assert reduced.samples == sum(c.samples for c in parts)


def test_unknown_compression():
    with pytest.raises(ValueError, match="compress must be one of"):
        compress_array(np.zeros(2, np.float32), "int8")
