"""fuse_for_inference: conv + batch norm folding and conv + ReLU fusion give the same outputs with
ordinary layers (``blocked=False``: the folding alone; the blocked segments are tested in
test_blocked_segment.py)."""
import numpy as np
import pytest

from bigdl_runtime.nn import (Add, BatchNorm2d, Conv2d, Flatten, GlobalAvgPool2d, Graph, Input, Linear, ReLU,
                              Sequential)
from bigdl_runtime.nn.fuse import fold_batch_norm, fuse_for_inference
from bigdl_runtime.serialization import model_from_bytes, model_to_bytes


def _trained_stats(model, rng, shape):
    """Run a few training forwards (running statistics move away from 0/1) and set random affines."""
    model.train()
    for k in range(3):
        model.forward(rng.standard_normal(shape) * (k + 1) + k)
    for m in model.modules():
        if isinstance(m, BatchNorm2d) and m.weight is not None:
            m.weight.data[...] = rng.uniform(0.5, 1.5, m.weight.shape)
            m.bias.data[...] = rng.uniform(-0.5, 0.5, m.bias.shape)
    return model.evaluate()


def _kinds(model):
    return [type(m).__name__ for m in model.modules()]


def _graph():
    x = Input(name="x")
    a = ReLU(name="r1")(BatchNorm2d(6, name="bn1")(Conv2d(3, 6, 3, padding=1, bias=False, name="c1")(x)))
    b = BatchNorm2d(6, name="bn2")(Conv2d(6, 6, 3, padding=1, name="c2")(a))
    shared = Conv2d(6, 6, 1, name="c3")(b)  # feeds a batch norm AND the add: must not be folded
    c = BatchNorm2d(6, affine=False, name="bn3")(shared)
    y = Add(name="add")(c, shared)
    head = Linear(6, 4, name="fc")(Flatten(name="flat")(GlobalAvgPool2d(name="gap")(y)))
    return Graph(x, [head, b])


def test_graph_folding_matches_the_unfused_model_and_keeps_shared_outputs(rng):
    model = _trained_stats(_graph().astype(np.float64), rng, (4, 3, 8, 8))
    before = {k: v.copy() for k, v in model.state_dict().items()}
    x = rng.standard_normal((2, 3, 8, 8))
    expected = model.forward(x)
    fused = fuse_for_inference(model, blocked=False)
    got = fused.forward(x)
    for e, g in zip(expected, got):
        np.testing.assert_allclose(g, e, rtol=1e-10, atol=1e-10)
    names = [n.name for n in fused.nodes]
    assert _kinds(fused).count("BatchNorm2d") == 1
    assert "bn1" not in names and "bn2" not in names  # folded (bn2's output is a graph output: still fine)
    assert "bn3" in names  # c3's output also feeds the add, so it keeps its batch norm
    assert "r1" not in names and type(fused.node("c1").module).__name__ == "ConvReLU2d"  # c1 + bn1 + r1
    assert fused.node("c1").module.bias is not None and not fused.training
    for k, v in model.state_dict().items():  # the original is untouched
        np.testing.assert_array_equal(v, before[k])


def test_sequential_folding_and_saved_file_round_trip(rng):
    model = Sequential(Conv2d(2, 5, 3, stride=2, name="conv"), BatchNorm2d(5, name="bn"), ReLU(name="relu"),
                       Conv2d(5, 3, 1, groups=1, bias=False, name="conv2"), BatchNorm2d(3, name="bn2"))
    model = _trained_stats(model, rng, (6, 2, 9, 9))
    x = rng.standard_normal((3, 2, 9, 9)).astype(np.float32)
    fused = fuse_for_inference(model, blocked=False)
    assert _kinds(fused) == ["Sequential", "ConvReLU2d", "Conv2d"]
    np.testing.assert_allclose(fused.forward(x), model.forward(x), rtol=1e-4, atol=1e-5)
    reloaded = model_from_bytes(model_to_bytes(fused))
    np.testing.assert_array_equal(reloaded.evaluate().forward(x), fused.forward(x))


def test_fold_rejects_a_batch_norm_without_running_stats():
    with pytest.raises(ValueError, match="running statistics"):
        fold_batch_norm(Conv2d(2, 3, 1), BatchNorm2d(3, track_running_stats=False))


def test_relu_fusion_shares_the_convolution_and_is_skipped_when_the_output_has_other_uses(rng):
    x = Input(name="x")
    conv = Conv2d(3, 4, 3, padding=1, name="c")
    a = conv(x)
    graph = Graph(x, [ReLU(name="r")(a), a])  # the conv output is also a graph output: no fusion
    assert [type(n.module).__name__ for n in fuse_for_inference(graph).nodes if n.module] == ["Conv2d", "ReLU"]
    seq = Sequential(conv, ReLU(name="r"))
    fused = fuse_for_inference(seq)
    (layer,) = fused.children()
    assert type(layer).__name__ == "ConvReLU2d" and layer.name == "c" and layer.weight is conv.weight
    xs = rng.standard_normal((2, 3, 5, 5)).astype(np.float32)
    np.testing.assert_allclose(fused.forward(xs), seq.evaluate().forward(xs), rtol=1e-6, atol=1e-6)


def test_relu6_after_conv_and_batch_norm_fuses_into_a_capped_conv_relu(rng):
    from bigdl_runtime.nn.layers.math import ReLU6

    model = Sequential(Conv2d(3, 8, 3, padding=1, groups=1, bias=False, name="c"), BatchNorm2d(8, name="bn"),
                       ReLU6(name="r6"), Conv2d(8, 8, 3, padding=1, groups=8, bias=False, name="dw"), ReLU6())
    model = _trained_stats(model, rng, (4, 3, 6, 6))
    model[0].weight.data[...] *= 10.0  # push outputs past 6
    x = rng.standard_normal((2, 3, 6, 6)).astype(np.float32)
    expected = model.evaluate().forward(x)
    fused = fuse_for_inference(model, blocked=False)
    assert _kinds(fused) == ["Sequential", "ConvReLU2d", "ConvReLU2d"]
    assert [m.max_value for m in fused.children()] == [6.0, 6.0]
    np.testing.assert_allclose(fused.forward(x), expected, rtol=1e-4, atol=1e-4)
    reloaded = model_from_bytes(model_to_bytes(fused))
    np.testing.assert_array_equal(reloaded.evaluate().forward(x), fused.forward(x))
