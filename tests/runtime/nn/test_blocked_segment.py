"""BlockedSegment: runs of plannable layers become one segment; evaluation-mode float32 forwards run the
oneDNN plan, everything else the body; fused models still train, save, load and export."""
import numpy as np
import onnxruntime as ort
import pytest

from bigdl_runtime.kernels import onednn
from bigdl_runtime.kernels.onednn_plan import Plan
from bigdl_runtime.nn import (Add, BatchNorm2d, Conv2d, Flatten, GlobalAvgPool2d, Graph, Input, Linear, MaxPool2d,
                              ReLU, Sequential)
from bigdl_runtime.nn.blocked_segment import BlockedSegment
from bigdl_runtime.nn.fuse import fuse_for_inference
from bigdl_runtime.serialization import model_from_bytes, model_to_bytes

needs_onednn = pytest.mark.skipif(not onednn.available(), reason="oneDNN (onednn-cpu-gomp) is not installed")


def _residual_net():
    x = Input(name="x")
    h = MaxPool2d(3, stride=2, padding=1, name="pool")(ReLU(name="r0")(BatchNorm2d(8, name="bn0")(
        Conv2d(3, 8, 3, padding=1, bias=False, name="c0")(x))))
    a = ReLU(name="r1")(Conv2d(8, 8, 3, padding=1, name="c1")(h))
    y = ReLU(name="out")(Add(name="add")(Conv2d(8, 8, 3, padding=1, name="c2")(a), h))
    head = Linear(8, 4, name="fc")(Flatten(name="flat")(GlobalAvgPool2d(name="gap")(y)))
    return Graph(x, [head, h])  # h is also an output: the run is cut after it


def _segments(model):
    return [m for m in model.modules() if isinstance(m, BlockedSegment)]


def test_runs_become_segments_named_as_their_last_node_and_values_read_outside_cut_them(rng):
    fused = fuse_for_inference(_residual_net().evaluate())
    kinds = [(n.name, type(n.module).__name__) for n in fused.nodes if n.module is not None]
    assert kinds == [("pool", "BlockedSegment"), ("fc", "BlockedSegment")]
    first, second = (fused.node(name).module for name in ("pool", "fc"))
    assert [n.name for n in first.body.nodes] == ["x", "c0", "pool"]
    assert [n.name for n in second.body.nodes] == ["pool", "c1", "c2", "add", "out", "gap", "flat", "fc"]
    assert fused.output_names == ["fc", "pool"]


@needs_onednn
def test_evaluation_runs_the_plan_and_training_the_body_and_gradients_agree(rng):
    model = _residual_net().evaluate()
    x = rng.standard_normal((2, 3, 12, 12)).astype(np.float32)
    expected = model.forward(x)
    fused = fuse_for_inference(model)
    got = fused.forward(x)
    for e, g in zip(expected, got):
        np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-5)
    first, second = (fused.node(name).module for name in ("pool", "fc"))
    assert isinstance(first._plans[x.shape], Plan) and isinstance(second._plans[(2, 8, 6, 6)], Plan)
    grads = [rng.standard_normal(g.shape).astype(np.float32) for g in got]
    dx_eval = fused.backward(tuple(grads))  # after a plan: the body's forward is recomputed
    reference = fuse_for_inference(model, blocked=False)
    reference.forward(x)
    np.testing.assert_allclose(dx_eval, reference.backward(tuple(grads)), rtol=1e-4, atol=1e-5)
    fused.train()
    fused.forward(x)  # a training forward runs the body and drops the plans (weights may change now)
    assert all(not s._plans for s in _segments(fused))


@needs_onednn
def test_changed_weights_reach_a_segment_after_a_training_forward(rng):
    seq = fuse_for_inference(Sequential(Conv2d(3, 4, 3, name="c"), ReLU(), MaxPool2d(2)).evaluate())
    (segment,) = _segments(seq)
    x = rng.standard_normal((1, 3, 6, 6)).astype(np.float32)
    before = seq.forward(x)
    conv = segment.body.node("c").module
    conv.weight.data[...] *= -1
    np.testing.assert_array_equal(seq.forward(x), before)  # the plan holds a copy of the weights
    seq.train().forward(x)
    after = seq.evaluate().forward(x)
    assert not np.allclose(after, before)
    np.testing.assert_allclose(after, seq.train().forward(x), rtol=1e-5, atol=1e-6)


def test_copies_leave_plans_behind_and_linear_runs_stay_layer_by_layer(rng):
    import copy

    fused = fuse_for_inference(Sequential(Conv2d(3, 4, 3), ReLU(), MaxPool2d(2), Flatten(), Linear(16, 2)).evaluate())
    x = rng.standard_normal((2, 3, 6, 6)).astype(np.float32)
    y = fused.forward(x)
    twin = copy.deepcopy(fused)
    assert all(not s._plans for s in _segments(twin))
    np.testing.assert_allclose(twin.forward(x), y, rtol=1e-6, atol=1e-6)
    mlp = fuse_for_inference(Sequential(Linear(4, 8), ReLU(), Linear(8, 2)))
    assert not _segments(mlp)


def test_float64_runs_the_body(rng):
    fused = fuse_for_inference(_residual_net().astype(np.float64).evaluate())
    x = rng.standard_normal((2, 3, 10, 10))
    out = fused.forward(x)
    assert out[0].dtype == np.float64 and all(not s._plans for s in _segments(fused))


@needs_onednn
def test_a_fused_model_saves_loads_and_exports_to_onnx(rng, tmp_path):
    fused = fuse_for_inference(_residual_net().evaluate())
    x = rng.standard_normal((2, 3, 12, 12)).astype(np.float32)
    expected = fused.forward(x)
    reloaded = model_from_bytes(model_to_bytes(fused)).evaluate()
    assert [type(m).__name__ for m in reloaded.children()] == [type(m).__name__ for m in fused.children()]
    for e, g in zip(expected, reloaded.forward(x)):
        np.testing.assert_array_equal(g, e)
    path = tmp_path / "fused.onnx"
    fused.to_onnx(str(path), (3, 12, 12))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for e, g in zip(expected, session.run(None, {session.get_inputs()[0].name: x})):
        np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-5)


def test_a_body_with_other_layers_is_refused():
    x = Input()
    with pytest.raises(ValueError, match="cannot run in a plan"):
        BlockedSegment(Graph(x, BatchNorm2d(3)(x)))


@needs_onednn
def test_activations_affine_maps_and_a_gate_run_in_the_plan_like_the_body(rng):
    """Every activation a plan translates (leaky ReLU, clip with an open end, hard-swish, hard-sigmoid,
    sigmoid, tanh, x * a + b) and an SE product run in one segment with the body's results; a Power of
    another exponent, or a Clip with min > max, stays outside."""
    from bigdl_runtime.nn.layers.activation import Hardsigmoid, Hardswish, LeakyReLU, Sigmoid, Tanh
    from bigdl_runtime.nn.layers.affine import Power
    from bigdl_runtime.nn.layers.elementwise import Mul
    from bigdl_runtime.nn.layers.math import Clip

    x = Input(name="x")
    h = Hardswish(name="hs")(Conv2d(3, 16, 3, padding=1, name="c0")(x))
    dw = Conv2d(16, 16, 3, padding=1, groups=16, name="dw")
    h = Clip(min=-0.5, name="floor")(LeakyReLU(0.1, name="lrelu")(dw(h)))
    gate = Hardsigmoid(0.2, 0.5, name="hsig")(Conv2d(16, 16, 1, name="se")(GlobalAvgPool2d(name="gap")(h)))
    h = Mul(name="gate")(gate, h)
    h = Tanh(name="tanh")(Power(1.0, 0.5, 0.25, name="affine")(Sigmoid(name="sig")(Conv2d(16, 8, 1, name="c1")(h))))
    model = Graph(x, Clip(max=0.4, name="cap")(h)).evaluate()
    fused = fuse_for_inference(model)
    assert [type(n.module).__name__ for n in fused.nodes[1:]] == ["BlockedSegment"]
    data = rng.standard_normal((2, 3, 10, 9)).astype(np.float32)
    plan = fused.node("cap").module._plan(data)
    assert plan is not None and [k for k, _ in plan.steps].count("eltwise") == 0  # all post-ops
    np.testing.assert_allclose(fused(data), model(data), rtol=1e-5, atol=1e-6)

    y = Input(name="y")
    odd = Graph(y, Clip(min=1.0, max=0.0, name="empty")(Power(2.0, name="square")(Conv2d(3, 4, 1, name="c")(y))))
    kinds = [type(n.module).__name__ for n in fuse_for_inference(odd.evaluate()).nodes[1:]]
    assert kinds == ["Conv2d", "Power", "Clip"]


@needs_onednn
def test_a_channel_split_and_its_parts_stay_in_the_segment_and_a_run_never_ends_at_one(rng):
    """YOLOv8's C2f block (conv, split in two, a bottleneck on the second part, concat of both parts and the
    bottleneck's output, conv) is one segment; a split whose parts are read outside ends the run before it."""
    from bigdl_runtime.nn.layers.shape import Concat, Split

    x = Input(name="x")
    h = ReLU(name="r0")(Conv2d(3, 32, 1, name="cv1")(x))
    parts = Split(16, dim=1, name="split")(h)
    b = Add(name="add")(parts[1], ReLU(name="r1")(Conv2d(16, 16, 3, padding=1, name="m")(parts[1])))
    y = Conv2d(48, 8, 1, name="cv2")(Concat(dim=1, name="cat")(parts[0], parts[1], b))
    model = Graph(x, y).evaluate()
    fused = fuse_for_inference(model)
    assert [type(n.module).__name__ for n in fused.nodes[1:]] == ["BlockedSegment"]
    data = rng.standard_normal((2, 3, 9, 8)).astype(np.float32)
    plan = fused.node("cv2").module._plan(data)
    assert plan is not None and [k for k, _ in plan.steps].count("slice") == 2
    np.testing.assert_allclose(fused(data), model(data), rtol=1e-4, atol=1e-5)

    z = Input(name="z")
    halves = Split(16, dim=1, name="split")(ReLU(name="r")(Conv2d(3, 32, 1, name="c")(z)))
    outside = Graph(z, [halves[0], halves[1]]).evaluate()  # the parts are the graph's outputs
    kinds = [type(n.module).__name__ for n in fuse_for_inference(outside).nodes[1:]]
    assert kinds == ["ConvReLU2d", "Split"]
    for got, want in zip(fuse_for_inference(outside)(data), outside(data)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
