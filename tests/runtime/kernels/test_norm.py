"""norm kernels: batch norm (train / inference) and layer norm vs finite differences and ONNX."""
import numpy as np
import pytest

from bigdl_runtime.kernels.norm import (batch_norm_backward, batch_norm_forward, layer_norm_backward, layer_norm_forward,
                                        layer_norm_last_axis)
from tests.helpers.gradcheck import check_kernel
from tests.helpers.onnx_ref import run_node

BN_SHAPES = [(5, 3), (2, 3, 5), (2, 2, 3, 4), (3, 1, 2, 3), (2, 2, 1, 2, 3)]


def _bn_arrays(shape, rng, affine=True):
    c = shape[1]
    gamma = rng.standard_normal(c) if affine else None
    beta = rng.standard_normal(c) if affine else None
    return [rng.standard_normal(shape) * 2 + 1, gamma, beta, rng.standard_normal(c), rng.uniform(0.5, 2, c)]


@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape", BN_SHAPES)
def test_batch_norm_gradients(shape, training, affine, rng):
    arrays = _bn_arrays(shape, rng, affine)
    check_kernel(batch_norm_forward, batch_norm_backward, arrays, dict(training=training, eps=1e-3),
                 diff=[0, 1, 2] if affine else [0])


def test_batch_norm_backward_shape_of_results(rng):
    arrays = _bn_arrays((4, 3), rng, affine=False)
    y, cache = batch_norm_forward(*arrays, training=True)
    grads = batch_norm_backward(np.ones_like(y), cache)
    assert len(grads) == 5 and grads[0].shape == (4, 3) and grads[1:] == (None, None, None, None)


def test_batch_norm_training_normalises_and_reports_batch_stats(rng):
    x = (rng.standard_normal((6, 4, 3, 3)) * 3 + 2).astype(np.float32)
    y, cache = batch_norm_forward(x, None, None, None, None, training=True)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(y.var(axis=(0, 2, 3)), 1, atol=1e-3)
    np.testing.assert_allclose(cache["mean"], x.mean(axis=(0, 2, 3)), rtol=1e-5)
    np.testing.assert_allclose(cache["var"], x.var(axis=(0, 2, 3)), rtol=1e-5)
    assert cache["count"] == 54


@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 4, 5), (3, 2, 7)])
def test_batch_norm_inference_matches_onnx(shape, rng):
    x, g, b, m, v = (a.astype(np.float32) for a in _bn_arrays(shape, rng))
    y, _ = batch_norm_forward(x, g, b, m, v, training=False, eps=1e-4)
    (ref,) = run_node("BatchNormalization", [x, g, b, m, v], opset=15, epsilon=1e-4)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shape", [(5, 3), (2, 3, 4, 5)])
def test_batch_norm_training_matches_onnx_training_mode(shape, rng):
    x, g, b, m, v = (a.astype(np.float32) for a in _bn_arrays(shape, rng))
    y, cache = batch_norm_forward(x, g, b, m, v, training=True)
    ref_y, ref_mean, ref_var = run_node("BatchNormalization", [x, g, b, m, v], n_outputs=3, opset=15,
                                        training_mode=1, momentum=0.0)
    np.testing.assert_allclose(y, ref_y, rtol=1e-5, atol=1e-5)
    # with momentum 0 ONNX's running outputs are the batch statistics (its variance is the biased one)
    np.testing.assert_allclose(cache["mean"], ref_mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(cache["var"], ref_var, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("args,match", [
    (((3,), None, None, None, None, True), r"\(N, C\)"),
    (((2, 3), np.ones(4), None, None, None, True), r"gamma has shape \(4,\), expected \(3,\)"),
    (((2, 3), None, None, None, None, False), "running_mean"),
    (((1, 3), None, None, None, None, True), "more than one value"),
])
def test_batch_norm_rejects_bad_input(args, match):
    shape, *rest = args
    with pytest.raises(ValueError, match=match):
        batch_norm_forward(np.zeros(shape), *rest)


LN_CASES = [((4, 5), 1), ((2, 3, 4), 1), ((2, 3, 4), 2), ((3, 2, 1, 3), 3), ((5,), 1)]


@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("shape,nd", LN_CASES)
def test_layer_norm_gradients(shape, nd, affine, rng):
    norm_shape = shape[len(shape) - nd:]
    gamma = rng.standard_normal(norm_shape) if affine else None
    beta = rng.standard_normal(norm_shape) if affine else None
    check_kernel(layer_norm_forward, layer_norm_backward, [rng.standard_normal(shape) + 1, gamma, beta],
                 dict(normalized_ndim=nd, eps=1e-3), diff=[0, 1, 2] if affine else [0])


@pytest.mark.parametrize("with_bias", [True, False])
@pytest.mark.parametrize("shape,nd", LN_CASES)
def test_layer_norm_matches_onnx(shape, nd, with_bias, rng):
    norm_shape = shape[len(shape) - nd:]
    x = (rng.standard_normal(shape) * 2 + 1).astype(np.float32)
    g = rng.standard_normal(norm_shape).astype(np.float32)
    b = rng.standard_normal(norm_shape).astype(np.float32) if with_bias else None
    y, _ = layer_norm_forward(x, g, b, nd, eps=1e-4)
    (ref,) = run_node("LayerNormalization", [x, g, b], opset=17, axis=-nd, epsilon=1e-4)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)


def test_layer_norm_keeps_float32_gradients(rng):
    x = rng.standard_normal((3, 4)).astype(np.float32)
    y, cache = layer_norm_forward(x, np.ones(4, np.float32), np.zeros(4, np.float32), 1)
    assert all(g.dtype == np.float32 for g in layer_norm_backward(np.ones_like(y), cache))


@pytest.mark.parametrize("shape,gamma,nd,match", [
    ((2, 3), None, 3, "last 3 axes"),
    ((2, 3), np.ones(4), 1, r"gamma has shape \(4,\), expected \(3,\)"),
])
def test_layer_norm_rejects_bad_input(shape, gamma, nd, match):
    with pytest.raises(ValueError, match=match):
        layer_norm_forward(np.zeros(shape), gamma, None, nd)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1, 128), (3, 5, 8), (7,), (1, 1), (64, 300)])  # (64, 300): the row means on gemm.matmul
def test_layer_norm_last_axis_matches_onnx(shape, dtype, rng):
    x = (rng.standard_normal(shape) * 3 + 2).astype(dtype)
    g, b = rng.standard_normal(shape[-1]).astype(dtype), rng.standard_normal(shape[-1]).astype(dtype)
    eps = np.array(1e-3, dtype)
    copies = [a.copy() for a in (x, eps, g, b)]
    y = layer_norm_last_axis(x, eps, g, b)
    (ref,) = run_node("LayerNormalization", [x, g, b], opset=17, axis=-1, epsilon=1e-3)
    assert y.dtype == dtype and y.shape == shape
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)
    for a, c in zip((x, eps, g, b), copies):  # the inputs are left as they were
        np.testing.assert_array_equal(a, c)


def _spelled_out(x, eps, g, b):
    d = x - x.mean(axis=-1, keepdims=True)
    return d / np.sqrt((d * d).mean(axis=-1, keepdims=True) + eps) * g + b


@pytest.mark.parametrize("eps, g, b", [
    (np.array(1e-5), np.ones(4, np.float32) * 2, np.zeros(4, np.float32)),  # float64 epsilon: float64 output
    (np.array(1e-5, np.float32), np.full((2, 4), 0.5, np.float32), np.ones(4, np.float32)),  # gamma broadcasts x
    (np.full((3, 1, 1), 1e-5, np.float32), np.ones(4, np.float32), np.arange(4, dtype=np.float32)),
    (np.array(1e-5, np.float32), np.ones(4, np.float32), np.ones(4, np.float64)),  # float64 shift
])
def test_layer_norm_last_axis_broadcasts_and_promotes_as_numpy(eps, g, b, rng):
    """Stored tensors of other shapes or dtypes give what the spelled-out graph's steps (numpy) give."""
    x = rng.standard_normal((1, 4)).astype(np.float32)
    y, want = layer_norm_last_axis(x, eps, g, b), _spelled_out(x, eps, g, b)
    assert y.dtype == want.dtype and y.shape == want.shape
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-6)


def test_layer_norm_last_axis_float16(rng):
    x = rng.standard_normal((2, 16)).astype(np.float16)
    one, zero = np.ones(16, np.float16), np.zeros(16, np.float16)
    y = layer_norm_last_axis(x, np.array(1e-3, np.float16), one, zero)
    assert y.dtype == np.float16
    np.testing.assert_allclose(y, _spelled_out(x.astype(np.float64), 1e-3, 1.0, 0.0), rtol=1e-2, atol=1e-2)
