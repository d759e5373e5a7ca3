"""Upsample kernels (nearest, bilinear): gradients, ONNX Resize, and PyTorch's F.interpolate."""
from __future__ import annotations

import numpy as np
import pytest

from bigdl_runtime.kernels import resize as K
from tests.helpers.gradcheck import check_kernel
from tests.helpers.onnx_ref import run_node

NEAREST = [  # (input shape, config)
    ((1, 2, 3, 4), {"scale_factor": 2}),
    ((2, 1, 3, 2), {"scale_factor": (1.5, 2.5)}),
    ((1, 2, 4, 5), {"scale_factor": 0.5}),
    ((1, 1, 3, 4), {"size": (5, 7)}),
    ((1, 2, 5, 3), {"size": (2, 3)}),
]
BILINEAR = [
    ((1, 2, 3, 4), {"scale_factor": 2}),
    ((2, 1, 3, 2), {"scale_factor": (1.5, 2.5)}),
    ((1, 2, 4, 5), {"scale_factor": (0.5, 0.6)}),
    ((1, 1, 3, 4), {"size": (5, 3)}),
    ((1, 2, 3, 4), {"scale_factor": 2, "align_corners": True}),
    ((1, 1, 3, 4), {"size": (5, 7), "align_corners": True}),
    ((1, 1, 3, 4), {"size": (1, 2), "align_corners": True}),
]
CASES = [("upsample_nearest", s, c) for s, c in NEAREST] + [("upsample_bilinear", s, c) for s, c in BILINEAR]


def pair(op):
    return getattr(K, f"{op}_forward"), getattr(K, f"{op}_backward")


def _x(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


@pytest.mark.parametrize("op, shape, config", CASES)
def test_backward_matches_finite_differences(op, shape, config):
    check_kernel(*pair(op), [_x(shape)], config)


def _onnx_resize(x, config, **attrs):
    if "size" in config:
        sizes = np.array([*x.shape[:2], *config["size"]], np.int64)
        return run_node("Resize", [x, None, None, sizes], **attrs)[0]
    scale = np.broadcast_to(np.asarray(config["scale_factor"], np.float32), (2,))
    return run_node("Resize", [x, None, np.array([1, 1, *scale], np.float32)], **attrs)[0]


@pytest.mark.parametrize("op, shape, config", CASES)
def test_forward_matches_onnx_resize(op, shape, config):
    x = _x(shape, seed=1).astype(np.float32)
    y, cache = pair(op)[0](x, **config)
    if op == "upsample_nearest":
        attrs = {"mode": "nearest", "coordinate_transformation_mode": "asymmetric", "nearest_mode": "floor"}
    else:
        transform = "align_corners" if config.get("align_corners") else "half_pixel"
        attrs = {"mode": "linear", "coordinate_transformation_mode": transform}
    np.testing.assert_allclose(y, _onnx_resize(x, config, **attrs), rtol=1e-6, atol=1e-6)
    assert y.dtype == np.float32 and pair(op)[1](np.ones_like(y), cache)[0].dtype == np.float32


TORCH_CASES = CASES + [
    ("upsample_nearest", (1, 1, 3, 3), {"scale_factor": 2.2}),  # out == 2 * in: PyTorch's dst // 2 shortcut
    ("upsample_nearest", (1, 1, 3, 5), {"scale_factor": (1.2, 1.7)}),  # out == in on H: copy
    ("upsample_bilinear", (2, 3, 7, 5), {"scale_factor": (1.7, 2.3)}),
    ("upsample_bilinear", (2, 3, 7, 5), {"size": (4, 11), "align_corners": True}),
]


@pytest.mark.parametrize("op, shape, config", TORCH_CASES)
def test_forward_and_backward_match_torch(op, shape, config):
    import torch
    x = _x(shape, seed=2).astype(np.float32)
    y, cache = pair(op)[0](x, **config)
    dy = _x(y.shape, seed=3).astype(np.float32)
    (dx,) = pair(op)[1](dy, cache)
    mode = op.removeprefix("upsample_")
    tx = torch.tensor(x, requires_grad=True)
    options = {"align_corners": config.get("align_corners", False)} if mode == "bilinear" else {}
    size_or_scale = {k: v for k, v in config.items() if k in ("size", "scale_factor")}
    ty = torch.nn.functional.interpolate(tx, mode=mode, **size_or_scale, **options)
    ty.backward(torch.tensor(dy))
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("op", ["upsample_nearest", "upsample_bilinear"])
@pytest.mark.parametrize("shape, config, message", [
    ((2, 3, 4), {"scale_factor": 2}, r"NCHW input, got shape \(2, 3, 4\)"),
    ((1, 1, 2, 2), {}, "exactly one of"),
    ((1, 1, 2, 2), {"scale_factor": 2, "size": 4}, "exactly one of"),
    ((1, 1, 2, 2), {"scale_factor": 0.2}, "output size"),
])
def test_bad_arguments_raise_value_error(op, shape, config, message):
    with pytest.raises(ValueError, match=message):
        pair(op)[0](np.zeros(shape), **config)
