"""File formats and network plumbing: legacy V1 nets, input declarations, in-place layers, unnamed
layers and blobs, several outputs, TEST-phase filtering, Hadoop URIs."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from bigdl_runtime.nn import Graph
from tests.zoo.importers.caffe.caffe_net import CaffeNet, compare_with_opencv, opencv_outputs, packed_floats
from zoo.importers.caffe import caffe_subset_pb2 as pb
from zoo.importers.caffe import load_caffe

V1_NET = """name: "legacy"
input: "data"
input_dim: 2 input_dim: 3 input_dim: 9 input_dim: 8
layers { name: "conv1" type: CONVOLUTION bottom: "data" top: "conv1"
  blobs_lr: 1 blobs_lr: 2 weight_decay: 1 weight_decay: 0
  convolution_param { num_output: 4 kernel_size: 3 pad: 1 stride: 2 weight_filler { type: "gaussian" std: 0.01 } } }
layers { name: "relu1" type: RELU bottom: "conv1" top: "conv1" }
layers { name: "pool1" type: POOLING bottom: "conv1" top: "pool1" pooling_param { pool: AVE kernel_size: 2 stride: 2 } }
layers { name: "norm1" type: LRN bottom: "pool1" top: "norm1" lrn_param { local_size: 3 alpha: 0.01 beta: 0.75 } }
layers { name: "fc" type: INNER_PRODUCT bottom: "norm1" top: "fc" inner_product_param { num_output: 5 } }
layers { name: "prob" type: SOFTMAX bottom: "fc" top: "prob" }
"""


def _v1_caffemodel(weights: dict[str, list[np.ndarray]]) -> bytes:
    """A legacy caffemodel: V1 layers with enum types and 4-D num/channels/height/width blob shapes."""
    net = pb.NetParameter(name="legacy")
    types = {"conv1": pb.V1LayerParameter.CONVOLUTION, "fc": pb.V1LayerParameter.INNER_PRODUCT}
    for name, arrays in weights.items():
        layer = net.layers.add(name=name, type=types[name])
        for a in arrays:
            blob = layer.blobs.add()
            blob.num, blob.channels, blob.height, blob.width = (1,) * (4 - a.ndim) + a.shape
            blob.MergeFromString(packed_floats(a))
    return net.SerializeToString()


def test_legacy_v1_net_and_caffemodel_match_opencv(tmp_path, rng):
    proto, model = tmp_path / "v1.prototxt", tmp_path / "v1.caffemodel"
    proto.write_text(V1_NET)
    weights = {"conv1": [rng.standard_normal((4, 3, 3, 3)).astype(np.float32) * 0.3,
                         rng.standard_normal(4).astype(np.float32)],
               "fc": [rng.standard_normal((5, 4 * 3 * 2)).astype(np.float32) * 0.3,
                      rng.standard_normal(5).astype(np.float32)]}
    model.write_bytes(_v1_caffemodel(weights))
    x = rng.standard_normal((2, 3, 9, 8)).astype(np.float32)
    (want,) = opencv_outputs(proto, model, {"data": x}, ["prob"])
    graph = load_caffe(proto, model)
    assert isinstance(graph, Graph) and graph.input_names == ["data"] and graph.output_names == ["prob"]
    np.testing.assert_allclose(graph(x), want, atol=1e-5)
    np.testing.assert_array_equal(graph.node("conv1").module.weight.data, weights["conv1"][0])


@pytest.mark.parametrize("style", ["layer", "input_shape", "input_dim"])
def test_input_declarations(style, tmp_path, rng):
    net = CaffeNet(rng).input("data", (1, 2, 5, 5), style=style)
    net.layer("conv", "Convolution", ["data"], params="convolution_param { num_output: 3 kernel_size: 3 }",
              blobs=[net.randn(3, 2, 3, 3), net.randn(3)])
    compare_with_opencv(tmp_path, net, {"data": rng.standard_normal((1, 2, 5, 5)).astype(np.float32)}, ["conv"])


def test_in_place_layers_rebind_the_blob(tmp_path, rng):
    """conv -> BatchNorm -> Scale -> ReLU, all in place on blob "conv": the blob ends as the ReLU output."""
    net = CaffeNet(rng).input("data", (2, 3, 6, 6))
    net.layer("conv", "Convolution", ["data"], params="convolution_param { num_output: 4 kernel_size: 3 }",
              blobs=[net.randn(4, 3, 3, 3), net.randn(4)])
    net.layer("bn", "BatchNorm", ["conv"], tops=["conv"], blobs=[net.randn(4), np.ones(4), np.ones(1)])
    net.layer("sc", "Scale", ["conv"], tops=["conv"], params="scale_param { bias_term: true }",
              blobs=[net.randn(4), net.randn(4)])
    net.layer("relu", "ReLU", ["conv"], tops=["conv"])
    x = rng.standard_normal((2, 3, 6, 6)).astype(np.float32)
    (y,) = compare_with_opencv(tmp_path, net, {"data": x}, ["relu"], blobs=["conv"])
    assert y.min() >= 0
    graph = load_caffe(*net.write(tmp_path))
    assert graph.output_names == ["relu"]  # the node of the last layer writing the blob


def test_unnamed_layers_and_tops_and_several_outputs(tmp_path, rng):
    text = """input: "data"
input_shape { dim: 2 dim: 3 }
layer { type: "Slice" bottom: "data" top: "a" top: "" slice_param { axis: 1 slice_point: 1 } }
layer { type: "TanH" bottom: "a" }
layer { name: "sig" type: "Sigmoid" bottom: "data" top: "sig" }
"""
    proto = tmp_path / "net.prototxt"
    proto.write_text(text)
    graph = load_caffe(proto)
    # every blob nobody consumes is an output, in prototxt order; unnamed ones take the layer's name
    assert graph.output_names == ["slice0[1]", "tanh1", "sig"]
    x = rng.standard_normal((2, 3)).astype(np.float32)
    rest, tanh, sig = graph(x)
    np.testing.assert_allclose(rest, x[:, 1:])
    np.testing.assert_allclose(tanh, np.tanh(x[:, :1]), rtol=1e-6)
    np.testing.assert_allclose(sig, 1 / (1 + np.exp(-x)), rtol=1e-6)
    assert load_caffe(proto, outputs=["sig", "a"]).output_names == ["sig", "slice0[0]"]


def test_train_phase_layers_are_left_out(tmp_path, rng):
    text = """input: "data"
input_shape { dim: 2 dim: 4 }
layer { name: "drop" type: "Dropout" bottom: "data" top: "data" include { phase: TRAIN } }
layer { name: "relu" type: "ReLU" bottom: "data" top: "out" exclude { phase: TRAIN } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "out" bottom: "label" top: "loss" include { phase: TRAIN } }
"""
    proto = tmp_path / "net.prototxt"
    proto.write_text(text)
    graph = load_caffe(proto)
    assert [n.name for n in graph.nodes] == ["data", "relu"]


def test_unknown_fields_are_skipped_with_a_warning(tmp_path):
    proto = tmp_path / "net.prototxt"
    proto.write_text('input: "data"\ninput_shape { dim: 1 dim: 2 }\n'
                     'layer { name: "r" type: "ReLU" bottom: "data" top: "r" mystery_param { x: 1 } }\n')
    with pytest.warns(UserWarning, match="mystery_param"):
        graph = load_caffe(proto)
    assert graph.output_names == ["r"]


def test_input_shapes_argument_shapes_unshaped_inputs(tmp_path, rng):
    proto = tmp_path / "net.prototxt"
    proto.write_text('input: "data"\nlayer { name: "fc" type: "InnerProduct" bottom: "data" top: "fc" '
                     'inner_product_param { num_output: 2 } }\n')
    graph = load_caffe(proto, input_shapes={"data": (1, 3, 2, 2)})
    assert graph(np.zeros((5, 3, 2, 2), np.float32)).shape == (5, 2)


def test_hadoop_uri_through_spark(spark, tmp_path, rng):
    net = CaffeNet(rng).input("data", (1, 2, 3, 3))
    net.layer("fc", "InnerProduct", ["data"], params="inner_product_param { num_output: 2 }",
              blobs=[net.randn(2, 18), net.randn(2)])
    proto, model = net.write(tmp_path)
    graph = load_caffe(proto.as_uri(), model.as_uri(), spark=spark)
    x = rng.standard_normal((4, 2, 3, 3)).astype(np.float32)
    w, b = net.weights["fc"][1]
    np.testing.assert_allclose(graph(x), x.reshape(4, -1) @ w.T + b, rtol=1e-5, atol=1e-6)


def test_batch_size_is_free(tmp_path, rng):
    """The prototxt's batch size (10 here) does not fix the graph's."""
    net = CaffeNet(rng).input("data", (10, 3, 4, 4), style="input_dim")
    net.layer("pool", "Pooling", ["data"], params="pooling_param { pool: MAX global_pooling: true }")
    net.layer("flat", "Reshape", ["pool"], params="reshape_param { shape { dim: 0 dim: -1 } }")
    proto, _ = net.write(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        graph = load_caffe(proto)
    assert graph(np.ones((3, 3, 4, 4), np.float32)).shape == (3, 3)
