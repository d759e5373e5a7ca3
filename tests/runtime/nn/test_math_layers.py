"""Pointwise math layers: forwards vs numpy, gradients by finite differences, boolean layers in a Graph."""
from __future__ import annotations

import numpy as np
import pytest

from bigdl_runtime.nn import LAYER_REGISTRY, Graph, Input, layers as L
from tests.helpers.gradcheck import check_module


def _positive(*shapes, seed=0):
    rng = np.random.default_rng(seed)
    return [0.3 + np.abs(rng.standard_normal(s)) for s in shapes]


UNARY = [(L.Sqrt, np.sqrt), (L.Exp, np.exp), (L.Log, np.log), (L.Neg, np.negative), (L.Abs, np.abs),
         (L.Reciprocal, np.reciprocal)]


@pytest.mark.parametrize("cls, reference", UNARY)
def test_unary_layers(cls, reference):
    (x,) = _positive((2, 3, 4))
    np.testing.assert_allclose(cls()(x), reference(x))
    check_module(cls(), [x])


def test_erf_layer_against_known_values():
    y = L.Erf()(np.array([0.0, 0.5, 1.0, -2.0]))
    np.testing.assert_allclose(y, [0.0, 0.5204998778130465, 0.8427007929497149, -0.9953222650189527], rtol=1e-12)
    check_module(L.Erf(), [np.linspace(-2, 2, 7)])


def test_pow_with_fixed_exponent_takes_one_input():
    (x,) = _positive((3, 4))
    m = L.Pow(3)
    np.testing.assert_allclose(m(x), x ** 3)
    check_module(m, [x])
    assert m.get_config() == {"exponent": 3.0}


def test_pow_with_two_inputs_gives_both_gradients():
    base, exponent = _positive((3, 4), (4,))
    m = L.Pow()
    np.testing.assert_allclose(m(base, exponent), base ** exponent)
    check_module(m, [base, exponent])
    with pytest.raises(ValueError, match=r"Pow\('p'\): expected 2 input\(s\), got 1"):
        L.Pow(name="p")(base)


def test_clip_relu6_and_clamp_alias():
    x = np.array([-3.0, 0.5, 5.0, 7.5], np.float32)
    np.testing.assert_array_equal(L.ReLU6()(x), [0.0, 0.5, 5.0, 6.0])
    np.testing.assert_array_equal(L.Clip(max=1.0)(x), [-3.0, 0.5, 1.0, 1.0])
    assert L.ReLU6()(x).dtype == np.float32
    assert LAYER_REGISTRY["Clamp"] is L.Clip and L.ReLU6().get_config() == {}
    check_module(L.Clip(-1.0, 1.0), [np.array([-2.0, -0.5, 0.3, 1.7])])


@pytest.mark.parametrize("cls, reference", [(L.Maximum, np.maximum), (L.Minimum, np.minimum),
                                            (L.Average, lambda a, b: (a + b) / 2)])
def test_binary_merges(cls, reference):
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((2, 3, 4)), rng.standard_normal((3, 1))
    np.testing.assert_allclose(cls()(a, b), reference(a, b))
    check_module(cls(), [a, b])
    grads = cls()((a, b))  # one tuple works too
    assert grads.shape == (2, 3, 4)


def test_single_input_merge_returns_one_gradient_in_a_graph():
    x = Input()
    g = Graph(x, L.Maximum()(L.Exp()(x)))
    y = g(np.zeros((2, 2)))
    np.testing.assert_array_equal(g.backward(np.ones_like(y)), np.ones((2, 2)))


def test_where_layer():
    rng = np.random.default_rng(2)
    cond, a, b = rng.random((2, 3)) > 0.5, rng.standard_normal((2, 3)), rng.standard_normal(3)
    m = L.Where()
    np.testing.assert_array_equal(m(cond, a, b), np.where(cond, a, b))
    check_module(m, [cond, a, b])
    gc, ga, gb = m.backward(np.ones((2, 3)))
    assert gc is None and gb.shape == (3,)
    with pytest.raises(ValueError, match="expected 3 inputs"):
        m(cond, a)


COMPARISONS = [(L.Equal, np.equal), (L.Less, np.less), (L.Greater, np.greater),
               (L.LessOrEqual, np.less_equal), (L.GreaterOrEqual, np.greater_equal),
               (L.LogicalAnd, np.logical_and), (L.LogicalOr, np.logical_or), (L.LogicalXor, np.logical_xor)]


@pytest.mark.parametrize("cls, reference", COMPARISONS)
def test_boolean_layers_have_no_gradient(cls, reference):
    rng = np.random.default_rng(3)
    a, b = rng.integers(0, 2, (3, 4)).astype(np.float32), rng.integers(0, 2, 4).astype(np.float32)
    m = cls()
    with pytest.raises(RuntimeError, match="backward called before forward"):
        m.backward(np.ones((3, 4)))
    y = m(a, b)
    assert y.dtype == np.bool_
    np.testing.assert_array_equal(y, reference(a, b))
    assert m.backward(np.ones((3, 4))) == (None, None)


@pytest.mark.parametrize("cls, reference", COMPARISONS[:5])
def test_comparisons_in_evaluation_mode(cls, reference):
    """``infer`` (the ufunc alone) gives the forward's output; shapes that do not broadcast and a wrong number of
    inputs fail through the forward, naming the layer."""
    rng = np.random.default_rng(4)
    a, b = rng.integers(0, 3, (3, 4)).astype(np.float32), rng.integers(0, 3, 4).astype(np.float32)
    m = cls(name="c").evaluate()
    y = m(a, b)
    assert y.dtype == np.bool_
    np.testing.assert_array_equal(y, reference(a, b))
    np.testing.assert_array_equal(m((a, b)), reference(a, b))  # one tuple of inputs (a Split's output)
    with pytest.raises(ValueError, match=rf"{cls.__name__}\('c'\): .*shapes"):
        m(np.ones(2), np.ones(3))
    with pytest.raises(ValueError, match=rf"{cls.__name__}\('c'\): expected 2 input"):
        m(a, b, b)


def test_logical_not_and_arity_errors():
    m = L.LogicalNot(name="n")
    np.testing.assert_array_equal(m(np.array([True, False])), [False, True])
    assert m.backward(np.ones(2)) is None
    with pytest.raises(ValueError, match=r"LogicalNot\('n'\): expected 1 input"):
        m(np.ones(2), np.ones(2))
    with pytest.raises(ValueError, match=r"Less\('c'\): less: shapes"):
        L.Less(name="c")(np.ones(2), np.ones(3))


def test_mask_from_a_comparison_trains_only_the_branches():
    """Greater -> Where in a Graph: the condition's branch carries no gradient, the values do."""
    x = Input(name="x")
    mask = L.Greater()(x, L.Neg()(x))  # x > -x, i.e. x > 0
    y = L.Where()(mask, L.Exp()(x), L.Sqrt()(L.Abs()(x)))
    g = Graph(x, y)
    v = np.array([-4.0, 1.0, -0.25, 2.0])
    np.testing.assert_allclose(g(v), np.where(v > 0, np.exp(v), np.sqrt(np.abs(v))))
    expected = np.where(v > 0, np.exp(v), -0.5 / np.sqrt(np.abs(v)))
    np.testing.assert_allclose(g.backward(np.ones(4)), expected)


@pytest.mark.parametrize("x", [np.array([np.nan, -1.0, 0.5, 2.0], np.float32), np.array([-3, 0, 1, 9], np.int32)])
def test_clip_in_evaluation_mode_gives_the_forward_output(x):
    for layer in (L.Clip(0.0, 1.0), L.Clip(None, 1.0), L.Clip(0.0), L.Clip(1.0, 0.0), L.ReLU6()):
        want = layer.forward_pass(x)[0]
        got = layer.evaluate()(x)
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)
