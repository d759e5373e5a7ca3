"""Exporter emitters for the importer's indexing, reduction, instance-norm and matmul layers, and PriorBox."""
from __future__ import annotations

from typing import Callable

import numpy as np
import pytest

from bigdl_runtime.nn import Graph, Input, Module, Sequential, layers as L

from .onnx_export_check import check_export

# id -> (factory, per-sample shape)
CASES: dict[str, tuple[Callable[[], Module], tuple[int, ...]]] = {
    "slice_fixed_steps": (lambda: L.Slice([1, 4], [3, 0], axes=[1, -1], steps=[1, -2]), (4, 6)),
    "slice_default_axes": (lambda: L.Slice([0, 1], [100, 3]), (4, 6)),
    "expand": (lambda: L.Expand([1, 3, 4]), (1, 4)),
    "tile": (lambda: L.Tile([1, 2, 3]), (2, 3)),
    "transpose_reversed": (lambda: L.Transpose(None), (3, 1, 4)),
    "squeeze": (lambda: L.Squeeze([2]), (3, 1, 4)),
    "unsqueeze": (lambda: L.Unsqueeze([1, -1]), (3, 4)),
    "depth_to_space_dcr": (lambda: L.DepthToSpace(2), (8, 3, 2)),
    "pixel_shuffle": (lambda: L.PixelShuffle(2), (8, 3, 2)),
    "space_to_depth_dcr": (lambda: L.SpaceToDepth(2), (2, 4, 6)),
    "pixel_unshuffle": (lambda: L.PixelUnshuffle(2), (2, 4, 6)),
    "reduce_sum_keep": (lambda: L.ReduceSum([1, 2], keepdim=True), (3, 4, 5)),
    "reduce_mean": (lambda: L.ReduceMean(-1), (3, 4)),
    "reduce_max": (lambda: L.ReduceMax([1]), (3, 4)),
    "reduce_min_noop": (lambda: L.ReduceMin([]), (3, 4)),
    "reduce_prod": (lambda: L.ReduceProd([2]), (3, 4)),
    "argmax_keep_last": (lambda: L.ArgMax(1, keepdim=True, select_last_index=True), (5, 3)),
    "argmin": (lambda: L.ArgMin(-1), (3, 5)),
    "instance_norm2d": (lambda: L.InstanceNorm2d(3), (3, 4, 5)),
    "instance_norm1d_affine": (lambda: L.InstanceNorm1d(3, eps=1e-3, affine=True), (3, 6)),
    "same_pad_upper": (lambda: L.SamePad([3, 3], [2, 2]), (2, 6, 5)),
    "same_pad_lower_dilated": (lambda: L.SamePad([3, 2], [1, 3], dilation=[2, 1], upper=False, value=-1.5), (2, 5, 7)),
    "chunk": (lambda: Sequential(L.Chunk(3, dim=2), L.Concat(dim=2)), (2, 7)),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_layer_exports(case: str, rng: np.random.Generator) -> None:
    factory, shape = CASES[case]
    check_export(factory(), shape, rng)


def test_topk_two_outputs(rng: np.random.Generator) -> None:
    x = Input(name="x")
    best = L.TopK(2, dim=1, name="top")(x)
    proto = check_export(Graph(x, [best[0], best[1]]), (5, 3), rng)
    assert [o.type.tensor_type.elem_type for o in proto.graph.output] == [1, 7]


def test_gather_matmul_einsum_with_runtime_inputs(rng: np.random.Generator) -> None:
    a, b = Input(name="a"), Input(name="b")
    product = L.MatMul(name="mm")(a, b)                       # (N, 3, 4) @ (N, 4, 2)
    mixed = L.Einsum("nij,njk->nik", name="es")(a, b)
    picked = L.Gather(dim=2, name="pick")(product, L.ArgMax(1, name="which")(L.ReduceSum([1], name="s")(b)))
    check_export(Graph([a, b], [product, mixed, picked]), [(3, 4), (4, 2)], rng)


def test_slice_with_runtime_bounds(rng: np.random.Generator) -> None:
    # 1-D int64 bounds computed from the data: arg-extremes over the batch axis of (N, 1) inputs
    x, y = Input(name="x"), Input(name="y")
    start, end = L.ArgMin(0, name="start")(y), L.ArgMax(0, name="end")(y)
    check_export(Graph([x, y], L.Slice(axes=[1], name="cut")(x, start, end)), [(9,), (1,)], rng, batches=(3, 8))


def test_pad_with_runtime_pads_and_axes(rng: np.random.Generator) -> None:
    # pads of the last axis computed from the batch size: [N, 1] before and after
    x = Input(name="x")
    batch = L.ShapeOf(0, 1, name="batch")(x)
    pads = L.Concat(dim=0, name="pads")(batch, L.TensorSource.of(np.array([1]), name="one")(x))
    fixed = L.Pad([1, 2], mode="edge", axes=[-1], name="fixed")(x)
    check_export(Graph(x, [L.Pad(None, value=0.5, axes=[-1], name="computed")(x, pads), fixed]), (3, 4), rng)


@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
def test_upsample_to_a_computed_size(mode: str, rng: np.random.Generator) -> None:
    # resize x to the shape of y (the whole shape vector: N and C equal)
    x, y = Input(name="x"), Input(name="y")
    target = L.ShapeOf(name="target")(y)
    check_export(Graph([x, y], L.UpsampleTo(mode, name="resized")(x, target)), [(3, 4, 5), (3, 7, 9)], rng)


def test_topk_with_a_computed_k(rng: np.random.Generator) -> None:
    # k = the batch size: each sample's N largest features
    x = Input(name="x")
    best = L.TopKOf(dim=1, name="best")(x, L.ShapeOf(0, 1, name="n")(x))
    check_export(Graph(x, [best[0], best[1]]), (6,), rng)


def test_prior_box_is_a_constant(rng: np.random.Generator) -> None:
    image = Input(name="image")
    features = L.Conv2d(3, 4, 3, stride=4, padding=1, name="conv")(image)
    priors = L.PriorBox([8.0], [16.0], aspect_ratios=[2.0], variances=[0.1, 0.1, 0.2, 0.2], name="priors")(
        features, image)
    proto = check_export(Graph(image, [features, priors]), (3, 16, 16), rng)
    assert "priors.priors" in {i.name for i in proto.graph.initializer}


def test_shape_arithmetic_of_imported_graphs(rng: np.random.Generator) -> None:
    # the Shape -> Concat -> Reshape pattern of exported PyTorch models, plus Cast, ConstantOfShape and Range
    x = Input(name="x")
    batch = L.ShapeOf(0, 1, name="batch")(x)                                   # [N]
    target = L.Concat(dim=0, name="target")(batch, L.TensorSource.of(np.array([12]), name="rest")(x))
    flat = L.ReshapeTo(name="flat")(x, target)                                 # (N, 12)
    zeros = L.ConstantOfShape(0.5, name="halves")(L.ShapeOf(name="shape")(flat))
    shifted = L.Add(name="shifted")(flat, zeros)
    steps = L.Range(name="steps")(L.TensorSource.of(np.array(0.0, np.float32), name="start")(x),
                                  L.TensorSource.of(np.array(12.0, np.float32), name="limit")(x),
                                  L.TensorSource.of(np.array(1.0, np.float32), name="delta")(x))
    ramp = L.Mul(name="ramp")(shifted, steps)
    rounded = L.Cast("int64", name="as_int")(ramp)
    fixed = L.ReshapeTo([-1, 3, 4], name="back")(ramp)
    check_export(Graph(x, [ramp, rounded, fixed]), (3, 4), rng)


@pytest.mark.parametrize("cell", ["lstm", "gru_reset_before"])
def test_recurrent_lengths_as_sequence_lens(cell: str, rng: np.random.Generator) -> None:
    # batch-first (N, 5, 3) sequences with per-sample lengths 1..5 (a second int64 input plus one)
    x, n = Input(name="x"), Input(name="n")
    lengths = L.Add(name="lengths")(n, L.TensorSource.of(np.array(1), name="one")(n))
    rnn = L.RecurrentSequence(cell, 3, 4, direction="bidirectional", batch_first=True, name="rnn")
    outs = L.RecurrentLengths(rnn, name="packed")(x, lengths)
    check_export(Graph([x, n], [outs[i] for i in range(3 if cell == "lstm" else 2)]), [(5, 3), ()], rng,
                 input_dtype=[np.float32, np.int64], high=5)


@pytest.mark.parametrize("cell,direction,bias", [("lstm", "bidirectional", True), ("gru", "reverse", True),
                                                 ("gru_reset_before", "forward", True), ("rnn_relu", "forward", False),
                                                 ("rnn_tanh", "bidirectional", True)])
def test_recurrent_sequence_time_major(cell: str, direction: str, bias: bool, rng: np.random.Generator) -> None:
    layer = L.RecurrentSequence(cell, 3, 4, direction=direction, bias=bias, name="rnn")
    x = Input(name="x")
    outs = layer(x)
    check_export(Graph(x, [outs[i] for i in range(3 if cell == "lstm" else 2)]), (2, 3), rng)  # (T, N, I), T dynamic


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_recurrent_sequence_batch_first_with_states(cell: str, rng: np.random.Generator) -> None:
    layer = L.RecurrentSequence(cell, 3, 4, direction="bidirectional", batch_first=True, name="rnn")
    x, h0, c0 = Input(name="x"), Input(name="h0"), Input(name="c0")
    states = [h0, c0] if cell == "lstm" else [h0]
    outs = layer(x, *states)
    check_export(Graph([x, *states], [outs[i] for i in range(1 + len(states))]), [(5, 3)] + [(2, 4)] * len(states),
                 rng)
