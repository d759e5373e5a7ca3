"""Every exportable layer family: valid ONNX (full check) and onnxruntime == ours at two batch sizes."""
from __future__ import annotations

from typing import Callable

import numpy as np
import pytest

from bigdl_runtime.nn import Graph, Input, Module, layers as L

from .onnx_export_check import check_export


def _bn(cls: type, n: int, rng_seed: int = 0, **kwargs: object) -> Module:
    """A batch norm with non-trivial running statistics and affine parameters."""
    layer = cls(n, **kwargs)
    r = np.random.default_rng(rng_seed)
    if layer.track_running_stats:
        layer.running_mean[...] = r.normal(size=n)
        layer.running_var[...] = r.uniform(0.5, 2.0, size=n)
    if layer.weight is not None:
        layer.weight.data[...] = r.uniform(0.5, 1.5, size=n)
        layer.bias.data[...] = r.normal(size=n)
    return layer


def _ln_random(shape: list[int]) -> Module:
    layer = L.LayerNorm(shape)
    r = np.random.default_rng(1)
    layer.weight.data[...] = r.normal(size=shape)
    layer.bias.data[...] = r.normal(size=shape)
    return layer


# id -> (layer factory, per-sample input shape)
CASES: dict[str, tuple[Callable[[], Module], tuple[int, ...]]] = {
    # conv
    "conv1d_same_dilated": (lambda: L.Conv1d(3, 4, 4, padding="same", dilation=2), (3, 11)),
    "conv1d_stride_pads": (lambda: L.Conv1d(4, 6, 3, stride=2, padding=(2, 1), groups=2), (4, 10)),
    "conv2d_asym_groups": (lambda: L.Conv2d(4, 6, (3, 2), stride=(2, 1), padding=(1, 0, 0, 1), groups=2), (4, 7, 6)),
    "conv2d_same_even_kernel": (lambda: L.Conv2d(3, 5, (2, 4), padding="same", bias=False), (3, 6, 7)),
    "conv2d_depthwise_dilated": (lambda: L.Conv2d(4, 4, 3, padding=2, dilation=2, groups=4), (4, 8, 9)),
    "conv_relu2d": (lambda: L.ConvReLU2d(3, 5, 3, stride=2, padding=1), (3, 7, 6)),
    "conv_relu6_depthwise": (lambda: L.ConvReLU2d(4, 4, 3, padding=1, groups=4, max_value=6.0), (4, 7, 6)),
    "conv_transpose2d": (lambda: L.ConvTranspose2d(3, 4, 3, stride=2, padding=1, output_padding=1), (3, 4, 5)),
    "conv_transpose2d_asym_groups": (lambda: L.ConvTranspose2d(4, 6, (3, 2), stride=(1, 2), padding=(1, 0, 0, 1),
                                                               groups=2, dilation=(2, 1)), (4, 5, 4)),
    # linear
    "linear_2d": (lambda: L.Linear(5, 3), (5,)),
    "linear_3d_no_bias": (lambda: L.Linear(5, 3, bias=False), (4, 5)),
    "linear_4d": (lambda: L.Linear(5, 3), (2, 4, 5)),
    # pool
    "maxpool_ceil_pads": (lambda: L.MaxPool2d(3, stride=2, padding=1, ceil_mode=True), (3, 7, 8)),
    "maxpool_asym_dilated": (lambda: L.MaxPool2d((3, 2), stride=(1, 2), padding=(1, 0, 0, 1), dilation=(2, 1)),
                             (2, 8, 7)),
    "avgpool_exclude_pad": (lambda: L.AvgPool2d(2, count_include_pad=False, padding=1), (3, 5, 6)),
    "avgpool_ceil_include_pad": (lambda: L.AvgPool2d(3, stride=2, padding=1, ceil_mode=True), (2, 8, 7)),
    "global_avg": (lambda: L.GlobalAvgPool2d(), (3, 4, 5)),
    "global_max": (lambda: L.GlobalMaxPool2d(), (3, 4, 5)),
    "adaptive_uneven": (lambda: L.AdaptiveAvgPool2d((2, 3)), (3, 7, 8)),
    "adaptive_even": (lambda: L.AdaptiveAvgPool2d((2, 4)), (3, 6, 8)),
    "adaptive_global": (lambda: L.AdaptiveAvgPool2d(1), (3, 5, 5)),
    # norm
    "batchnorm2d": (lambda: _bn(L.BatchNorm2d, 3, eps=1e-3), (3, 4, 5)),
    "batchnorm1d_2d": (lambda: _bn(L.BatchNorm1d, 5), (5,)),
    "batchnorm1d_3d_no_affine": (lambda: _bn(L.BatchNorm1d, 4, affine=False), (4, 6)),
    "batchnorm2d_batch_stats": (lambda: _bn(L.BatchNorm2d, 3, track_running_stats=False), (3, 4, 5)),
    "layernorm": (lambda: _ln_random([4, 5]), (3, 4, 5)),
    "layernorm_no_affine": (lambda: L.LayerNorm(6, elementwise_affine=False, eps=1e-3), (2, 6)),
    # activations
    "relu": (lambda: L.ReLU(), (3, 4)),
    "leaky_relu": (lambda: L.LeakyReLU(0.2), (3, 4)),
    "prelu_channels": (lambda: L.PReLU(3, init=0.1), (3, 4, 2)),
    "prelu_shared": (lambda: L.PReLU(), (5,)),
    "elu": (lambda: L.ELU(0.7), (3, 4)),
    "selu": (lambda: L.SELU(), (3, 4)),
    "gelu_exact": (lambda: L.GELU(), (3, 4)),
    "gelu_tanh": (lambda: L.GELU("tanh"), (3, 4)),
    "sigmoid": (lambda: L.Sigmoid(), (3, 4)),
    "tanh": (lambda: L.Tanh(), (3, 4)),
    "hardsigmoid": (lambda: L.Hardsigmoid(0.2, 0.4), (3, 4)),
    "hardswish": (lambda: L.Hardswish(), (3, 4)),
    "softplus": (lambda: L.Softplus(), (3, 4)),
    "softplus_beta_threshold": (lambda: L.Softplus(2.0, 1.0), (3, 4)),
    "softmax": (lambda: L.Softmax(dim=1), (3, 4)),
    "log_softmax": (lambda: L.LogSoftmax(dim=-1), (3, 4)),
    # dropout
    "dropout": (lambda: L.Dropout(0.3), (4, 6)),
    # shape
    "reshape_copy_infer": (lambda: L.Reshape([0, -1]), (4, 3, 3)),
    "flatten": (lambda: L.Flatten(), (3, 4, 5)),
    "flatten_start2": (lambda: L.Flatten(start_dim=2), (3, 4, 5)),
    "transpose": (lambda: L.Transpose([0, 2, 3, 1]), (3, 4, 5)),
    # pad
    "pad_reflect": (lambda: L.Pad([0, 0, 1, 2, 0, 0, 2, 1], mode="reflect"), (3, 4, 5)),
    "pad_edge": (lambda: L.Pad([0, 1, 2, 0, 1, 0], mode="edge"), (3, 4)),
    "pad_constant_crop": (lambda: L.Pad([0, 0, -1, 2, 0, 1, 1, -1], value=1.5), (2, 5, 6)),
    "zero_pad2d": (lambda: L.ZeroPad2d([1, 2, 0, 1]), (3, 4, 4)),
    # upsample
    "upsample_nearest_2": (lambda: L.Upsample(scale_factor=2), (3, 4, 5)),
    "upsample_nearest_scales": (lambda: L.Upsample(scale_factor=[1.5, 3.0]), (2, 4, 5)),
    "upsample_nearest_size": (lambda: L.Upsample(size=[7, 9]), (2, 4, 5)),
    "upsample_bilinear": (lambda: L.Upsample(scale_factor=2, mode="bilinear"), (2, 4, 5)),
    "upsample_bilinear_align_size": (lambda: L.Upsample(size=[6, 11], mode="bilinear", align_corners=True),
                                     (2, 4, 5)),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_layer_exports(case: str, rng: np.random.Generator) -> None:
    factory, shape = CASES[case]
    check_export(factory(), shape, rng)


def test_embedding_reads_int64_indices(rng: np.random.Generator) -> None:
    proto = check_export(L.Embedding(10, 4, padding_idx=0), (5,), rng)
    assert proto.graph.input[0].type.tensor_type.elem_type == 7  # INT64


def _two_input_graph(layer: Module) -> Graph:
    a, b = Input(name="a"), Input(name="b")
    return Graph([a, b], layer(a, b))


@pytest.mark.parametrize("layer", [L.Add, L.Sub, L.Mul, L.Div])
def test_elementwise_broadcast(layer: type, rng: np.random.Generator) -> None:
    check_export(_two_input_graph(layer()), [(3, 4), (1, 4)], rng)


def test_add_three_inputs_and_concat(rng: np.random.Generator) -> None:
    a, b, c = Input(name="a"), Input(name="b"), Input(name="c")
    total = L.Add(name="sum")(a, b, c)
    joined = L.Concat(dim=1, name="joined")(total, a)
    check_export(Graph([a, b, c], joined), [(2, 3), (2, 3), (2, 3)], rng)


def test_split_outputs_feed_other_layers(rng: np.random.Generator) -> None:
    x = Input(name="x")
    parts = L.Split([1, 3], dim=1, name="split")(x)
    g = Graph(x, [L.ReLU(name="left")(parts[0]), L.Concat(dim=2, name="right")(parts[1], parts[1])])
    proto = check_export(g, (4, 5), rng)
    assert [o.name for o in proto.graph.output] == ["left", "right"]
