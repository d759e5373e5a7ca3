"""LocalResponseNorm: Caffe/AlexNet local response normalisation, across or within channels."""
from __future__ import annotations

from typing import Any


from ...kernels import lrn as K
from ..kernel_layer import _KernelLayer


class LocalResponseNorm(_KernelLayer):
    """Divide each value by a power of the sum of squares in a window around it.

    ``region="across"``: ``y = x / (k + alpha / size * sum_{c' near c} x[c']^2) ** beta`` over
    ``size`` neighbouring channels (Caffe ``ACROSS_CHANNELS``, ONNX LRN, ``torch.nn.LocalResponseNorm``
    for odd sizes). ``region="within"``: the same over a ``size x size`` spatial window of each
    channel with ``alpha / size^2`` (Caffe ``WITHIN_CHANNEL``, where ``k = 1``). Windows are
    clipped at the borders.

    Args:
        size: window size (channels, or the side of the spatial square).
        alpha: scale of the sum of squares. Default: 1e-4.
        beta: exponent. Default: 0.75.
        k: additive constant. Default: 1.
        region: ``"across"`` (channels) or ``"within"`` (a channel's spatial neighbourhood).
        name: optional layer name.

    Shape:
        - Input: ``(N, C, *)`` (``(N, C, H, W)`` for ``"within"``).
        - Output: same shape as the input.

    Examples:
        >>> lrn = LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0)
        >>> lrn(np.ones((2, 96, 55, 55), np.float32)).shape
        (2, 96, 55, 55)
    """

    aliases = ("SpatialCrossMapLRN", "SpatialWithinChannelLRN")
    _kernel_keywords = {"size": "size", "alpha": "alpha", "beta": "beta", "k": "k"}

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0,
                 region: str = "across", name: str | None = None) -> None:
        super().__init__(name=name)
        if region not in ("across", "within"):
            raise ValueError(f"LocalResponseNorm: region must be 'across' or 'within', got {region!r}")
        if int(size) < 1:
            raise ValueError(f"LocalResponseNorm: size must be >= 1, got {size}")
        self.size, self.alpha, self.beta, self.k = int(size), float(alpha), float(beta), float(k)
        self.region = region

    @property
    def _kernels(self) -> tuple[Any, Any]:  # type: ignore[override]
        if self.region == "across":
            return K.lrn_across_forward, K.lrn_across_backward
        return K.lrn_within_forward, K.lrn_within_backward
    def get_config(self) -> dict[str, Any]:
        return {"size": self.size, "alpha": self.alpha, "beta": self.beta, "k": self.k, "region": self.region}
