"""Embedding: a trainable lookup table of vectors."""
from __future__ import annotations

from typing import Any


from ...kernels.embedding import embedding_backward, embedding_forward
from .. import init
from ..kernel_layer import _KernelLayer
from ..module import Parameter


class Embedding(_KernelLayer):
    """Map integer indices to rows of a learned ``(num_embeddings, embedding_dim)`` table.

    Args:
        num_embeddings: vocabulary size.
        embedding_dim: size of each vector.
        padding_idx: a row (negative counts from the end) initialised to zeros that never receives a gradient.
        name: optional layer name.

    Shape:
        - Input: integer array ``(*)`` with values in ``[0, num_embeddings)``.
        - Output: ``(*, embedding_dim)``.

    The weight is drawn from ``N(0, 1)`` like PyTorch. ``backward`` returns
    ``None`` (indices have no gradient) and accumulates the weight gradient.

    Examples:
        >>> emb = Embedding(10, 3, padding_idx=0)
        >>> emb(np.array([[1, 2, 4, 5], [4, 3, 2, 9]])).shape
        (2, 4, 3)
    """

    aliases = ("LookupTable",)
    _kernels = (embedding_forward, embedding_backward)
    _kernel_params = ("weight",)
    _kernel_keywords = {"padding_idx": "padding_idx"}

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None,
                 name: str | None = None) -> None:
        super().__init__(name=name)
        self.num_embeddings = int(num_embeddings)
        self.embedding_dim = int(embedding_dim)
        if padding_idx is not None:
            if not -self.num_embeddings <= padding_idx < self.num_embeddings:
                raise ValueError(f"{type(self).__name__}: padding_idx {padding_idx} is out of range "
                                 f"for {self.num_embeddings} embeddings")
            padding_idx = int(padding_idx) % self.num_embeddings
        self.padding_idx = padding_idx
        self.weight = Parameter(init.normal((self.num_embeddings, self.embedding_dim), 0.0, 1.0))
        if padding_idx is not None:
            self.weight.data[padding_idx] = 0
    def get_config(self) -> dict[str, Any]:
        return {"num_embeddings": self.num_embeddings, "embedding_dim": self.embedding_dim,
                "padding_idx": self.padding_idx}
