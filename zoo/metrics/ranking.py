"""Leave-one-out evaluation of implicit-feedback recommenders (He et al., 2017, section 4.1).

Each user's latest interaction is held out; the model ranks it among 99 items
the user never interacted with; HR@K is the fraction of users whose held-out
item is in the top K, NDCG@K rewards it by ``log(2) / log(rank + 2)`` (rank 0 =
top). Ties are counted against the held-out item (a negative scoring the same
ranks above it), so constant scores give HR@10 = 0, not a lucky 1.

Examples:
    >>> train, test_user, test_item = leave_one_out(user, item, timestamp)
    >>> candidates = sample_candidates(test_user, test_item, user, item, num_items, 99, seed=0)
    >>> evaluate_leave_one_out(lambda u, i: model.forward(u, i)[:, 0], candidates, k=10)
    {'hr': 0.68, 'ndcg': 0.40}
"""
from __future__ import annotations

from typing import Callable

import numpy as np


def leave_one_out(user: np.ndarray, item: np.ndarray,
                  timestamp: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hold out each user's latest interaction.

    Args:
        user, item, timestamp: parallel ``(N,)`` arrays; ties in time go to the later row.

    Returns:
        ``(train_mask, test_user, test_item)``: a bool ``(N,)`` mask of the rows kept
        for training, and one held-out item per user (users sorted ascending).
    """
    user, timestamp = np.asarray(user), np.asarray(timestamp)
    order = np.lexsort((np.arange(len(user)), timestamp, user))  # by user, then time, then row
    last = order[np.r_[user[order][1:] != user[order][:-1], True]]
    train = np.ones(len(user), dtype=bool)
    train[last] = False
    return train, user[last], np.asarray(item)[last]


def sample_candidates(test_user: np.ndarray, test_item: np.ndarray, user: np.ndarray, item: np.ndarray,
                      num_items: int, negatives: int = 99, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """For each held-out pair, the candidate list: the held-out item then ``negatives`` unseen items.

    Negatives are drawn uniformly without repetition among items the user never
    interacted with (in ``user``/``item``, which should be all interactions).

    Returns:
        ``(users, items)``, both int64 ``(U, 1 + negatives)``; column 0 is the held-out item.
    """
    gen = np.random.default_rng(seed)
    seen = _pair_keys(user, item, num_items)
    rows = []
    for u, positive in zip(test_user, test_item):
        chosen: list[int] = []
        while len(chosen) < negatives:
            draw = gen.integers(0, num_items, 2 * negatives)
            fresh = draw[~contains(seen, u * num_items + draw)]
            for d in fresh:
                if d not in chosen:
                    chosen.append(int(d))
                if len(chosen) == negatives:
                    break
        rows.append([int(positive), *chosen])
    items = np.asarray(rows, dtype=np.int64)
    return np.repeat(np.asarray(test_user, np.int64)[:, None], items.shape[1], axis=1), items


def hit_ratio_ndcg(scores: np.ndarray, k: int = 10) -> dict[str, float]:
    """HR@k and NDCG@k of ``(U, C)`` candidate scores whose column 0 is the held-out item."""
    scores = np.asarray(scores, dtype=np.float64)
    rank = (scores[:, 1:] >= scores[:, :1]).sum(axis=1)  # negatives at or above the held-out item
    hit = rank < k
    return {"hr": float(hit.mean()), "ndcg": float(np.where(hit, np.log(2) / np.log(rank + 2.0), 0.0).mean())}


def evaluate_leave_one_out(score: Callable[[np.ndarray, np.ndarray], np.ndarray],
                           candidates: tuple[np.ndarray, np.ndarray], k: int = 10) -> dict[str, float]:
    """HR@k and NDCG@k of ``score(users, items) -> (M,)`` over :func:`sample_candidates` output."""
    users, items = candidates
    flat = np.asarray(score(users.reshape(-1), items.reshape(-1)), dtype=np.float64).reshape(users.shape)
    return hit_ratio_ndcg(flat, k)


def _pair_keys(user: np.ndarray, item: np.ndarray, num_items: int) -> np.ndarray:
    return np.unique(np.asarray(user, np.int64) * num_items + np.asarray(item, np.int64))


def contains(sorted_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Membership of ``keys`` in the sorted unique array ``sorted_keys`` (binary search, no re-sorting)."""
    if not len(sorted_keys):
        return np.zeros(np.shape(keys), bool)
    at = np.searchsorted(sorted_keys, keys)
    return sorted_keys[np.minimum(at, len(sorted_keys) - 1)] == keys
