"""Graph: functional construction, forward/backward (finite differences), naming, cutting, errors."""
from __future__ import annotations

import numpy as np
import pytest

from bigdl_runtime.nn import Module, Parameter, init
from bigdl_runtime.nn.graph import Graph, Input, Node
from tests.helpers.gradcheck import check_module


# Tiny test-local layers (prefixed so their registry names cannot clash with real layers).
class GtAffine(Module):
    """y = x @ weight.T + bias."""

    def __init__(self, in_features: int, out_features: int, name: str | None = None) -> None:
        super().__init__(name=name)
        self.weight = Parameter(init.default_weight((out_features, in_features)))
        self.bias = Parameter(init.default_bias((out_features,), in_features))

    def forward_pass(self, x):
        return x @ self.weight.data.T + self.bias.data, x

    def backward_pass(self, dy, x):
        self.weight.grad += dy.T @ x
        self.bias.grad += dy.sum(0)
        return dy @ self.weight.data


class GtTanh(Module):
    def forward_pass(self, x):
        y = np.tanh(x)
        return y, y

    def backward_pass(self, dy, y):
        return dy * (1 - y ** 2)


class GtMul(Module):
    """Two inputs: y = a * b."""

    def forward_pass(self, a, b):
        return a * b, (a, b)

    def backward_pass(self, dy, ctx):
        a, b = ctx
        return dy * b, dy * a


class GtSplit(Module):
    """Two outputs: the first ``k`` columns and the rest."""

    def __init__(self, k: int = 1, name: str | None = None) -> None:
        super().__init__(name=name)
        self.k = k

    def forward_pass(self, x):
        return (x[:, :self.k], x[:, self.k:]), None

    def backward_pass(self, grads, ctx):
        return np.concatenate(grads, axis=1)


class GtStatefulTanh(Module):
    """A module in the stateful style: forward keeps what backward needs on the module."""

    def forward(self, x):
        self.y = np.tanh(x)
        return self.y

    def backward(self, dy):
        return dy * (1 - self.y ** 2)


def _x(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def chain():
    x = Input(name="x")
    return Graph(x, GtTanh()(GtAffine(3, 4, name="fc1")(x))), [_x(2, 3)]


def fan_out():
    x = Input()
    h = GtAffine(3, 4, name="fc1")(x)
    y = GtMul()(GtTanh()(h), GtAffine(4, 4, name="fc2")(h))
    return Graph(x, GtAffine(4, 2)(GtTanh()(y))), [_x(2, 3)]


def same_node_twice():
    x = Input()
    h = GtTanh()(GtAffine(3, 3)(x))
    return Graph(x, GtMul()(h, h)), [_x(2, 3)]


def two_inputs():
    a, b = Input(name="a"), Input(name="b")
    return Graph([a, b], GtMul()(GtTanh()(a), GtAffine(2, 3)(b))), [_x(2, 3), _x(2, 2, seed=1)]


def split_both_used():
    x = Input()
    parts = GtSplit(2)(GtAffine(3, 4)(x))
    return Graph(x, GtMul()(GtTanh()(parts[1]), parts[0])), [_x(3, 3)]


def split_one_unused():
    x = Input()
    parts = GtSplit(2)(GtAffine(3, 5)(x))
    return Graph(x, GtTanh()(parts[1])), [_x(2, 3)]


def several_outputs():
    x = Input()
    h = GtTanh()(GtAffine(3, 4)(x))
    parts = GtSplit(1)(h)
    return Graph(x, [parts[0], GtAffine(4, 2)(h), x]), [_x(2, 3)]


def unused_input():
    a, b = Input(), Input()
    return Graph([a, b], GtTanh()(a)), [_x(2, 3), _x(1, 2)]


def nested():
    z = Input()
    inner = Graph(z, GtTanh()(GtAffine(3, 4, name="fc")(z)), name="block")
    x = Input()
    h = inner(x)
    return Graph(x, GtMul()(h, GtAffine(3, 4, name="skip")(x))), [_x(2, 3)]


BUILDERS = [chain, fan_out, same_node_twice, two_inputs, split_both_used, split_one_unused,
            several_outputs, unused_input, nested]


@pytest.mark.parametrize("build", BUILDERS, ids=[b.__name__ for b in BUILDERS])
def test_backward_matches_finite_differences(build):
    graph, inputs = build()
    check_module(graph, inputs)


def test_forward_matches_the_layers_called_by_hand():
    x = Input()
    fc1, tanh, fc2, mul = GtAffine(3, 4), GtTanh(), GtAffine(4, 4), GtMul()
    h = fc1(x)
    g = Graph(x, mul(tanh(h), fc2(h)))
    data = _x(5, 3).astype(np.float32)
    hh = fc1.forward(data)
    expected = np.tanh(hh) * fc2.forward(hh)
    out = g(data)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, expected, rtol=1e-6)


def test_several_outputs_come_back_as_a_tuple_and_inputs_pass_through():
    graph, (data,) = several_outputs()
    first, second, same = graph(data)
    assert first.shape == (2, 1) and second.shape == (2, 2)
    assert same is data
    assert graph.output_names == ["gtsplit_1[0]", "gtaffine_2", "input_1"]


def test_nodes_are_named_by_layer_name_or_class_and_register_children():
    x = Input(name="x")
    h = GtAffine(3, 4, name="fc1")(x)
    g = Graph(x, GtAffine(4, 2)(GtTanh()(GtAffine(4, 4)(h))))
    assert [n.name for n in g.nodes] == ["x", "fc1", "gtaffine_1", "gttanh_1", "gtaffine_2"]
    assert g.input_names == ["x"] and g.output_names == ["gtaffine_2"]
    assert list(g.state_dict()) == ["fc1.weight", "fc1.bias", "gtaffine_1.weight", "gtaffine_1.bias",
                                    "gtaffine_2.weight", "gtaffine_2.bias"]
    assert g.node("fc1").module is h.module
    assert isinstance(g.node("x"), Input)


def test_auto_names_skip_names_taken_explicitly():
    x = Input(name="input_1")
    g = Graph(x, GtTanh(name="gttanh_1")(GtTanh()(x)))
    assert [n.name for n in g.nodes] == ["input_1", "gttanh_2", "gttanh_1"]


def test_freeze_by_node_name():
    graph, _ = fan_out()
    graph.freeze(["fc1", "fc2"])
    frozen = [k for k, p in graph.named_parameters() if not p.trainable]
    assert frozen == ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
    assert graph.num_parameters(trainable_only=True) == 4 * 2 + 2


def test_node_lookup_lists_close_names():
    graph, _ = fan_out()
    with pytest.raises(KeyError, match=r"no node named 'fc3'; close names: \['fc\d', 'fc\d'\]"):
        graph.node("fc3")


def test_new_graph_shares_layers_and_computes_the_inner_value():
    graph, (data,) = fan_out()
    feat = graph.new_graph(outputs=["fc2"])
    assert feat.node("fc2").module is graph.node("fc2").module
    assert [n.name for n in feat.nodes] == ["input_1", "fc1", "fc2"]
    fc1, fc2 = graph.node("fc1").module, graph.node("fc2").module
    np.testing.assert_allclose(feat(data), fc2.forward(fc1.forward(data)))


def test_new_graph_cut_at_inner_inputs():
    graph, (data,) = fan_out()
    tail = graph.new_graph(outputs=graph.output_names, inputs=["fc1"])
    assert tail.input_names == ["fc1"] and "fc1" not in dict(tail.named_modules())
    hidden = graph.node("fc1").module.forward(data)
    np.testing.assert_allclose(tail(hidden), graph(data))


def test_new_graph_selects_one_output_of_a_multi_output_node():
    graph, (data,) = split_both_used()
    first = graph.new_graph(outputs=["gtsplit_1[0]"])
    affine = graph.node("gtaffine_1").module
    np.testing.assert_allclose(first(data), affine.forward(data)[:, :2])


def test_new_graph_keeps_only_the_inputs_it_needs():
    graph, (a, b) = two_inputs()
    assert graph.new_graph(outputs=["gtaffine_1"]).input_names == ["b"]


def test_transfer_learning_head_on_a_cut_graph():
    graph, (data,) = fan_out()
    feat = graph.new_graph(outputs=["fc2"], name="features").freeze()
    z = Input()
    model = Graph(z, GtAffine(4, 2, name="head")(feat(z)))
    assert [k for k, p in model.named_parameters() if p.trainable] == ["head.weight", "head.bias"]
    assert model.node("features").module is feat
    check_module(model, [data], check_params=True)


def test_stateful_module_at_two_nodes_is_rejected():
    x = Input()
    shared = GtStatefulTanh(name="act")
    with pytest.raises(ValueError, match=r"GtStatefulTanh\('act'\) is used at two nodes, but it keeps its state"):
        Graph(x, shared(shared(x)))
    np.testing.assert_allclose(Graph(x, shared(x))(_x(2, 3)), np.tanh(_x(2, 3)))  # once is fine


def test_stateful_module_runs_in_a_graph():
    x = Input()
    graph = Graph(x, GtAffine(3, 2)(GtStatefulTanh()(x)))
    check_module(graph, [_x(4, 3)])


def test_duplicate_names_name_both_layers():
    x = Input()
    with pytest.raises(ValueError, match=r"two nodes are named 'fc': GtAffine\('fc'\) and GtTanh\('fc'\)"):
        Graph(x, GtTanh(name="fc")(GtAffine(3, 3, name="fc")(x)))


def test_output_not_reachable_from_the_inputs():
    x, other = Input(name="x"), Input(name="other")
    with pytest.raises(ValueError, match=r"not reachable from the graph inputs \['x'\].*Input\('other'\)"):
        Graph(x, GtMul()(GtTanh()(x), other))


def test_cycle_is_reported():
    x = Input()
    a = GtTanh(name="a")(x)
    b = GtTanh(name="b")(a)
    a.inputs = ((b, None),)
    with pytest.raises(ValueError, match=r"cycle: GtTanh\('b'\) -> GtTanh\('a'\) -> GtTanh\('b'\)"):
        Graph(x, b)


def test_wrong_number_of_inputs():
    graph, (a, b) = two_inputs()
    with pytest.raises(ValueError, match=r"expected 2 input\(s\) \['a', 'b'\], got 1"):
        graph(a)


def test_wrong_number_of_output_gradients():
    graph, (data,) = several_outputs()
    graph(data)
    with pytest.raises(ValueError, match="backward expects 3 output gradients"):
        graph.backward((np.ones((2, 1)),))


def test_indexing_a_single_output_is_an_error_at_forward():
    x = Input()
    g = Graph(x, GtTanh()(GtTanh(name="t")(x)[0]))
    with pytest.raises(ValueError, match=r"'t\[0\]' selects output 0 but node 't' produced a single output"):
        g(_x(2, 3))


def test_backward_before_forward():
    graph, _ = chain()
    with pytest.raises(RuntimeError, match="backward called before forward"):
        graph.backward(np.ones((2, 4)))


def test_inputs_must_be_input_nodes_and_nodes_are_symbolic():
    x = Input()
    h = GtTanh()(x)
    with pytest.raises(TypeError, match="graph inputs must be Input nodes"):
        Graph(h, GtTanh()(h))
    with pytest.raises(TypeError, match="cannot be iterated"):
        first, second = h
    assert isinstance(h[1], Node)


def test_graph_ignores_later_changes_to_the_nodes():
    x = Input()
    h = GtAffine(3, 4)(x)
    y = GtTanh()(h)
    graph = Graph(x, y)
    data = _x(2, 3)
    before = graph(data)
    y.inputs = ((x, None),)
    np.testing.assert_array_equal(graph(data), before)


def test_real_layers_fan_out_split_and_merge():
    from bigdl_runtime.nn.layers import activation, elementwise, linear, shape

    x = Input(name="x")
    h = linear.Linear(3, 4, name="fc1")(x)
    parts = shape.Split(2, dim=1)(activation.Tanh()(h))
    y = elementwise.Add()(parts[1], linear.Linear(4, 2, name="fc2")(h))
    graph = Graph(x, shape.Concat(dim=1)(y, parts[0]))
    check_module(graph, [_x(2, 3)])


def test_a_one_input_add_in_a_graph_passes_the_gradient_through_unchanged() -> None:
    from bigdl_runtime.nn import Add, Graph, Input, Linear

    x = Input()
    g = Graph(x, Add()(Linear(3, 2)(x)))
    inp = np.ones((4, 3), np.float32)
    g.forward(inp)
    dx = g.backward(np.ones((4, 2), np.float32))
    assert dx.shape == (4, 3)
