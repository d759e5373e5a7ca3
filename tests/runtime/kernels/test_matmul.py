"""MatMul and Einsum kernels: finite-difference gradients (float64), forwards vs the ONNX reference."""
from __future__ import annotations

import numpy as np
import pytest

from bigdl_runtime.kernels import matmul as K
from tests.helpers.gradcheck import check_kernel
from tests.helpers.onnx_ref import run_node

MATMUL = [[(3, 4), (4, 5)], [(2, 3, 4), (4, 5)], [(4,), (4, 5)], [(3, 4), (4,)], [(4,), (4,)],
          [(2, 1, 3, 4), (5, 4, 2)], [(3, 4), (2, 4, 5)], [(2, 3, 4), (2, 4, 5)], [(4,), (2, 4, 3)],
          [(2, 3, 4), (4,)], [(3, 4), (2, 2, 4, 5)], [(2, 2, 3, 4), (4, 5)]]


def _xs(shapes, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s) for s in shapes]


@pytest.mark.parametrize("shapes", MATMUL)
def test_matmul_backward_matches_finite_differences(shapes):
    check_kernel(K.matmul_forward, K.matmul_backward, _xs(shapes))


@pytest.mark.parametrize("shapes", MATMUL)
def test_matmul_forward_matches_onnx(shapes):
    a, b = (x.astype(np.float32) for x in _xs(shapes, 1))
    y, cache = K.matmul_forward(a, b)
    np.testing.assert_allclose(y, run_node("MatMul", [a, b])[0], rtol=1e-5, atol=1e-6)
    da, db = K.matmul_backward(np.ones_like(y), cache)
    assert da.shape == a.shape and db.shape == b.shape and da.dtype == db.dtype == np.float32


def test_matmul_errors():
    with pytest.raises(ValueError, match=r"inner dimensions differ: \(2, 3\) @ \(4, 5\)"):
        K.matmul_forward(np.ones((2, 3)), np.ones((4, 5)))
    with pytest.raises(ValueError, match="batch dimensions"):
        K.matmul_forward(np.ones((2, 2, 3)), np.ones((3, 3, 5)))
    with pytest.raises(ValueError, match="at least 1-D"):
        K.matmul_forward(np.ones(()), np.ones(3))


EINSUM = [  # equation, operand shapes, compare with ONNX
    ("ij,jk->ik", [(3, 4), (4, 5)], True),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)], True),
    ("bhqd,bhkd->bhqk", [(2, 2, 3, 4), (2, 2, 5, 4)], True),
    ("ij->ji", [(3, 4)], True),
    ("ij->", [(3, 4)], True),
    ("ij->i", [(3, 4)], True),
    ("ii->i", [(4, 4)], True),
    ("ii", [(4, 4)], True),
    ("iij->j", [(3, 3, 2)], False),
    ("i,i", [(5,), (5,)], True),
    ("i,j->ij", [(3,), (4,)], True),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)], True),
    ("ijk,k", [(2, 3, 4), (4,)], True),
    ("ab,bc,cd,de->ae", [(2, 3), (3, 2), (2, 3), (3, 2)], False),
    ("...ij,...jk->...ik", [(2, 3, 4), (4, 5)], True),
    ("...ij,...jk", [(2, 1, 3, 4), (5, 4, 2)], True),
    ("b...,b...->b", [(2, 3, 4), (2, 3, 4)], True),
    ("i...->...", [(3, 2, 2)], True),
    ("ij,ij->ij", [(1, 3), (2, 3)], False),
    ("ij,kj->", [(2, 3), (4, 3)], True),
]


@pytest.mark.parametrize("equation, shapes, _", EINSUM)
def test_einsum_backward_matches_finite_differences(equation, shapes, _):
    check_kernel(K.einsum_forward, K.einsum_backward, _xs(shapes, 2), {"equation": equation})


@pytest.mark.parametrize("equation, shapes, onnx", EINSUM)
def test_einsum_forward_matches_onnx(equation, shapes, onnx):
    xs = [x.astype(np.float32) for x in _xs(shapes, 3)]
    y, cache = K.einsum_forward(*xs, equation=equation)
    expected = run_node("Einsum", xs, equation=equation)[0] if onnx else np.einsum(equation, *xs)
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)
    grads = K.einsum_backward(np.ones_like(y), cache)
    assert [g.shape for g in grads] == [x.shape for x in xs]
    assert all(g.dtype == np.float32 for g in grads)


def test_einsum_diagonal_gradients_by_hand():
    """y[b, j] = sum_i A[b, i, i] B[i, j]: dA lives on the diagonal, dB sums over the batch."""
    a, b, dy = _xs([(2, 3, 3), (3, 4), (2, 4)], 4)
    y, cache = K.einsum_forward(a, b, equation="bii,ij->bj")
    diag = np.stack([np.diag(m) for m in a])  # (2, 3)
    np.testing.assert_allclose(y, diag @ b, rtol=1e-12)
    da, db = K.einsum_backward(dy, cache)
    expected_da = np.zeros_like(a)
    for n in range(2):
        expected_da[n] = np.diag(b @ dy[n])
    np.testing.assert_allclose(da, expected_da, rtol=1e-12)
    np.testing.assert_allclose(db, diag.T @ dy, rtol=1e-12)


@pytest.mark.parametrize("equation, shapes, message", [
    ("ij,jk->ik", [(2, 3)], "has 2 operand"),
    ("ij,jk->ik", [(2, 3), (4, 5)], "subscript 'j' has sizes 3 and 4"),
    ("ijk->i", [(2, 3)], "do not match an operand of shape"),
    ("ij->k", [(2, 3)], "bad output subscripts"),
    ("i1->i", [(2, 3)], "bad subscripts"),
])
def test_einsum_errors(equation, shapes, message):
    with pytest.raises(ValueError, match=message):
        K.einsum_forward(*[np.ones(s) for s in shapes], equation=equation)
