"""Every supported Caffe layer, imported and run, against OpenCV dnn's Caffe reader (max abs error <= 1e-4).

Each case writes a small prototxt and a caffemodel with random weights (odd sizes,
non-square kernels, asymmetric pad_h/pad_w, ceil-mode pooling with Caffe's clipping of
the last window) and compares the outputs of the named layers.
"""
from __future__ import annotations

import numpy as np
import pytest

from tests.zoo.importers.caffe.caffe_net import CaffeNet, compare_with_opencv

CONV = "convolution_param {{ {} }}"


def _conv(net: CaffeNet, name: str, bottom: str, cin: int, cout: int, geometry: str, kh: int, kw: int,
          group: int = 1, bias: bool = True) -> None:
    blobs = [net.randn(cout, cin // group, kh, kw)] + ([net.randn(cout)] if bias else [])
    params = f"num_output: {cout} {geometry}" + (f" group: {group}" if group > 1 else "") + \
        ("" if bias else " bias_term: false")
    net.layer(name, "Convolution", [bottom], params=CONV.format(params), blobs=blobs)


def case_convolution(net: CaffeNet) -> list[str]:
    net.input("data", (2, 4, 11, 9))
    _conv(net, "conv_hw", "data", 4, 6, "kernel_h: 3 kernel_w: 2 pad_h: 2 pad_w: 0 stride_h: 2 stride_w: 1", 3, 2)
    _conv(net, "conv_group", "data", 4, 6, "kernel_size: 3 pad: 1", 3, 3, group=2)
    _conv(net, "conv_dil", "data", 4, 5, "kernel_size: 3 dilation: 2 pad: 1 stride: 2", 3, 3, bias=False)
    _conv(net, "conv_pairs", "data", 4, 3, "kernel_size: 1 kernel_size: 3 pad: 0 pad: 1 stride: 1 stride: 2", 1, 3)
    return ["conv_hw", "conv_group", "conv_dil", "conv_pairs"]


def case_deconvolution(net: CaffeNet) -> list[str]:
    net.input("data", (2, 4, 5, 7))
    net.layer("up", "Deconvolution", ["data"], params=CONV.format(
        "num_output: 6 kernel_h: 4 kernel_w: 3 stride_h: 2 stride_w: 3 pad_h: 1 pad_w: 0 group: 2"),
        blobs=[net.randn(4, 3, 4, 3), net.randn(6)])
    net.layer("up_nobias", "Deconvolution", ["data"], params=CONV.format(
        "num_output: 3 kernel_size: 3 stride: 2 pad: 1 bias_term: false"), blobs=[net.randn(4, 3, 3, 3)])
    return ["up", "up_nobias"]


def case_inner_product(net: CaffeNet) -> list[str]:
    net.input("data", (3, 4, 3, 5))
    net.layer("fc", "InnerProduct", ["data"], params="inner_product_param { num_output: 7 }",
              blobs=[net.randn(7, 60), net.randn(7)])
    net.layer("fc_axis2", "InnerProduct", ["data"], params="inner_product_param { num_output: 2 axis: 2 }",
              blobs=[net.randn(2, 15), net.randn(2)])
    return ["fc", "fc_axis2"]


def case_pooling(net: CaffeNet) -> list[str]:
    net.input("data", (2, 3, 10, 13))
    pools = {
        "max_ceil": "pool: MAX kernel_size: 3 stride: 2",
        "max_clip": "pool: MAX kernel_size: 3 stride: 2 pad: 1",  # ceil gives one window too many: clipped
        "ave_pad": "pool: AVE kernel_h: 3 kernel_w: 2 stride_h: 2 stride_w: 3 pad_h: 1 pad_w: 1",
        "ave_ceil": "pool: AVE kernel_size: 4 stride: 3 pad: 2",
        "max_nonsquare": "pool: MAX kernel_h: 2 kernel_w: 4 stride_h: 1 stride_w: 2 pad_h: 0 pad_w: 2",
        "global_max": "pool: MAX global_pooling: true",
        "global_ave": "pool: AVE global_pooling: true",
    }
    for name, params in pools.items():
        net.layer(name, "Pooling", ["data"], params=f"pooling_param {{ {params} }}")
    return list(pools)


def case_activations(net: CaffeNet) -> list[str]:
    net.input("data", (2, 3, 5, 7))
    net.layer("relu", "ReLU", ["data"])
    net.layer("leaky", "ReLU", ["data"], params="relu_param { negative_slope: 0.2 }")
    net.layer("prelu", "PReLU", ["data"], blobs=[net.randn(3)])
    net.layer("prelu_shared", "PReLU", ["data"], params="prelu_param { channel_shared: true }",
              blobs=[np.array(0.3, np.float32)], legacy=True)  # a 0-D blob, stored 1x1x1x1
    net.layer("elu", "ELU", ["data"], params="elu_param { alpha: 0.7 }")
    net.layer("sigmoid", "Sigmoid", ["data"])
    net.layer("tanh", "TanH", ["data"])
    net.layer("abs", "AbsVal", ["data"])
    net.layer("power", "Power", ["data"], params="power_param { power: 2 scale: 0.5 shift: 1.5 }")
    net.layer("power_lin", "Power", ["data"], params="power_param { scale: -2 shift: 0.25 }")
    net.layer("dropout", "Dropout", ["data"], params="dropout_param { dropout_ratio: 0.3 }")
    net.layer("softmax", "Softmax", ["data"])
    net.layer("softmax_w", "Softmax", ["data"], params="softmax_param { axis: -1 }")
    return ["relu", "leaky", "prelu", "prelu_shared", "elu", "sigmoid", "tanh", "abs", "power", "power_lin",
            "dropout", "softmax", "softmax_w"]


def case_normalisation(net: CaffeNet) -> list[str]:
    net.input("data", (2, 5, 6, 7))
    mean, var = net.randn(5), net.rng.uniform(0.5, 2.0, 5).astype(np.float32)
    net.layer("bn", "BatchNorm", ["data"], params="batch_norm_param { eps: 0.001 }",
              blobs=[mean * 4.0, var * 4.0, np.array([4.0], np.float32)])  # Caffe stores stats times a factor
    net.layer("scale", "Scale", ["bn"], params="scale_param { bias_term: true }",
              blobs=[net.randn(5), net.randn(5)])
    net.layer("scale_hw", "Scale", ["data"], params="scale_param { axis: 2 num_axes: 2 }", blobs=[net.randn(6, 7)])
    net.layer("lrn", "LRN", ["data"], params="lrn_param { local_size: 3 alpha: 0.5 beta: 0.75 k: 1 }")
    net.layer("lrn_within", "LRN", ["data"],
              params="lrn_param { local_size: 3 alpha: 0.5 beta: 0.75 norm_region: WITHIN_CHANNEL }")
    net.layer("norm", "Normalize", ["data"], params="norm_param { across_spatial: false channel_shared: false }",
              blobs=[net.rng.uniform(1, 20, 5).astype(np.float32)])
    net.layer("norm_all", "Normalize", ["data"], params="norm_param { across_spatial: true channel_shared: true }",
              blobs=[np.array([3.0], np.float32)])
    return ["scale", "scale_hw", "lrn", "lrn_within", "norm", "norm_all"]


def case_merges(net: CaffeNet) -> list[str]:
    net.input("a", (2, 3, 4, 5))
    net.input("b", (2, 3, 4, 5))
    net.input("c", (2, 2, 4, 5))
    net.layer("sum", "Eltwise", ["a", "b"])
    net.layer("sum_coeff", "Eltwise", ["a", "b", "a"], params="eltwise_param { operation: SUM coeff: 0.5 coeff: -2 "
                                                                "coeff: 1 }")
    net.layer("prod", "Eltwise", ["a", "b", "b"], params="eltwise_param { operation: PROD }")
    net.layer("max", "Eltwise", ["a", "b"], params="eltwise_param { operation: MAX }")
    net.layer("concat", "Concat", ["a", "c", "b"])
    net.layer("concat_w", "Concat", ["a", "b"], params="concat_param { axis: 3 }")
    return ["sum", "sum_coeff", "prod", "max", "concat", "concat_w"]


def case_shapes(net: CaffeNet) -> list[str]:
    net.input("data", (2, 6, 3, 5))
    net.layer("slice", "Slice", ["data"], tops=["s0", "s1", "s2"],
              params="slice_param { axis: 1 slice_point: 1 slice_point: 4 }")
    net.layer("s0_out", "Power", ["s0"])
    net.layer("s2_out", "Power", ["s2"])
    net.layer("split", "Split", ["s1"], tops=["copy0", "copy1"])
    net.layer("copies", "Eltwise", ["copy0", "copy1"], params="eltwise_param { operation: PROD }")
    net.layer("flat", "Flatten", ["data"])
    net.layer("flat_mid", "Flatten", ["data"], params="flatten_param { axis: 1 end_axis: 2 }")
    net.layer("reshape", "Reshape", ["data"], params="reshape_param { shape { dim: 0 dim: -1 dim: 5 } }")
    net.layer("reshape_mid", "Reshape", ["data"],
              params="reshape_param { shape { dim: 3 dim: 2 } axis: 1 num_axes: 1 }")
    net.layer("permute", "Permute", ["data"], params="permute_param { order: 0 order: 2 order: 3 order: 1 }")
    return ["s0_out", "s2_out", "copies", "flat", "flat_mid", "reshape", "reshape_mid", "permute"]


def case_crop(net: CaffeNet) -> list[str]:
    net.input("big", (2, 3, 11, 10))
    net.input("ref", (2, 1, 6, 7))
    net.layer("crop", "Crop", ["big", "ref"], params="crop_param { axis: 2 offset: 3 offset: 1 }")
    net.layer("crop_one", "Crop", ["big", "ref"], params="crop_param { axis: 2 offset: 2 }")
    return ["crop", "crop_one"]


def case_scale_by_bottom(net: CaffeNet) -> list[str]:
    net.input("x", (2, 4, 3, 5))
    net.input("w", (2, 4))
    net.layer("se", "Scale", ["x", "w"], params="scale_param { axis: 0 }")
    return ["se"]


def case_ssd_head(net: CaffeNet) -> list[str]:
    """A one-map SSD head: loc/conf convolutions, Permute + Flatten, PriorBox, softmax, DetectionOutput."""
    net.input("data", (1, 3, 48, 40))
    _conv(net, "feat", "data", 3, 8, "kernel_size: 3 stride: 8 pad: 1", 3, 3)
    priors = 6  # min + max + ratios 2, 1/2, 3, 1/3
    _conv(net, "loc", "feat", 8, priors * 4, "kernel_size: 3 pad: 1", 3, 3)
    _conv(net, "conf", "feat", 8, priors * 3, "kernel_size: 3 pad: 1", 3, 3)
    for name in ("loc", "conf"):
        net.layer(f"{name}_perm", "Permute", [name], params="permute_param { order: 0 order: 2 order: 3 order: 1 }")
        net.layer(f"{name}_flat", "Flatten", [f"{name}_perm"])
    net.layer("priors", "PriorBox", ["feat", "data"], params="prior_box_param { min_size: 12 max_size: 24 "
              "aspect_ratio: 2 aspect_ratio: 3 flip: true clip: false variance: 0.1 variance: 0.1 variance: 0.2 "
              "variance: 0.2 step: 8 offset: 0.5 }")
    net.layer("conf_reshape", "Reshape", ["conf_flat"], params="reshape_param { shape { dim: 0 dim: -1 dim: 3 } }")
    net.layer("conf_softmax", "Softmax", ["conf_reshape"], params="softmax_param { axis: 2 }")
    net.layer("conf_prob", "Flatten", ["conf_softmax"])
    net.layer("detection", "DetectionOutput", ["loc_flat", "conf_prob", "priors"], params="detection_output_param "
              "{ num_classes: 3 share_location: true background_label_id: 0 nms_param { nms_threshold: 0.45 "
              "top_k: 50 } code_type: CENTER_SIZE keep_top_k: 20 confidence_threshold: 0.3 }")
    return ["priors", "conf_prob", "detection"]  # our DetectionOutput is inference-only


CASES = {name[5:]: fn for name, fn in globals().items() if name.startswith("case_")}


@pytest.mark.parametrize("case", sorted(CASES))
def test_layers_match_opencv(case, tmp_path):
    rng = np.random.default_rng(sum(map(ord, case)))
    net = CaffeNet(rng)
    outputs = CASES[case](net)
    inputs = {}
    for line in net.lines:  # the inputs declared by the case, in order
        if 'type: "Input"' in line:
            name = line.split('name: "')[1].split('"')[0]
            dims = [int(t) for t in line.split("shape {")[1].split("}")[0].replace("dim:", "").split()]
            inputs[name] = rng.standard_normal(dims).astype(np.float32)
    compare_with_opencv(tmp_path, net, inputs, outputs, detections=["detection"])
