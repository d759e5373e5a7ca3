"""Neural Collaborative Filtering (He et al., 2017): GMF, MLP and NeuMF for implicit feedback.

Inputs are two int64 arrays ``(N,)``: user indices in ``[0, num_users)`` and item
indices in ``[0, num_items)``; the output is ``(N, 1)`` logits of "the user
interacts with the item" (train with ``BCEWithLogitsLoss`` on 0/1 targets made
by :func:`sample_negatives`; evaluate with :mod:`zoo.metrics.ranking`).

- GMF: element-wise product of a user and an item embedding (``mf_dim``), then the prediction layer.
- MLP: user and item embeddings (``mlp_layers[0] / 2`` each) concatenated, then a ReLU tower
  ``mlp_layers[1:]``, then the prediction layer.
- NeuMF: both, with separate embeddings, their last layers concatenated before the prediction layer.

Embeddings start from ``N(0, 0.01)`` as in the paper.

Examples:
    >>> net = ncf(943, 1682, mode="neumf", mf_dim=8, mlp_layers=(64, 32, 16, 8))
    >>> net.forward(np.array([0, 1]), np.array([5, 7])).shape
    (2, 1)
"""
from __future__ import annotations

import os
from typing import Sequence

import numpy as np

from bigdl_runtime.nn import Graph, Input, Node, init
from bigdl_runtime.nn.layers.activation import ReLU
from bigdl_runtime.nn.layers.elementwise import Mul
from bigdl_runtime.nn.layers.embedding import Embedding
from bigdl_runtime.nn.layers.linear import Linear
from bigdl_runtime.nn.layers.shape import Concat

from zoo.metrics.ranking import contains

from .weights import apply_weights

MODES = ("gmf", "mlp", "neumf")


def _embedding(count: int, dim: int, name: str) -> Embedding:
    layer = Embedding(count, dim, name=name)
    layer.weight.data[...] = init.normal(layer.weight.data.shape, 0.0, 0.01)
    return layer


def ncf(num_users: int, num_items: int, mode: str = "neumf", mf_dim: int = 8,
        mlp_layers: Sequence[int] = (64, 32, 16, 8), weights: str | os.PathLike | None = None,
        include_top: bool = True) -> Graph:
    """Build GMF, MLP or NeuMF.

    Args:
        num_users: rows of the user embeddings.
        num_items: rows of the item embeddings.
        mode: ``"gmf"``, ``"mlp"`` or ``"neumf"``.
        mf_dim: GMF embedding size (predictive factors of GMF).
        mlp_layers: widths of the MLP: ``mlp_layers[0]`` is the concatenated
            embedding (even), the rest are the ReLU layers (the last is MLP's
            predictive factors).
        weights: None, ``"pretrained"`` (the catalog's ``ncf-movielens-100k``: NeuMF
            for 943 users and 1682 items with the default sizes) or a model file path.
        include_top: end with the prediction layer; else with the concatenated
            predictive factors ``(N, mf_dim + mlp_layers[-1])`` (per mode).

    Returns:
        a Graph ``(user, item) -> (N, 1)`` logits.
    """
    if mode not in MODES:
        raise ValueError(f"ncf: mode must be one of {MODES}, got {mode!r}")
    if mode != "gmf" and (len(mlp_layers) < 2 or mlp_layers[0] % 2):
        raise ValueError(f"ncf: mlp_layers needs an even first width and at least one hidden layer, got {mlp_layers}")
    user, item = Input(name="user"), Input(name="item")
    parts: list[Node] = []
    if mode in ("gmf", "neumf"):
        parts.append(Mul(name="gmf_product")(_embedding(num_users, mf_dim, "gmf_user_embedding")(user),
                                             _embedding(num_items, mf_dim, "gmf_item_embedding")(item)))
    if mode in ("mlp", "neumf"):
        half = mlp_layers[0] // 2
        h = Concat(dim=1, name="mlp_concat")(_embedding(num_users, half, "mlp_user_embedding")(user),
                                            _embedding(num_items, half, "mlp_item_embedding")(item))
        for k, (fan_in, fan_out) in enumerate(zip(mlp_layers[:-1], mlp_layers[1:]), start=1):
            h = ReLU(name=f"mlp_relu{k}")(Linear(fan_in, fan_out, name=f"mlp_fc{k}")(h))
        parts.append(h)
    h = parts[0] if len(parts) == 1 else Concat(dim=1, name="neumf_concat")(*parts)
    width = (mf_dim if mode != "mlp" else 0) + (mlp_layers[-1] if mode != "gmf" else 0)
    if include_top:
        h = Linear(width, 1, name="prediction")(h)
    model = Graph([user, item], h, name=mode)
    default = (num_users, num_items, mode, mf_dim, tuple(mlp_layers)) == (943, 1682, "neumf", 8, (64, 32, 16, 8))
    return apply_weights(model, weights, "ncf-movielens-100k" if default else None, "ncf")


def sample_negatives(user: np.ndarray, item: np.ndarray, num_items: int, negatives: int = 4,
                     seed: int = 0, seen: tuple[np.ndarray, np.ndarray] | None = None
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Training pairs for one epoch: every positive plus ``negatives`` sampled unseen items per positive.

    Args:
        user, item: the positive training interactions ``(N,)``.
        num_items: items are drawn uniformly from ``[0, num_items)``.
        negatives: negatives per positive (4 in the paper).
        seed: seeds this epoch's draw (use a new seed every epoch).
        seen: ``(users, items)`` that must never be drawn as negatives
            (default: the positives themselves; pass all interactions to also exclude held-out ones).

    Returns:
        ``(users, items, labels)``: int64, int64 and float32 ``(N * (1 + negatives), 1)`` labels,
        shuffled together.
    """
    gen = np.random.default_rng(seed)
    user, item = np.asarray(user, np.int64), np.asarray(item, np.int64)
    su, si = seen if seen is not None else (user, item)
    seen_keys = np.unique(np.asarray(su, np.int64) * num_items + np.asarray(si, np.int64))
    neg_user = np.repeat(user, negatives)
    neg_item = gen.integers(0, num_items, neg_user.size)
    bad = contains(seen_keys, neg_user * num_items + neg_item)
    while bad.any():  # redraw the collisions until every negative is unseen
        neg_item[bad] = gen.integers(0, num_items, int(bad.sum()))
        bad = contains(seen_keys, neg_user * num_items + neg_item)
    users = np.concatenate([user, neg_user])
    items = np.concatenate([item, neg_item])
    labels = np.concatenate([np.ones(user.size, np.float32), np.zeros(neg_user.size, np.float32)])[:, None]
    order = gen.permutation(users.size)
    return users[order], items[order], labels[order]
