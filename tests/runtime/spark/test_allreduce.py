"""Reduce-scatter through the shuffle and treeAggregate: exact sums in a fixed order, more slices
than gradient elements, fp16 on the wire, extras and timings."""
from __future__ import annotations

import numpy as np
import pytest

from bigdl_runtime.spark.allreduce import (Contribution, _slices, _sum_slices, compress_array, reduce_scatter,
                                           tree_reduce)


def contributions(rng: np.random.Generator, partitions: int, size: int) -> list[Contribution]:
    return [Contribution(p, rng.standard_normal(size).astype(np.float32), rng.standard_normal(3), 0.01 * (p + 1), p + 2)
            for p in range(partitions)]


def ordered_sum(parts: list[Contribution]) -> np.ndarray:
    total = np.zeros_like(parts[0].grad)
    for c in parts:
        total += c.grad
    return total


@pytest.mark.parametrize("partitions, size", [(1, 5), (3, 10), (4, 3)])   # (4, 3): a slice is empty
def test_shuffle_and_tree_give_the_partition_order_sum(spark, rng, partitions, size):
    parts = contributions(rng, partitions, size)
    rdd = spark.sparkContext.parallelize(parts, partitions)
    for reduced in (reduce_scatter(rdd, partitions), tree_reduce(rdd)):
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
    for reduced in (reduce_scatter(rdd, 3, compress="fp16"), tree_reduce(rdd, compress="fp16")):
        assert reduced.grad.dtype == np.float32
        assert np.all(np.abs(reduced.grad - exact) <= bound)
        assert not np.array_equal(reduced.grad, exact)


def test_slices_cover_the_gradient_and_only_slice_zero_carries_extras(rng):
    c = contributions(rng, 1, 7)[0]
    pieces = list(_slices(c, num_slices=3, compress="fp16"))
    assert [j for j, _ in pieces] == [0, 1, 2]
    assert all(p.grad.dtype == np.float16 for _, p in pieces)
    np.testing.assert_array_equal(np.concatenate([p.grad for _, p in pieces]), c.grad.astype(np.float16))
    assert pieces[0][1].extras is c.extras and pieces[1][1].extras is None


def test_reduce_side_sum_does_not_depend_on_arrival_order(rng):
    parts = contributions(rng, 5, 64)
    pairs = [(0, c) for c in parts]
    first = list(_sum_slices(pairs))[0][1].grad
    second = list(_sum_slices(pairs[::-1]))[0][1].grad
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(first, ordered_sum(parts))


def test_unknown_compression():
    with pytest.raises(ValueError, match="compress must be one of"):
        compress_array(np.zeros(2, np.float32), "int8")
