"""Weight sharing: one layer at several graph nodes (or Sequential slots) equals tied copies, gradients summed."""
from __future__ import annotations

import numpy as np
import pytest

from bigdl_runtime.nn import Add, Conv2d, Graph, Input, Linear, Module, ReLU, Sequential, Tanh
from tests.helpers.gradcheck import check_module


def _rng() -> np.random.Generator:
    return np.random.default_rng(3)


def _copy_of(layer: Module) -> Module:
    """A separate layer of the same type, config and weights (a tied copy)."""
    twin = type(layer).from_config(layer.get_config()).astype(np.float64)
    twin.load_state_dict(layer.state_dict())
    return twin


def _recurrent_linear(fc: Module, fc_again: Module) -> Graph:
    """x -> fc -> tanh -> fc_again -> tanh: the same Linear twice in a row when fc_again is fc."""
    x = Input(name="x")
    return Graph(x, Tanh()(fc_again(Tanh()(fc(x)))))


def _siamese_conv(conv: Module, conv_again: Module) -> Graph:
    """conv(a) + conv_again(b): one convolution applied to two inputs when conv_again is conv."""
    a, b = Input(name="a"), Input(name="b")
    return Graph([a, b], Add()(conv(a), conv_again(b)))


CASES = {
    "linear_in_series": (lambda: Linear(4, 4, name="fc"), _recurrent_linear, [(3, 4)]),
    "conv_on_two_inputs": (lambda: Conv2d(2, 3, 3, padding=1, name="conv"), _siamese_conv, [(2, 2, 5, 5)] * 2),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_shared_layer_equals_tied_copies(case: str) -> None:
    make, build, shapes = CASES[case]
    rng = _rng()
    layer = make().astype(np.float64)
    first, second = _copy_of(layer), _copy_of(layer)
    shared, tied = build(layer, layer), build(first, second)
    inputs = [rng.standard_normal(s) for s in shapes]
    dy = rng.standard_normal(shared.forward(*inputs).shape)

    np.testing.assert_allclose(shared.forward(*inputs), tied.forward(*inputs), rtol=1e-12)
    shared.zero_grad()
    tied.zero_grad()
    gx_shared, gx_tied = shared.backward(dy), tied.backward(dy)
    for got, want in zip(gx_shared if len(shapes) > 1 else [gx_shared], gx_tied if len(shapes) > 1 else [gx_tied]):
        np.testing.assert_allclose(got, want, rtol=1e-12)
    for key, p in layer.named_parameters():
        summed = dict(first.named_parameters())[key].grad + dict(second.named_parameters())[key].grad
        np.testing.assert_allclose(p.grad, summed, rtol=1e-12, err_msg=key)


@pytest.mark.parametrize("case", sorted(CASES))
def test_shared_layer_gradients_match_finite_differences(case: str) -> None:
    make, build, shapes = CASES[case]
    layer = make()
    graph = build(layer, layer)
    check_module(graph, [_rng().standard_normal(s) for s in shapes])


def test_shared_layer_is_one_child_with_parameters_counted_once() -> None:
    fc = Linear(4, 4, name="fc")
    graph = _recurrent_linear(fc, fc)
    assert [n.name for n in graph.nodes] == ["x", "fc", "tanh_1", "fc_2", "tanh_2"]
    assert graph.node("fc").module is graph.node("fc_2").module is fc
    assert [k for k, _ in graph.named_parameters()] == ["fc.weight", "fc.bias"]
    assert graph.num_parameters() == 4 * 4 + 4
    flat_w, flat_g = graph.flatten_parameters()
    assert flat_w.size == 20 and fc.weight.data.base is flat_w


def test_a_node_name_given_to_a_later_use_is_kept() -> None:
    fc = Linear(4, 4, name="fc")
    x = Input()
    h = fc(x)
    h.name = "first"
    y = fc(h)
    y.name = "again"
    assert Graph(x, y).output_names == ["again"] and Graph(x, y).node("first").module is fc


def test_sequential_refuses_the_same_layer_twice() -> None:
    fc = Linear(3, 3, name="fc")
    with pytest.raises(ValueError, match=r"Sequential already holds Linear\('fc'\); .* use a Graph"):
        Sequential(fc, ReLU(), fc)


def test_sequential_inside_a_graph_used_at_two_nodes() -> None:
    block = Sequential(Linear(3, 3), ReLU(), name="block")
    x = Input()
    graph = Graph(x, block(block(x)))
    assert [k for k, _ in graph.named_parameters()] == ["block.0.weight", "block.0.bias"]
    check_module(graph, [_rng().standard_normal((2, 3))])


def test_nested_graph_used_at_two_nodes() -> None:
    x = Input()
    inner = Graph(x, Tanh()(Linear(3, 3, name="fc")(x)), name="block")
    z = Input()
    outer = Graph(z, inner(inner(z)))
    assert [k for k, _ in outer.named_parameters()] == ["block.fc.weight", "block.fc.bias"]
    check_module(outer, [_rng().standard_normal((2, 3))])


def test_batch_norm_shared_by_two_nodes_updates_its_statistics_per_call() -> None:
    from bigdl_runtime.nn import BatchNorm1d

    bn = BatchNorm1d(3, momentum=0.5)
    x = Input()
    graph = Graph(x, Add()(bn(x), bn(Tanh()(x))))
    data = _rng().standard_normal((8, 3))
    graph.forward(data)
    mean = 0.5 * (0.5 * data.mean(0)) + 0.5 * np.tanh(data).mean(0)
    np.testing.assert_allclose(bn.running_mean, mean, rtol=1e-6)
