"""Caffe semantics OpenCV cannot check, against numpy written from Caffe's definitions.

OpenCV 4.x has no Bias layer, ignores InnerProduct's ``transpose`` and LRN's ``k``
(it always uses 1), so these cases use plain numpy references instead.
"""
from __future__ import annotations

import numpy as np

from tests.zoo.importers.caffe.caffe_net import CaffeNet
from zoo.importers.caffe import load_caffe


def _run(tmp_path, net, *inputs, outputs):
    proto, model = net.write(tmp_path)
    out = load_caffe(proto, model, outputs=outputs)(*inputs)
    return out if isinstance(out, tuple) else (out,)


def test_inner_product_transpose_uses_a_k_by_n_weight(tmp_path, rng):
    net = CaffeNet(rng).input("data", (3, 4, 2, 2))
    w, b = net.randn(16, 5), net.randn(5)
    net.layer("fc_t", "InnerProduct", ["data"], params="inner_product_param { num_output: 5 transpose: true }",
              blobs=[w, b])
    x = rng.standard_normal((3, 4, 2, 2)).astype(np.float32)
    (y,) = _run(tmp_path, net, x, outputs=["fc_t"])
    np.testing.assert_allclose(y, x.reshape(3, 16) @ w + b, rtol=1e-5, atol=1e-6)


def test_bias_layer_learned_and_from_a_second_bottom(tmp_path, rng):
    net = CaffeNet(rng).input("x", (2, 3, 4, 5)).input("b", (2, 3))
    b1, b2 = net.randn(3), net.randn(4, 5)
    net.layer("bias_c", "Bias", ["x"], blobs=[b1])
    net.layer("bias_hw", "Bias", ["x"], params="bias_param { axis: 2 num_axes: -1 }", blobs=[b2])
    net.layer("bias_in", "Bias", ["x", "b"], params="bias_param { axis: 0 }")
    x, b = rng.standard_normal((2, 3, 4, 5)).astype(np.float32), rng.standard_normal((2, 3)).astype(np.float32)
    y1, y2, y3 = _run(tmp_path, net, x, b, outputs=["bias_c", "bias_hw", "bias_in"])
    np.testing.assert_allclose(y1, x + b1[None, :, None, None], rtol=1e-6)
    np.testing.assert_allclose(y2, x + b2[None, None], rtol=1e-6)
    np.testing.assert_allclose(y3, x + b[:, :, None, None], rtol=1e-6)


def test_lrn_across_channels_uses_k(tmp_path, rng):
    net = CaffeNet(rng).input("data", (2, 6, 3, 4))
    net.layer("lrn", "LRN", ["data"], params="lrn_param { local_size: 5 alpha: 0.3 beta: 0.6 k: 2.5 }")
    x = rng.standard_normal((2, 6, 3, 4)).astype(np.float32)
    (y,) = _run(tmp_path, net, x, outputs=["lrn"])
    sq = np.pad(x.astype(np.float64) ** 2, ((0, 0), (2, 2), (0, 0), (0, 0)))
    window = sum(sq[:, i:i + 6] for i in range(5))
    np.testing.assert_allclose(y, x / (2.5 + 0.3 / 5 * window) ** 0.6, rtol=1e-5)


def test_scale_with_scalar_and_filler_defaults(tmp_path, rng):
    net = CaffeNet(rng).input("data", (2, 3, 2))
    net.layer("scalar", "Scale", ["data"], params="scale_param { num_axes: 0 bias_term: true }",
              blobs=[np.array([1.5], np.float32).reshape(()), np.array(-0.5, np.float32)], legacy=True)
    x = rng.standard_normal((2, 3, 2)).astype(np.float32)
    (y,) = _run(tmp_path, net, x, outputs=["scalar"])
    np.testing.assert_allclose(y, 1.5 * x - 0.5, rtol=1e-6)


def test_pooling_round_mode_floor(tmp_path, rng):
    """BVLC's ``round_mode: FLOOR`` (OpenCV's schema has a different field at that number)."""
    net = CaffeNet(rng).input("data", (1, 2, 10, 13))
    net.layer("pool", "Pooling", ["data"], params="pooling_param { pool: MAX kernel_size: 3 stride: 2 "
                                                  "round_mode: FLOOR }")
    x = rng.standard_normal((1, 2, 10, 13)).astype(np.float32)
    (y,) = _run(tmp_path, net, x, outputs=["pool"])
    want = np.array([[[[x[0, c, 2 * i:2 * i + 3, 2 * j:2 * j + 3].max() for j in range(6)] for i in range(4)]
                      for c in range(2)]])
    np.testing.assert_array_equal(y, want)
