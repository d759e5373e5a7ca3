"""embedding kernel: scatter-add gradient, padding row, range errors, ONNX Gather."""
import numpy as np
import pytest

from bigdl_runtime.kernels.embedding import embedding_backward, embedding_forward
from tests.helpers.gradcheck import check_kernel
from tests.helpers.onnx_ref import run_node


CASES = [  # (indices, vocabulary, embedding_dim)
    (np.array([0, 2, 2, 4]), 5, 3),
    (np.array([[1, 3, 1], [0, 0, 2]]), 4, 2),
    (np.array([[[6]], [[2]]], dtype=np.int32), 7, 1),
    (np.array(3), 4, 3),
]


@pytest.mark.parametrize("indices,vocab,dim", CASES)
def test_embedding_gradients(indices, vocab, dim, rng):
    check_kernel(embedding_forward, embedding_backward, [indices, rng.standard_normal((vocab, dim))])


@pytest.mark.parametrize("padding_idx", [0, 2])
def test_embedding_padding_row_gets_zero_gradient_and_others_are_unchanged(padding_idx, rng):
    """The padding row is deliberately not differentiated (finite differences would disagree there)."""
    weight = rng.standard_normal((4, 3))
    indices = np.array([[2, 0, 1], [0, 3, 2]])
    dy = rng.standard_normal((2, 3, 3))
    y, cache = embedding_forward(indices, weight, padding_idx=padding_idx)
    np.testing.assert_array_equal(y, weight[indices])
    _, dweight = embedding_backward(dy, cache)
    _, expected = embedding_backward(dy, embedding_forward(indices, weight)[1])
    expected[padding_idx] = 0
    np.testing.assert_array_equal(dweight, expected)


def test_embedding_repeated_indices_accumulate_and_padding_gets_nothing():
    weight = np.zeros((4, 2), np.float32)
    y, cache = embedding_forward(np.array([[1, 1], [3, 1]]), weight, padding_idx=3)
    dindices, dweight = embedding_backward(np.ones((2, 2, 2), np.float32), cache)
    assert dindices is None and dweight.dtype == np.float32
    np.testing.assert_array_equal(dweight, [[0, 0], [3, 3], [0, 0], [0, 0]])


@pytest.mark.parametrize("shape", [(5,), (2, 3), (2, 1, 4)])
def test_embedding_matches_onnx_gather(shape, rng):
    weight = rng.standard_normal((6, 3)).astype(np.float32)
    indices = rng.integers(0, 6, size=shape).astype(np.int64)
    y, _ = embedding_forward(indices, weight)
    (ref,) = run_node("Gather", [weight, indices], axis=0)
    np.testing.assert_array_equal(y, ref)


@pytest.mark.parametrize("bad", [5, -1, 17])
def test_embedding_rejects_out_of_range_index(bad):
    with pytest.raises(ValueError, match=rf"index {bad} .* vocabulary of 5"):
        embedding_forward(np.array([[0, bad], [1, 2]]), np.zeros((5, 2)))


def test_embedding_rejects_float_indices():
    with pytest.raises(ValueError, match="integers"):
        embedding_forward(np.array([0.0, 1.0]), np.zeros((5, 2)))
