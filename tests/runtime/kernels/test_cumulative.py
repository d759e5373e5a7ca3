"""CumSum/CumProd kernels: finite-difference gradients (float64, zeros included), forwards vs the ONNX reference."""
from __future__ import annotations

import numpy as np
import pytest

from bigdl_runtime.kernels import cumulative as K
from tests.helpers.gradcheck import check_kernel
from tests.helpers.onnx_ref import run_node

FLAGS = [(False, False), (True, False), (False, True), (True, True)]


@pytest.mark.parametrize("exclusive,reverse", FLAGS)
@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("op", ["cumsum", "cumprod"])
def test_backward_matches_finite_differences(op: str, axis: int, exclusive: bool, reverse: bool) -> None:
    x = np.random.default_rng(0).standard_normal((3, 4, 5))
    x[1, 2, 1] = 0.0  # the product's gradient must be exact at a zero
    check_kernel(getattr(K, f"{op}_forward"), getattr(K, f"{op}_backward"), [x],
                 {"axis": axis, "exclusive": exclusive, "reverse": reverse})


@pytest.mark.parametrize("exclusive,reverse", FLAGS)
@pytest.mark.parametrize("op,onnx_op,opset", [("cumsum", "CumSum", 14), ("cumprod", "CumProd", 26)])
def test_forward_matches_onnx(op: str, onnx_op: str, opset: int, exclusive: bool, reverse: bool) -> None:
    x = np.random.default_rng(1).standard_normal((2, 5)).astype(np.float32)
    y, _ = getattr(K, f"{op}_forward")(x, axis=1, exclusive=exclusive, reverse=reverse)
    want = run_node(onnx_op, [x, np.array(1, np.int64)], opset=opset, exclusive=int(exclusive),
                    reverse=int(reverse))[0]
    np.testing.assert_allclose(y, want, rtol=1e-6)
    assert y.dtype == np.float32
