"""Activation kernels: gradients by finite differences, forwards against ONNX, dtype, stability, erf."""
from __future__ import annotations

import math

import numpy as np
import pytest

from bigdl_runtime.kernels import activation as K
from tests.helpers.gradcheck import check_kernel
from tests.helpers.onnx_ref import run_node


def pair(op: str):
    return getattr(K, f"{op}_forward"), getattr(K, f"{op}_backward")


# (op, input shape, extra positional arrays' shapes, config); inputs ~ 3 * N(0, 1)
GRAD_CASES = [
    ("relu", (3, 5), [], {}),
    ("relu", (2, 3, 4), [], {"keep_mask": False}),  # the cache is the output (inference)
    ("leaky_relu", (2, 3, 5), [], {}),
    ("leaky_relu", (7,), [], {"negative_slope": 0.3}),
    ("prelu", (2, 3, 4, 5), [(3,)], {}),
    ("prelu", (3, 5), [(5,)], {}),
    ("prelu", (2, 3, 5), [(1,)], {}),
    ("elu", (3, 7), [], {}),
    ("elu", (2, 5), [], {"alpha": 0.5}),
    ("selu", (3, 7), [], {}),
    ("gelu", (3, 7), [], {"approximate": "none"}),
    ("gelu", (3, 7), [], {"approximate": "tanh"}),
    ("sigmoid", (2, 3, 5), [], {}),
    ("tanh", (5, 3), [], {}),
    ("hard_sigmoid", (4, 7), [], {}),
    ("hard_sigmoid", (4, 7), [], {"alpha": 0.2, "beta": 0.3}),
    ("hard_swish", (4, 7), [], {}),
    ("softplus", (3, 7), [], {}),
    ("softplus", (3, 7), [], {"beta": 2.0, "threshold": 3.0}),
    ("softmax", (3, 5), [], {}),
    ("softmax", (3, 4, 2), [], {"axis": 1}),
    ("softmax", (3, 4, 2), [], {"axis": 0}),
    ("log_softmax", (3, 5), [], {}),
    ("log_softmax", (2, 3, 5), [], {"axis": -2}),
]


def _arrays(shape, extra, seed=0):
    rng = np.random.default_rng(seed)
    return [3.0 * rng.standard_normal(shape)] + [rng.uniform(-0.5, 0.5, s) for s in extra]


@pytest.mark.parametrize("op, shape, extra, config", GRAD_CASES)
def test_backward_matches_finite_differences(op, shape, extra, config):
    check_kernel(*pair(op), _arrays(shape, extra), config)


@pytest.mark.parametrize("op, shape, extra, config", GRAD_CASES)
def test_float32_stays_float32(op, shape, extra, config):
    forward, backward = pair(op)
    arrays = [a.astype(np.float32) for a in _arrays(shape, extra)]
    y, cache = forward(*arrays, **config)
    assert y.dtype == np.float32
    grads = backward(np.ones_like(y), cache)
    assert len(grads) == len(arrays)
    assert all(g.dtype == np.float32 and g.shape == a.shape for g, a in zip(grads, arrays))


# (op, config, ONNX op, ONNX attributes, opset)
ONNX_CASES = [
    ("relu", {}, "Relu", {}, 18),
    ("leaky_relu", {"negative_slope": 0.2}, "LeakyRelu", {"alpha": 0.2}, 18),
    ("elu", {"alpha": 0.7}, "Elu", {"alpha": 0.7}, 18),
    ("selu", {}, "Selu", {}, 18),
    ("gelu", {"approximate": "none"}, "Gelu", {}, 20),
    ("gelu", {"approximate": "tanh"}, "Gelu", {"approximate": "tanh"}, 20),
    ("sigmoid", {}, "Sigmoid", {}, 18),
    ("tanh", {}, "Tanh", {}, 18),
    ("hard_sigmoid", {"alpha": 0.2, "beta": 0.5}, "HardSigmoid", {}, 18),
    ("hard_sigmoid", {}, "HardSigmoid", {"alpha": 1 / 6, "beta": 0.5}, 18),
    ("hard_swish", {}, "HardSwish", {}, 18),
    ("softplus", {}, "Softplus", {}, 18),
    ("softmax", {"axis": 1}, "Softmax", {"axis": 1}, 13),
    ("softmax", {}, "Softmax", {}, 13),
    ("log_softmax", {"axis": 0}, "LogSoftmax", {"axis": 0}, 13),
    ("log_softmax", {}, "LogSoftmax", {}, 13),
]


@pytest.mark.parametrize("op, config, onnx_op, attrs, opset", ONNX_CASES)
def test_forward_matches_onnx(op, config, onnx_op, attrs, opset):
    x = (4.0 * np.random.default_rng(1).standard_normal((3, 4, 5))).astype(np.float32)
    y, _ = pair(op)[0](x, **config)
    (expected,) = run_node(onnx_op, [x], opset=opset, **attrs)
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("slope_shape", [(1,), (3,)])
def test_prelu_matches_onnx(slope_shape):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    slope = rng.uniform(0.05, 0.5, slope_shape).astype(np.float32)
    y, _ = K.prelu_forward(x, slope)
    onnx_slope = slope.reshape(slope.size, 1, 1) if slope.size > 1 else slope
    (expected,) = run_node("PRelu", [x, onnx_slope])
    np.testing.assert_allclose(y, expected, rtol=1e-6, atol=1e-7)


def test_prelu_rejects_wrong_channel_count():
    with pytest.raises(ValueError, match=r"4 slopes.*\(2, 3, 5\)"):
        K.prelu_forward(np.zeros((2, 3, 5)), np.ones(4))


def test_gelu_rejects_unknown_approximation():
    with pytest.raises(ValueError, match="approximate"):
        K.gelu_forward(np.zeros(3), approximate="erf")


def test_extreme_inputs_do_not_overflow():
    x = np.array([[-1000.0, 1000.0, 0.0]], dtype=np.float32)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        results = {op: pair(op)[0](x)[0] for op in ("sigmoid", "softplus", "softmax", "log_softmax")}
        grads = {op: pair(op)[1](np.ones_like(x), pair(op)[0](x)[1])[0] for op in results}
    np.testing.assert_allclose(results["sigmoid"], [[0.0, 1.0, 0.5]])
    np.testing.assert_allclose(results["softplus"], [[0.0, 1000.0, math.log(2.0)]], rtol=1e-6)
    np.testing.assert_allclose(results["softmax"], [[0.0, 1.0, 0.0]])
    np.testing.assert_allclose(results["log_softmax"], [[-2000.0, 0.0, -1000.0]])
    np.testing.assert_allclose(grads["sigmoid"], [[0.0, 0.0, 0.25]])
    assert all(np.isfinite(g).all() for g in grads.values())


def test_erf_matches_math_erf_to_float64_precision():
    x = np.concatenate([np.linspace(-7.0, 7.0, 4001), np.geomspace(1e-300, 30.0, 500), [0.5, 4.0, -4.0]])
    expected = np.array([math.erf(v) for v in x])
    np.testing.assert_allclose(K.erf(x), expected, rtol=1e-15, atol=0)


def test_erf_special_values_and_float32():
    np.testing.assert_array_equal(K.erf(np.array([np.inf, -np.inf, 0.0, 40.0])), [1.0, -1.0, 0.0, 1.0])
    assert np.isnan(K.erf(np.array([np.nan]))[0])
    x = np.linspace(-5, 5, 101, dtype=np.float32)
    y = K.erf(x)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, [math.erf(v) for v in x.astype(np.float64)], atol=3e-7)
