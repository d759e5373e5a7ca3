"""Pretrained word vectors (GloVe / word2vec text format) into an Embedding layer's weights."""
from __future__ import annotations

import io
import os
from dataclasses import dataclass, field

import numpy as np

from .vocab import PAD_ID, WordIndex


@dataclass
class Coverage:
    """How much of a vocabulary a vectors file covered.

    Attributes:
        found: vocabulary words that got a pretrained vector.
        total: vocabulary words (padding and unknown not counted).
        missing: the words without a vector, most frequent first.
        dim: the vector size.
    """

    found: int
    total: int
    dim: int
    missing: list[str] = field(default_factory=list)

    @property
    def fraction(self) -> float:
        """``found / total`` (1.0 for an empty vocabulary)."""
        return self.found / self.total if self.total else 1.0

    def summary(self) -> str:
        """One line, e.g. ``GloVe covers 9120/10000 words (91.2%); missing: foo, bar, ...``."""
        shown = ", ".join(self.missing[:10]) + (", ..." if len(self.missing) > 10 else "")
        return (f"GloVe covers {self.found}/{self.total} words ({100 * self.fraction:.1f}%), dim {self.dim}"
                + (f"; missing: {shown}" if self.missing else ""))


def glove_matrix(path: str | os.PathLike, word_index: WordIndex, seed: int = 0,
                 missing_std: float | None = None) -> tuple[np.ndarray, Coverage]:
    """Build an ``(len(word_index), dim)`` float32 weight matrix from a text vectors file.

    Each line is ``word v1 ... vd`` (GloVe; a word2vec ``count dim`` header line is
    skipped; words may contain spaces, the last ``d`` fields are the vector).
    Only vocabulary words are kept in memory. Row 0 (padding) is zeros; rows of
    words without a vector, and the unknown row, get ``N(0, missing_std)`` draws
    from ``seed`` (default std: that of the pretrained vectors found).

    Args:
        path: the vectors file (UTF-8 text).
        word_index: the vocabulary.
        seed: seeds the random rows.
        missing_std: std of the random rows.

    Returns:
        ``(matrix, coverage)``.

    Raises:
        ValueError: a malformed line (named by its number) or vectors of different sizes.
    """
    vectors: dict[int, np.ndarray] = {}
    dim = None
    with io.open(path, encoding="utf-8", errors="strict") as f:
        for line_no, line in enumerate(f, start=1):
            fields = line.rstrip("\n\r").rstrip(" ").split(" ")
            if not fields or fields == [""]:
                continue
            if line_no == 1 and len(fields) == 2 and all(x.isdigit() for x in fields):
                continue
            if dim is None:
                dim = len(fields) - 1
                if dim < 1:
                    raise ValueError(f"{path} line {line_no}: expected 'word v1 ... vd', got {line[:80]!r}")
            if len(fields) < dim + 1:
                raise ValueError(f"{path} line {line_no}: {len(fields) - 1} values, expected {dim}")
            word = " ".join(fields[:len(fields) - dim])
            wid = word_index.id(word)
            if wid < 2 or wid in vectors:
                continue
            try:
                vectors[wid] = np.array(fields[len(fields) - dim:], dtype=np.float32)
            except ValueError:
                raise ValueError(f"{path} line {line_no}: non-numeric vector for {word!r}") from None
    if dim is None:
        raise ValueError(f"{path} holds no vectors")
    found = np.stack(list(vectors.values())) if vectors else np.zeros((0, dim), np.float32)
    std = float(missing_std) if missing_std is not None else (float(found.std()) if len(found) else 0.1)
    rng = np.random.default_rng(seed)
    matrix = rng.normal(0.0, std, size=(len(word_index), dim)).astype(np.float32)
    matrix[PAD_ID] = 0.0
    for wid, vec in vectors.items():
        matrix[wid] = vec
    missing = [w for w, i in word_index.items() if i not in vectors]
    return matrix, Coverage(found=len(vectors), total=len(word_index.words), dim=dim, missing=missing)


def load_glove(embedding: object, path: str | os.PathLike, word_index: WordIndex, seed: int = 0,
               missing_std: float | None = None, trainable: bool = True) -> Coverage:
    """Fill an ``Embedding`` layer's weights from a vectors file (see :func:`glove_matrix`).

    Args:
        embedding: a ``bigdl_runtime.nn.Embedding`` with ``num_embeddings >= len(word_index)``
            and ``embedding_dim`` equal to the file's vector size; rows beyond the
            vocabulary keep their values.
        path, word_index, seed, missing_std: as in :func:`glove_matrix`.
        trainable: False freezes the weights (fine-tuning leaves them alone).

    Returns:
        the :class:`Coverage`.

    Examples:
        >>> emb = Embedding(len(index), 50, padding_idx=0)
        >>> load_glove(emb, "glove.6B.50d.txt", index).summary()
        'GloVe covers 9120/10000 words (91.2%), dim 50; missing: ...'
    """
    matrix, coverage = glove_matrix(path, word_index, seed, missing_std)
    weight = embedding.weight  # type: ignore[attr-defined]
    rows, dim = weight.data.shape
    if dim != coverage.dim or rows < len(word_index):
        raise ValueError(f"{type(embedding).__name__} weight is {rows}x{dim}, the vectors need at least "
                         f"{len(word_index)}x{coverage.dim} ({path})")
    weight.data[:len(word_index)] = matrix.astype(weight.data.dtype)
    weight.trainable = bool(trainable)
    return coverage
