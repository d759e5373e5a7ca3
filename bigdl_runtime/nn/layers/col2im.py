"""Col2Im (``torch.nn.Fold``, ONNX Col2Im): sliding blocks summed back into an image."""
from __future__ import annotations

from typing import Any, Sequence

from ...kernels import col2im as K
from .activation import _Activation


class Col2Im(_Activation):
    """Sum ``(N, C * prod(block_shape), L)`` sliding blocks into ``(N, C, *image_shape)``.

    Args:
        image_shape: the output's spatial shape.
        block_shape: the block's spatial shape.
        dilations, strides: per spatial axis (default 1).
        pads: ONNX begin-then-end pads (default 0).

    Examples:
        >>> Col2Im([2, 3], [1, 2])(np.ones((1, 2, 4))).shape
        (1, 1, 2, 3)
    """

    aliases = ("Fold",)
    _kernels = (K.col2im_forward, K.col2im_backward)

    def __init__(self, image_shape: Sequence[int], block_shape: Sequence[int], dilations: Sequence[int] | None = None,
                 pads: Sequence[int] | None = None, strides: Sequence[int] | None = None,
                 name: str | None = None) -> None:
        super().__init__(name=name)
        self.image_shape = [int(v) for v in image_shape]
        self.block_shape = [int(v) for v in block_shape]
        k = len(self.image_shape)
        self.dilations = [1] * k if dilations is None else [int(v) for v in dilations]
        self.pads = [0] * 2 * k if pads is None else [int(v) for v in pads]
        self.strides = [1] * k if strides is None else [int(v) for v in strides]

    def get_config(self) -> dict[str, Any]:
        return {"image_shape": self.image_shape, "block_shape": self.block_shape, "dilations": self.dilations,
                "pads": self.pads, "strides": self.strides}
