"""An imported Caffe network is one of our Graphs: gradients are exact, it trains, it saves and reloads."""
from __future__ import annotations

import numpy as np

from bigdl_runtime import load
from bigdl_runtime.nn import CrossEntropyLoss
from bigdl_runtime.optim import SGD
from bigdl_runtime.train import LocalTrainer
from tests.helpers.gradcheck import check_module
from tests.zoo.importers.caffe.caffe_net import CaffeNet
from zoo.importers.caffe import load_caffe


def _net(rng: np.random.Generator, size: int, channels: int) -> CaffeNet:
    """Two branches (conv-BN-Scale-ReLU-LRN and conv-PReLU) merged by a weighted Eltwise, pooled,
    L2-normalised and classified: most learnable Caffe layer types in one graph."""
    c = channels
    net = CaffeNet(rng).input("data", (4, 3, size, size))
    net.layer("conv1", "Convolution", ["data"], params=f"convolution_param {{ num_output: {c} kernel_size: 3 pad: 1 }}",
              blobs=[net.randn(c, 3, 3, 3), net.randn(c)])
    net.layer("bn1", "BatchNorm", ["conv1"], tops=["conv1"], blobs=[net.randn(c), np.ones(c), np.ones(1)])
    net.layer("scale1", "Scale", ["conv1"], tops=["conv1"], params="scale_param { bias_term: true }",
              blobs=[np.ones(c) + net.randn(c, scale=0.1), net.randn(c, scale=0.1)])
    net.layer("relu1", "ReLU", ["conv1"], tops=["conv1"])
    net.layer("norm1", "LRN", ["conv1"], params="lrn_param { local_size: 3 alpha: 0.1 beta: 0.75 }")
    net.layer("conv2", "Convolution", ["data"], params=f"convolution_param {{ num_output: {c} kernel_size: 1 }}",
              blobs=[net.randn(c, 3, 1, 1), net.randn(c)])
    net.layer("prelu2", "PReLU", ["conv2"], tops=["conv2"], blobs=[np.full(c, 0.2)])
    net.layer("merge", "Eltwise", ["norm1", "conv2"], params="eltwise_param { coeff: 1 coeff: 0.5 }")
    net.layer("pool", "Pooling", ["merge"], params="pooling_param { pool: AVE kernel_size: 2 stride: 2 }")
    net.layer("l2", "Normalize", ["pool"], params="norm_param { across_spatial: false channel_shared: false }",
              blobs=[np.full(c, 4.0)])
    half = (size + 1) // 2
    net.layer("fc", "InnerProduct", ["l2"], params="inner_product_param { num_output: 2 }",
              blobs=[net.randn(2, c * half * half), np.zeros(2)])
    return net


def test_imported_graph_gradients_match_finite_differences(tmp_path, rng):
    graph = load_caffe(*_net(rng, 3, 2).write(tmp_path))
    graph.train()
    graph.node("bn1").module.evaluate()  # running statistics: a smooth function of the input
    check_module(graph, [rng.standard_normal((2, 3, 3, 3))], rtol=1e-4, atol=1e-6)


def test_imported_graph_trains_and_round_trips_through_a_model_file(tmp_path, rng):
    graph = load_caffe(*_net(rng, 8, 4).write(tmp_path))
    x = rng.standard_normal((48, 3, 8, 8)).astype(np.float32)
    y = (x[:, 0, :4].mean(axis=(1, 2)) > x[:, 0, 4:].mean(axis=(1, 2))).astype(np.int64)  # top half brighter
    loss = CrossEntropyLoss()
    graph.evaluate()
    before = loss.forward(graph(x), y)
    graph.train()
    LocalTrainer(graph, loss, SGD(graph.parameters(), lr=0.1, momentum=0.9)).fit(
        x, y, batch_size=8, epochs=12, seed=0, progress=False)
    graph.evaluate()
    after = loss.forward(graph(x), y)
    assert after < 0.5 * before, (before, after)
    assert (graph(x).argmax(axis=1) == y).mean() >= 0.9

    graph.save(tmp_path / "imported.bigdl", labels=["bottom", "top"])
    again = load(tmp_path / "imported.bigdl").evaluate()
    np.testing.assert_array_equal(again(x), graph(x))
    assert [n.name for n in again.nodes] == [n.name for n in graph.nodes]
