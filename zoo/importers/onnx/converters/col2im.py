"""Col2Im: the image and block shapes are inputs, needed at import time."""
from __future__ import annotations

import numpy as np

from bigdl_runtime import nn

from ..context import OnnxNode
from ..registry import ONNX


@ONNX.register("Col2Im", since=18)
def col2im(node: OnnxNode):
    image = [int(v) for v in np.asarray(node.const(1, "image_shape")).reshape(-1)]
    block = [int(v) for v in np.asarray(node.const(2, "block_shape")).reshape(-1)]
    layer = nn.Col2Im(image, block, node.attr("dilations"), node.attr("pads"), node.attr("strides"))
    return node.apply(layer, [node.value(0)])
