"""Linear-algebra layers: Det (``torch.linalg.det``, ONNX Det)."""
from __future__ import annotations

from ...kernels import linalg as K
from .activation import _Activation


class Det(_Activation):
    """The determinant of each square matrix over the last two axes.

    Shape:
        - Input: ``(*, n, n)``.
        - Output: ``(*)``. The gradient needs invertible matrices.

    Examples:
        >>> Det()(np.array([[2.0, 1.0], [1.0, 3.0]]))
        array(5.)
    """

    _kernels = (K.det_forward, K.det_backward)
