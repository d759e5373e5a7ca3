"""The graph's execution plan: slots freed after their last use, inference without contexts
(evaluation-mode forward, with a replayed forward if a backward follows), fused inference steps,
and the layers' ``infer`` giving their ``forward_pass`` output."""
from __future__ import annotations

import numpy as np
import pytest

from bigdl_runtime import nn
from bigdl_runtime.nn import Graph, Input
from bigdl_runtime.nn.layers.control_flow import IfElse, Loop, Scan


def _x(*shape, seed=0, dtype=np.float64):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _cnn() -> Graph:
    """Conv -> ReLU (fusable), a Sigmoid -> Mul (SiLU, fusable), a Split with both halves used, a
    shared layer at two nodes and a graph output that is also read by a later step."""
    x = Input("x")
    h = nn.ReLU(name="relu1")(nn.Conv2d(3, 8, 3, padding=1, name="conv1")(x))
    s = nn.Mul(name="silu")(h, nn.Sigmoid(name="gate")(h))
    parts = nn.Split(4, dim=1, name="split")(s)
    shared = nn.Conv2d(4, 4, 1, name="shared")
    a, b = shared(parts[0]), shared(parts[1])
    y = nn.Add(name="sum")(nn.Hardswish(name="hs")(a), nn.LeakyReLU(0.1, name="lrelu")(b))
    return Graph(x, [y, h])


def test_steps_free_each_value_after_its_last_reader_and_keep_the_outputs() -> None:
    graph = _cnn()
    plan = graph._plan
    names = plan.names
    freed_at = {names[s]: step.name for step in plan.steps for s in step.free}
    assert freed_at["x"] == "conv1"
    assert freed_at["silu"] == "split"
    assert freed_at["split"] == "shared_2"  # both halves read: freed after the second reader
    assert "relu1" not in freed_at  # a graph output
    assert "sum" not in freed_at
    for steps in (plan.steps, plan.infer_steps):
        freed = [s for step in steps for s in step.free]
        assert len(freed) == len(set(freed)), "a slot is freed twice"


def test_inference_fuses_conv_relu_and_silu_but_not_a_value_read_twice() -> None:
    plan = _cnn()._plan
    infer_names = [step.name for step in plan.infer_steps]
    # relu1 is a graph output as well as the SiLU's input: conv1 -> relu1 fuses (conv1's only reader),
    # the sigmoid's only reader is the Mul of the same input: it fuses into one SiLU step
    assert "conv1" not in infer_names and "gate" not in infer_names
    assert {"relu1", "silu"} <= set(infer_names)
    assert len(plan.infer_steps) == len(plan.steps) - 2
    x = Input("x")
    h = nn.Conv2d(3, 4, 3, name="c")(x)
    both = Graph(x, [nn.ReLU(name="r")(h), h])  # the convolution's output is also an output: no fusion
    assert [s.name for s in both._plan.infer_steps] == ["c", "r"]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_evaluation_forward_equals_the_training_path(dtype) -> None:
    graph = _cnn().astype(dtype).evaluate()
    x = _x(2, 3, 6, 6, dtype=dtype)
    want = graph.forward_pass(x)[0]
    got = graph(x)
    tol = 1e-6 if dtype == np.float32 else 1e-12
    for g, w in zip(got, want):
        assert g.dtype == w.dtype
        np.testing.assert_allclose(g, w, rtol=tol, atol=tol)


def test_backward_after_an_evaluation_forward_replays_it_with_contexts() -> None:
    graph = _cnn().evaluate()
    x = _x(2, 3, 5, 5)
    grads = (_x(2, 4, 5, 5, seed=1), _x(2, 8, 5, 5, seed=2))
    y, ctx = graph.forward_pass(x)
    graph.zero_grad()
    want_dx = graph.backward_pass(grads, ctx)
    want = {k: p.grad.copy() for k, p in graph.named_parameters()}
    graph.zero_grad()
    out = graph(x)
    np.testing.assert_allclose(out[0], y[0], rtol=1e-12)
    np.testing.assert_allclose(graph.backward(grads), want_dx, rtol=1e-10, atol=1e-12)
    for k, p in graph.named_parameters():
        np.testing.assert_allclose(p.grad, want[k], rtol=1e-10, atol=1e-12, err_msg=k)


def test_training_still_learns_through_the_plan() -> None:
    graph = _cnn().train()
    x = _x(2, 3, 5, 5)
    target = np.zeros((2, 4, 5, 5))
    losses = []
    for _ in range(5):
        y, h = graph(x)
        losses.append(float(((y - target) ** 2).mean()))
        graph.zero_grad()
        graph.backward((2 * (y - target) / y.size, np.zeros_like(h)))
        for p in graph.parameters():
            p.data -= 0.5 * p.grad
    assert losses[-1] < losses[0]


def test_fused_steps_read_the_current_weights() -> None:
    graph = _cnn().evaluate()
    x = _x(1, 3, 4, 4)
    graph(x)
    conv = graph.node("conv1").module
    conv.weight.data[...] = 0
    conv.bias = nn.Parameter(np.full(8, -1.0))  # a new Parameter object, not only new values
    _, h = graph(x)
    assert np.all(h == 0)  # relu(0 * x - 1)


def test_evaluation_forward_keeps_no_activations() -> None:
    graph = _cnn().evaluate()
    graph(_x(1, 3, 4, 4))
    kept = graph.__dict__["_ctx"]
    assert type(kept).__name__ == "_Replay" and len(kept.inputs) == 1


def test_memoized_shape_layers_follow_the_input_shape() -> None:
    layers = [nn.Slice([1, -3], [100, 4], [1, 2], [1, 1]), nn.Squeeze(), nn.Unsqueeze([0, -1]),
              nn.Pad([0, 1, 2, 0, 2, 1], mode="reflect"), nn.Pad([0, 1, 2, 0, 2, 1], mode="edge"),
              nn.Pad([0, -1, 1, 0, 2, -1], value=3.0)]
    for layer in layers:
        for shape in [(2, 3, 5), (1, 4, 6), (2, 3, 5)]:
            x = _x(*shape)
            np.testing.assert_array_equal(layer.infer(x), layer.forward_pass(x)[0], err_msg=layer.describe())
    with pytest.raises(ValueError, match="Squeeze"):
        nn.Squeeze([1]).infer(_x(2, 3))


def test_control_flow_infers_like_its_forward_pass() -> None:
    c, v = Input("c"), Input("v")
    branch = IfElse(Graph([c, v], nn.Neg()(v)), Graph([c, v], nn.Tanh()(v)))
    i, go, carried = Input("i"), Input("go"), Input("carried")
    loop = Loop(Graph([i, go, carried], [go, nn.Tanh()(carried), nn.Sigmoid()(carried)]), 1)
    s, xs = Input("s"), Input("xs")
    total = nn.Add()(s, xs)
    scan = Scan(Graph([s, xs], [total, nn.Tanh()(total)]), 1, 1)
    v0 = _x(3)
    for layer, args in [(branch, (np.array(True), v0)), (branch, (np.array(False), v0)),
                        (loop, (np.array(4), np.array(True), v0)), (scan, (np.zeros(3), _x(5, 3)))]:
        want, got = layer.forward_pass(*args)[0], layer.infer(*args)
        for w, g in zip(want if isinstance(want, tuple) else [want], got if isinstance(got, tuple) else [got]):
            np.testing.assert_allclose(g, w, rtol=1e-14)  # Sigmoid's inference kernel: within an ulp


def test_a_wrong_input_count_names_the_graph() -> None:
    graph = _cnn().evaluate()
    with pytest.raises(ValueError, match="expected 1 input"):
        graph(_x(1, 3, 4, 4), _x(1))


def _bn(cls, n):
    layer = cls(n)
    rng = np.random.default_rng(3)
    layer.running_mean[...] = rng.standard_normal(n)
    layer.running_var[...] = rng.random(n) + 0.5
    layer.weight.data[...] = rng.standard_normal(n)
    layer.bias.data[...] = rng.standard_normal(n)
    return layer


INFER_CASES = [
    (lambda: _bn(nn.BatchNorm2d, 4), [(2, 4, 3, 3)]),
    (lambda: _bn(nn.BatchNorm1d, 4), [(5, 4)]),
    (lambda: nn.BatchNorm2d(4, affine=False), [(2, 4, 3, 3)]),
    (lambda: _bn(nn.BatchNorm2d, 2), [(2, 2, 200, 200)]),  # large: the kernel's threaded path
    (nn.Add, [(2, 3), (3,)]), (nn.Sub, [(2, 3), (2, 1)]), (nn.Mul, [(2, 3), ()]), (nn.Div, [(2, 3), (2, 3)]),
    (lambda: nn.Conv1d(4, 6, 3, stride=2, padding=1), [(2, 4, 9)]),
    (lambda: nn.Conv1d(4, 6, 4, padding="same"), [(2, 4, 9)]),
    (lambda: nn.Conv2d(4, 8, (3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 2)), [(2, 4, 9, 7)]),
    (lambda: nn.Conv2d(8, 8, 3, groups=8, padding=1), [(1, 8, 5, 5)]),
    (lambda: nn.ConvReLU2d(4, 8, 3, padding=1, max_value=6.0), [(2, 4, 9, 7)]),
    (lambda: nn.Conv2d(16, 32, 3, padding=1), [(4, 16, 40, 40)]),  # large: the forward kernel
    (lambda: nn.ConvTranspose2d(4, 4, 3, stride=2), [(1, 4, 5, 5)]),
    (nn.Hardswish, [(3, 7)]), (lambda: nn.LeakyReLU(0.2), [(3, 7)]), (nn.Sigmoid, [(3, 7)]),
    (nn.Maximum, [(3, 7), (7,), ()]), (nn.Minimum, [(3, 7), (3, 1)]),
    (lambda: nn.Pow(2.0), [(3, 7)]), (lambda: nn.Pow(3.0), [(3, 7)]),
    (lambda: nn.ReduceMean(dim=[1, -1], keepdim=True), [(2, 3, 4)]), (lambda: nn.ReduceMean(), [(2, 3)]),
    (lambda: nn.ReduceMean(dim=[]), [(2, 3)]), (lambda: nn.ReduceMean(dim=0), [(0, 3)]),
    (lambda: nn.ReduceMean(dim=1, keepdim=True), [(1, 5)]),  # one value out: divided into a new array
    (lambda: nn.Linear(5, 1), [(1, 5)]), (nn.Flatten, [(2, 3, 4)]), (nn.GreaterOrEqual, [(3, 7), (7,)]),
    (nn.Tanh, [(3, 7)]), (nn.Sigmoid, [(1, 1)]),
    (nn.ReduceMax, [(2, 3, 4)]), (lambda: nn.ReduceMax(dim=[0, -1], keepdim=True), [(2, 3, 4)]),
    (lambda: nn.ReduceMin(dim=1), [(2, 3, 4)]), (lambda: nn.ReduceMin(dim=[]), [(2, 3)]),
    (lambda: nn.ReduceMax(dim=0), [(0, 3)]), (nn.ReduceMin, [()]),
    (lambda: nn.Clip(-0.5, 0.5), [(3, 7)]), (lambda: nn.Clip(None, 0.5), [(1, 1)]), (lambda: nn.Clip(0.2), [(3, 7)]),
    (lambda: nn.Clip(0.5, -0.5), [(3, 7)]), (nn.Clip, [(3, 7)]), (nn.ReLU6, [(3, 7)]),
]


@pytest.mark.parametrize("index", [0, 2, -1, -3])
def test_gather_of_one_index_infers_like_its_forward_pass(index) -> None:
    layer = nn.Gather(dim=1)
    x = _x(2, 3, 4)
    for idx in (np.array(index), np.array([index, 0])):
        np.testing.assert_array_equal(layer.infer(x, idx), layer.forward_pass(x, idx)[0])
    with pytest.raises(ValueError, match="Gather.*out of range"):
        layer.infer(x, np.array(3))


@pytest.mark.parametrize("make, shapes", INFER_CASES, ids=[str(i) for i in range(len(INFER_CASES))])
def test_layer_infer_gives_its_forward_pass_output(make, shapes) -> None:
    layer = make().evaluate()
    args = [_x(*s, seed=k) for k, s in enumerate(shapes)]
    if isinstance(layer, (nn.Conv1d, nn.Conv2d, nn.ConvTranspose2d)):
        args = [a.astype(np.float32) for a in args]
    want = layer.forward_pass(*args)[0]
    for _ in range(2):  # the second call runs what the first one planned
        got = layer.infer(*args)
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-5 if got.dtype == np.float32 else 1e-12, atol=1e-6)


def test_a_graph_pickles_after_inference_and_its_copy_runs_its_own_layers() -> None:
    import pickle

    graph = _cnn().astype(np.float32).evaluate()
    x = _x(1, 3, 4, 4, dtype=np.float32)
    want = graph(x)  # fills the layers' per-shape plans (direct convolutions, memoized shapes)
    copy = pickle.loads(pickle.dumps(graph))
    for g, w in zip(copy(x), want):
        np.testing.assert_array_equal(g, w)
    fused = next(step for step in copy._plan.infer_steps if step.name == "relu1")
    assert fused.run.func.__self__ is copy.node("conv1").module


def test_a_cut_graph_keeps_the_mode_of_the_graph_it_is_cut_from() -> None:
    graph = _cnn().evaluate()
    head = graph.new_graph(outputs=["silu"])
    assert head.training is False
    x = _x(1, 3, 4, 4)
    np.testing.assert_array_equal(head(x), graph.new_graph(outputs=["silu"])(x))
    assert graph.train().new_graph(outputs=["silu"]).training is True
