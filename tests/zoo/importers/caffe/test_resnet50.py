"""A full-size network end to end: ResNet-50's Caffe deploy definition (as published with the original
models: BatchNorm + Scale after every convolution, ceil-mode pooling, projection shortcuts) with random
weights, imported and run against OpenCV dnn."""
from __future__ import annotations

import numpy as np
import pytest

from tests.zoo.importers.caffe.caffe_net import CaffeNet, opencv_outputs
from zoo.importers.caffe import load_caffe


def _conv_bn(net: CaffeNet, name: str, bottom: str, cin: int, cout: int, k: int, stride: int, pad: int,
             relu: bool, gamma: float = 1.0) -> str:
    """conv (no bias) -> BatchNorm -> Scale (in place), optionally ReLU; Caffe ResNet naming."""
    net.layer(name, "Convolution", [bottom], params=f"convolution_param {{ num_output: {cout} kernel_size: {k} "
              f"pad: {pad} stride: {stride} bias_term: false }}",
              blobs=[net.randn(cout, cin, k, k, scale=np.sqrt(2.0 / (cin * k * k)))])
    suffix = name[3:] if name.startswith("res") else name
    mean, var = net.randn(cout, scale=0.1), net.rng.uniform(0.8, 1.2, cout).astype(np.float32)
    net.layer(f"bn{suffix}", "BatchNorm", [name], tops=[name], params="batch_norm_param { use_global_stats: true }",
              blobs=[mean, var, np.ones(1, np.float32)])
    net.layer(f"scale{suffix}", "Scale", [name], tops=[name], params="scale_param { bias_term: true }",
              blobs=[np.full(cout, gamma, np.float32) + net.randn(cout, scale=0.05 * gamma), net.randn(cout, scale=0.05)])
    if relu:
        net.layer(f"{name}_relu", "ReLU", [name], tops=[name])
    return name


def resnet50(rng: np.random.Generator) -> CaffeNet:
    net = CaffeNet(rng, name="ResNet-50").input("data", (1, 3, 224, 224), style="input_dim")
    _conv_bn(net, "conv1", "data", 3, 64, 7, 2, 3, relu=True)
    net.layer("pool1", "Pooling", ["conv1"], params="pooling_param { kernel_size: 3 stride: 2 pool: MAX }")
    bottom, cin = "pool1", 64
    for stage, (blocks, width) in enumerate(zip((3, 4, 6, 3), (64, 128, 256, 512)), start=2):
        for b in range(blocks):
            tag = f"{stage}{chr(ord('a') + b)}"
            stride = 2 if b == 0 and stage > 2 else 1
            if b == 0:
                shortcut = _conv_bn(net, f"res{tag}_branch1", bottom, cin, 4 * width, 1, stride, 0, relu=False)
            else:
                shortcut = bottom
            h = _conv_bn(net, f"res{tag}_branch2a", bottom, cin, width, 1, stride, 0, relu=True)
            h = _conv_bn(net, f"res{tag}_branch2b", h, width, width, 3, 1, 1, relu=True)
            h = _conv_bn(net, f"res{tag}_branch2c", h, width, 4 * width, 1, 1, 0, relu=False, gamma=0.3)
            net.layer(f"res{tag}", "Eltwise", [shortcut, h])
            net.layer(f"res{tag}_relu", "ReLU", [f"res{tag}"], tops=[f"res{tag}"])
            bottom, cin = f"res{tag}", 4 * width
    net.layer("pool5", "Pooling", [bottom], params="pooling_param { kernel_size: 7 stride: 1 pool: AVE }")
    net.layer("fc1000", "InnerProduct", ["pool5"], params="inner_product_param { num_output: 1000 }",
              blobs=[net.randn(1000, 2048, scale=0.02), net.randn(1000, scale=0.1)])
    net.layer("prob", "Softmax", ["fc1000"])
    return net


@pytest.mark.slow
def test_resnet50_deploy_matches_opencv(tmp_path):
    rng = np.random.default_rng(50)
    net = resnet50(rng)
    proto, model = net.write(tmp_path, "resnet50")
    x = rng.standard_normal((1, 3, 224, 224)).astype(np.float32)
    want_pool5, want_prob = opencv_outputs(proto, model, {"data": x}, ["pool5", "prob"])
    graph = load_caffe(proto, model, outputs=["pool5", "prob"])
    assert graph.num_parameters() == 25_557_032  # as torchvision's resnet50: the Scale layers hold BN's affine
    # part, the BatchNorm statistics are buffers
    pool5, prob = graph(x)
    scale = float(np.abs(want_pool5).max())
    assert 0.1 < scale < 100, scale  # the random weights keep the activations in a sane range
    assert float(np.abs(pool5 - want_pool5).max()) <= 1e-4
    assert float(np.abs(prob - want_prob).max()) <= 1e-4
    assert prob.shape == (1, 1000) and abs(float(prob.sum()) - 1) < 1e-5
