"""MatMul and Einsum layers: forwards vs numpy, gradients by finite differences, use in a Graph."""
from __future__ import annotations

import numpy as np
import pytest

from bigdl_runtime.nn import Graph, Input, layers as L
from tests.helpers.gradcheck import check_module


def _xs(*shapes, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s) for s in shapes]


@pytest.mark.parametrize("shapes", [[(2, 3, 4), (4, 5)], [(4,), (2, 4, 3)], [(3, 4), (4,)]])
def test_matmul_layer(shapes):
    a, b = _xs(*shapes)
    m = L.MatMul()
    np.testing.assert_allclose(m(a, b), a @ b)
    check_module(m, [a, b])
    with pytest.raises(ValueError, match=r"MatMul\('mm'\): matmul: inner dimensions differ"):
        L.MatMul(name="mm")(a, np.ones((7, 2)))


@pytest.mark.parametrize("equation, shapes", [("ij,jk->ik", [(2, 3), (3, 4)]), ("ii->i", [(3, 3)]),
                                              ("...ij,jk,k", [(2, 2, 3), (3, 4), (4,)])])
def test_einsum_layer(equation, shapes):
    xs = _xs(*shapes)
    m = L.Einsum(equation)
    np.testing.assert_allclose(m(*xs), np.einsum(equation, *xs))
    check_module(m, xs)
    g = m.backward(np.ones_like(m(*xs)))
    assert (g.shape == xs[0].shape) if len(xs) == 1 else [x.shape for x in g] == [x.shape for x in xs]


def test_einsum_equation_is_checked_when_built_and_when_run():
    with pytest.raises(ValueError, match="Einsum: bad equation 'ij;jk'"):
        L.Einsum("ij;jk")
    with pytest.raises(ValueError, match=r"Einsum\('e'\): einsum: equation 'ij,jk->ik' has 2 operand\(s\), got 1"):
        L.Einsum("ij,jk->ik", name="e")(np.ones((2, 3)))


def test_attention_scores_in_a_graph_train_both_sides():
    q, k = Input(name="q"), Input(name="k")
    scores = L.Einsum("bqd,bkd->bqk")(q, k)
    out = L.MatMul()(L.Softmax(dim=-1)(scores), k)
    g = Graph([q, k], out)
    vq, vk = _xs((2, 3, 4), (2, 5, 4))
    check_module(g, [vq, vk])
