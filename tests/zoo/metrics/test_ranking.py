"""Leave-one-out split, candidate sampling and HR@K / NDCG@K against hand-computed values."""
from __future__ import annotations

import math

import numpy as np
import pytest

from zoo.metrics.ranking import contains, evaluate_leave_one_out, hit_ratio_ndcg, leave_one_out, sample_candidates


def test_leave_one_out_holds_out_the_latest_interaction():
    user = np.array([0, 0, 1, 0, 1, 2])
    item = np.array([5, 6, 7, 8, 9, 1])
    time = np.array([10, 30, 5, 20, 5, 1])  # user 1: tie in time -> the later row
    train, test_user, test_item = leave_one_out(user, item, time)
    assert train.tolist() == [True, False, True, True, False, False]
    assert test_user.tolist() == [0, 1, 2] and test_item.tolist() == [6, 9, 1]


def test_candidates_are_unseen_unique_and_seeded():
    user = np.array([0, 0, 0, 1])
    item = np.array([0, 1, 2, 3])
    users, items = sample_candidates(np.array([0, 1]), np.array([2, 3]), user, item, num_items=10, negatives=5, seed=3)
    assert users.tolist() == [[0] * 6, [1] * 6] and items[:, 0].tolist() == [2, 3]
    assert not set(items[0, 1:]) & {0, 1, 2} and 3 not in items[1, 1:]
    assert all(len(set(row[1:])) == 5 for row in items.tolist())
    np.testing.assert_array_equal(sample_candidates(np.array([0, 1]), np.array([2, 3]), user, item, 10, 5, 3)[1], items)


def test_hit_ratio_and_ndcg_by_hand():
    scores = np.array([[0.9, 0.1, 0.2, 0.3],    # rank 0: hit, ndcg 1
                       [0.5, 0.9, 0.1, 0.2],    # rank 1: hit, ndcg log2/log3
                       [0.1, 0.9, 0.8, 0.7],    # rank 3: miss at k=2
                       [0.4, 0.4, 0.1, 0.1]])   # tie counted against: rank 1
    result = hit_ratio_ndcg(scores, k=2)
    assert result["hr"] == pytest.approx(3 / 4)
    assert result["ndcg"] == pytest.approx((1 + 2 * math.log(2) / math.log(3)) / 4)
    assert hit_ratio_ndcg(np.zeros((3, 5)), k=4)["hr"] == 0.0  # constant scores never hit


def test_evaluate_calls_the_scorer_on_flat_pairs():
    users, items = np.array([[0, 0, 0], [1, 1, 1]]), np.array([[2, 5, 7], [4, 1, 0]])
    result = evaluate_leave_one_out(lambda u, i: -np.abs(i - 2 - u), (users, items), k=1)
    assert result == {"hr": 1.0, "ndcg": 1.0}


def test_contains():
    keys = np.array([1, 4, 9])
    assert contains(keys, np.array([0, 1, 5, 9, 10])).tolist() == [False, True, False, True, False]
    assert contains(np.array([], np.int64), np.array([3])).tolist() == [False]
