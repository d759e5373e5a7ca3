"""Col2Im kernel: finite-difference gradients (float64), forwards vs the ONNX reference."""
from __future__ import annotations

import numpy as np
import pytest

from bigdl_runtime.kernels import col2im as K
from tests.helpers.gradcheck import check_kernel
from tests.helpers.onnx_ref import run_node

CONFIGS = [  # image, block, dilations, pads, strides, L
    ([4, 5], [2, 2], None, [1, 0, 0, 1], [2, 2], 6),
    ([5, 5], [3, 2], [2, 1], None, None, 4),
    ([3, 4, 3], [2, 2, 2], None, None, None, 12),
]


@pytest.mark.parametrize("image,block,dilations,pads,strides,length", CONFIGS)
def test_backward_matches_finite_differences(image, block, dilations, pads, strides, length) -> None:
    x = np.random.default_rng(0).standard_normal((2, 2 * int(np.prod(block)), length))
    check_kernel(K.col2im_forward, K.col2im_backward, [x], {"image_shape": image, "block_shape": block,
                                                           "dilations": dilations, "pads": pads, "strides": strides})


@pytest.mark.parametrize("image,block,dilations,pads,strides,length", CONFIGS)
def test_forward_matches_onnx(image, block, dilations, pads, strides, length) -> None:
    x = np.random.default_rng(1).standard_normal((2, 3 * int(np.prod(block)), length)).astype(np.float32)
    attrs = {k: v for k, v in (("dilations", dilations), ("pads", pads), ("strides", strides)) if v is not None}
    y, _ = K.col2im_forward(x, image, block, dilations, pads, strides)
    want = run_node("Col2Im", [x, np.array(image, np.int64), np.array(block, np.int64)], **attrs)[0]
    np.testing.assert_allclose(y, want, rtol=1e-6, atol=1e-6)
