"""Matrix-product layers: MatMul (batched, broadcasting) and Einsum.

They wrap :mod:`bigdl_runtime.kernels.matmul`; both take only runtime inputs (a
constant operand, e.g. an imported weight, comes from a ``TensorSource`` node and
so is trained like any parameter).
"""
from __future__ import annotations

import re
from typing import Any


from ...kernels import matmul as K
from ..kernel_layer import _MultiInputLayer


class MatMul(_MultiInputLayer):
    """``a @ b`` with numpy semantics (``torch.matmul``, ONNX MatMul).

    Shape:
        - Inputs: ``a (*, M, K)`` and ``b (*, K, N)``; batch axes broadcast; a 1-D
          ``a`` is a row ``(K,)`` and a 1-D ``b`` a column, their axis dropped from the output.
        - Output: ``(*, M, N)``. ``backward`` returns ``(da, db)`` shaped like the inputs.

    Examples:
        >>> MatMul()(np.ones((8, 2, 3)), np.ones((3, 4))).shape
        (8, 2, 4)
    """

    _kernels = (K.matmul_forward, K.matmul_backward)
    _arity = 2


class Einsum(_MultiInputLayer):
    """Einstein summation (``torch.einsum``, ONNX Einsum) over one or more inputs.

    Args:
        equation: subscripts such as ``"bij,bjk->bik"``; without ``->`` the output
            is the ``...`` axes then the letters that occur once, sorted. Repeated
            letters in one operand take its diagonal; ``...`` axes broadcast.

    Shape:
        - Inputs: one array per operand of ``equation``.
        - Output: as the equation says. ``backward`` returns one gradient per input
          (a single array for one input).

    Examples:
        >>> Einsum("bhqd,bhkd->bhqk")(np.ones((2, 4, 5, 8)), np.ones((2, 4, 6, 8))).shape
        (2, 4, 5, 6)
    """

    _kernels = (K.einsum_forward, K.einsum_backward)
    _kernel_keywords = {"equation": "equation"}

    def __init__(self, equation: str, name: str | None = None) -> None:
        super().__init__(name=name)
        if not re.fullmatch(r"[A-Za-z.,\s]*(->[A-Za-z.\s]*)?", str(equation)):
            raise ValueError(f"Einsum: bad equation {equation!r}: use letters, ',', '...' and one '->'")
        self.equation = str(equation)

    def get_config(self) -> dict[str, Any]:
        return {"equation": self.equation}
