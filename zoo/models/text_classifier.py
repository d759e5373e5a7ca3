"""Recurrent text classifier: word embedding, stacked (bi)directional LSTM or GRU, dense head.

Input: int64 token ids ``(N, T)`` (0 = padding; see :mod:`zoo.catalog.preprocess`
for the tokenizer the shipped model's card describes). The embedding can start
from pretrained word vectors (e.g. GloVe) and be frozen. The recurrent stack's
outputs are reduced over time by ``pooling``: ``"last"`` (the final state of
each direction), ``"max"`` or ``"mean"`` over all time steps. The head is
optional dropout and ``Linear(features, num_classes)`` logits (train with
``CrossEntropyLoss``).

Examples:
    >>> net = text_classifier(vocab_size=20002, num_classes=2, embedding_dim=50, hidden_size=64,
    ...                       bidirectional=True, pooling="max")
    >>> net.forward(np.zeros((4, 200), np.int64)).shape
    (4, 2)
"""
from __future__ import annotations

import os
from typing import Sequence

import numpy as np

from bigdl_runtime.nn import Graph, Input
from bigdl_runtime.nn.layers.dropout import Dropout
from bigdl_runtime.nn.layers.embedding import Embedding
from bigdl_runtime.nn.layers.linear import Linear
from bigdl_runtime.nn.layers.pool import GlobalAvgPool2d, GlobalMaxPool2d
from bigdl_runtime.nn.layers.rnn import GRU, LSTM
from bigdl_runtime.nn.layers.shape import Flatten, Reshape, Transpose

from .weights import apply_weights

_RNNS = {"lstm": LSTM, "gru": GRU}
_POOLS = {"max": GlobalMaxPool2d, "mean": GlobalAvgPool2d}


def text_classifier(vocab_size: int, num_classes: int = 2, embedding_dim: int = 50,
                    embeddings: np.ndarray | None = None, freeze_embeddings: bool = False, rnn: str = "lstm",
                    hidden_size: int = 64, num_layers: int = 1, bidirectional: bool = False,
                    pooling: str = "last", dropout: float = 0.0, weights: str | os.PathLike | None = None,
                    include_top: bool = True) -> Graph:
    """Build the classifier.

    Args:
        vocab_size: rows of the embedding table (including padding id 0 and any unknown-word id).
        num_classes: logits of the head.
        embedding_dim: width of each word vector.
        embeddings: optional ``(vocab_size, embedding_dim)`` initial vectors (e.g. GloVe rows
            in vocabulary order); row 0 is the padding vector and is zeroed.
        freeze_embeddings: keep the embedding table fixed while training.
        rnn: ``"lstm"`` or ``"gru"``.
        hidden_size: features per direction of each recurrent layer.
        num_layers: stacked recurrent layers.
        bidirectional: add a reverse-direction recurrence per layer.
        pooling: ``"last"``, ``"max"`` or ``"mean"`` (over time, see the module doc).
        dropout: drop probability before the head (and between stacked recurrent layers).
        weights: None, or a model file path with the same parameter names
            (``"pretrained"`` is the catalog's ``lstm-imdb`` for its exact configuration:
            load it with ``zoo.load_pretrained("lstm-imdb")``, which also gives the vocabulary).
        include_top: end with the logits; else with the pooled features
            ``(N, hidden_size * directions)``.

    Returns:
        a Graph from ``(N, T)`` int token ids to ``(N, num_classes)`` logits.
    """
    if rnn not in _RNNS:
        raise ValueError(f"text_classifier: rnn must be one of {sorted(_RNNS)}, got {rnn!r}")
    if pooling not in ("last", *_POOLS):
        raise ValueError(f"text_classifier: pooling must be 'last', 'max' or 'mean', got {pooling!r}")
    embedding = Embedding(vocab_size, embedding_dim, padding_idx=0, name="embedding")
    if embeddings is not None:
        embeddings = np.asarray(embeddings, dtype=np.float32)
        if embeddings.shape != (vocab_size, embedding_dim):
            raise ValueError(f"text_classifier: embeddings must be ({vocab_size}, {embedding_dim}), "
                             f"got {embeddings.shape}")
        embedding.weight.data[...] = embeddings
        embedding.weight.data[0] = 0.0
    if freeze_embeddings:
        embedding.weight.trainable = False
    tokens = Input(name="tokens")
    features = hidden_size * (2 if bidirectional else 1)
    recurrent = _RNNS[rnn](embedding_dim, hidden_size, num_layers=num_layers, bidirectional=bidirectional,
                           dropout=dropout if num_layers > 1 else 0.0, return_sequences=pooling != "last",
                           name=rnn)
    h = recurrent(embedding(tokens))
    if pooling != "last":  # (N, T, F) -> (N, F, T, 1) -> pooled over T -> (N, F)
        h = Reshape([0, -1, 1], name="as_image")(Transpose([0, 2, 1], name="time_last")(h))
        h = Flatten(name="flatten")(_POOLS[pooling](name=f"{pooling}_over_time")(h))
    if include_top:
        if dropout > 0:
            h = Dropout(dropout, name="dropout")(h)
        h = Linear(features, num_classes, name="fc")(h)
    model = Graph(tokens, h, name="text_classifier")
    pretrained = "lstm-imdb" if _is_lstm_imdb(vocab_size, num_classes, embedding_dim, rnn, hidden_size,
                                               num_layers, bidirectional, pooling) else None
    return apply_weights(model, weights, pretrained, "text_classifier")


#: the configuration of the catalog's lstm-imdb model (see scripts/train_lstm_imdb.py)
LSTM_IMDB = {"vocab_size": 20002, "num_classes": 2, "embedding_dim": 50, "rnn": "lstm", "hidden_size": 64,
             "num_layers": 1, "bidirectional": True, "pooling": "max"}


def _is_lstm_imdb(*config: object) -> bool:
    return dict(zip(LSTM_IMDB, config)) == LSTM_IMDB


def pretrained_vectors(vocabulary: Sequence[str], vectors: dict[str, int], table: np.ndarray,
                       seed: int = 0, scale: float | None = None) -> tuple[np.ndarray, int]:
    """Embedding rows for ``vocabulary`` taken from a word-vector table (e.g. GloVe).

    Args:
        vocabulary: the tokens in id order (id 0 = padding gets zeros).
        vectors: word -> row of ``table``.
        table: ``(words, dim)`` word vectors.
        seed: seeds the random rows of words the table lacks.
        scale: standard deviation of those random rows (default: the table's).

    Returns:
        ``(len(vocabulary), dim)`` float32 rows, and how many words were found.
    """
    table = np.asarray(table)
    gen = np.random.default_rng(seed)
    std = float(table[: min(len(table), 10000)].std()) if scale is None else scale
    out = gen.normal(0.0, std, (len(vocabulary), table.shape[1])).astype(np.float32)
    out[0] = 0.0
    found = 0
    for i, word in enumerate(vocabulary[1:], start=1):
        row = vectors.get(word)
        if row is not None:
            out[i] = table[row]
            found += 1
    return out, found
