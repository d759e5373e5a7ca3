"""dropout kernel: mask statistics, gradient = same mask, identity at inference (ONNX Dropout)."""
import numpy as np
import pytest

from bigdl_runtime.kernels.dropout import dropout_backward, dropout_forward
from tests.helpers.gradcheck import check_kernel
from tests.helpers.onnx_ref import run_node


def _seeded_dropout_forward(x, p, training):
    """The same mask on every call, so finite differences see one fixed function."""
    return dropout_forward(x, p, training, np.random.default_rng(5))


@pytest.mark.parametrize("shape,p,training", [((3, 5), 0.5, True), ((2, 3, 4), 0.2, True), ((1, 7), 0.9, True),
                                              ((3, 4), 0.5, False), ((2, 2), 0.0, True), ((2, 3), 1.0, True)])
def test_dropout_gradients(shape, p, training, rng):
    check_kernel(_seeded_dropout_forward, dropout_backward, [rng.standard_normal(shape)],
                 dict(p=p, training=training))


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_drops_a_fraction_p_and_rescales(p):
    x = np.ones((200, 500), np.float32)
    y, _ = dropout_forward(x, p, True, np.random.default_rng(0))
    assert y.dtype == np.float32
    assert abs((y == 0).mean() - p) < 0.01
    np.testing.assert_allclose(y[y != 0], 1 / (1 - p), rtol=1e-6)
    assert abs(y.mean() - 1) < 0.03


def test_dropout_backward_reuses_the_forward_mask(rng):
    x = rng.standard_normal((4, 6)).astype(np.float32) + 5
    y, cache = dropout_forward(x, 0.5, True, np.random.default_rng(1))
    dy = rng.standard_normal(y.shape).astype(np.float32)
    (dx,) = dropout_backward(dy, cache)
    np.testing.assert_allclose(dx, dy * (y / x), rtol=1e-6)
    assert dx.dtype == np.float32


def test_dropout_is_reproducible_from_the_generator_state(rng):
    x = rng.standard_normal((5, 5))
    a, _ = dropout_forward(x, 0.3, True, np.random.default_rng(9))
    b, _ = dropout_forward(x, 0.3, True, np.random.default_rng(9))
    c, _ = dropout_forward(x, 0.3, True, np.random.default_rng(10))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("p,training", [(0.5, False), (0.0, True)])
def test_dropout_identity_matches_onnx_inference(p, training, rng):
    x = rng.standard_normal((3, 4, 5)).astype(np.float32)
    y, _ = dropout_forward(x, p, training, np.random.default_rng(0))
    (ref,) = run_node("Dropout", [x, np.array(p, np.float32)])
    np.testing.assert_array_equal(y, ref)


def test_dropout_p_one_zeroes_everything(rng):
    y, _ = dropout_forward(rng.standard_normal((3, 3)), 1.0, True, np.random.default_rng(0))
    assert not y.any()


@pytest.mark.parametrize("p", [-0.1, 1.5])
def test_dropout_rejects_bad_probability(p):
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        dropout_forward(np.zeros(3), p, True, np.random.default_rng(0))
