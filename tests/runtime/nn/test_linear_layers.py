"""Linear layer: gradients, PyTorch default init, config rebuild, errors."""
import math

import numpy as np
import pytest

from bigdl_runtime.nn import LAYER_REGISTRY, random
from bigdl_runtime.nn.layers.linear import Linear
from tests.helpers.gradcheck import check_module


@pytest.mark.parametrize("shape,out,bias", [((3, 5), 2, True), ((2, 2, 3), 4, False)])
def test_linear_module_gradients(shape, out, bias, rng):
    check_module(Linear(shape[-1], out, bias=bias), [rng.standard_normal(shape)])


def test_linear_init_follows_pytorch_bounds():
    random.manual_seed(0)
    fc = Linear(50, 40)
    bound = 1 / math.sqrt(50)
    assert fc.weight.data.dtype == np.float32 and fc.weight.shape == (40, 50)
    assert np.abs(fc.weight.data).max() <= bound and np.abs(fc.weight.data).max() > 0.9 * bound
    assert np.abs(fc.bias.data).max() <= bound
    # uniform on [-b, b] has std b / sqrt(3)
    assert abs(fc.weight.data.std() - bound / math.sqrt(3)) < 0.1 * bound


def test_linear_seeded_init_is_reproducible():
    random.manual_seed(7)
    a = Linear(3, 2)
    random.manual_seed(7)
    b = Linear(3, 2)
    np.testing.assert_array_equal(a.weight.data, b.weight.data)
    np.testing.assert_array_equal(a.bias.data, b.bias.data)


def test_linear_accumulates_parameter_grads(rng):
    fc = Linear(3, 2)
    x = rng.standard_normal((4, 3)).astype(np.float32)
    dy = rng.standard_normal((4, 2)).astype(np.float32)
    fc.forward(x)
    fc.backward(dy)
    first = fc.weight.grad.copy()
    fc.backward(dy)
    np.testing.assert_allclose(fc.weight.grad, 2 * first, rtol=1e-6)
    np.testing.assert_allclose(fc.bias.grad, 2 * dy.sum(0), rtol=1e-5)


def test_linear_config_rebuilds():
    fc = Linear(6, 3, bias=False, name="fc")
    assert fc.get_config() == {"in_features": 6, "out_features": 3, "bias": False}
    clone = type(fc)(**fc.get_config())
    assert clone.bias is None and clone.weight.shape == (3, 6)
    assert [k for k, _ in clone.named_parameters()] == ["weight"]
    assert LAYER_REGISTRY["Linear"] is Linear


def test_linear_rejects_wrong_feature_count():
    with pytest.raises(ValueError, match=r"Linear\('fc'\).*\(\*, 4\).*\(2, 5\)"):
        Linear(4, 2, name="fc").forward(np.zeros((2, 5), np.float32))


def test_linear_backward_before_forward_fails():
    with pytest.raises(RuntimeError, match="before forward"):
        Linear(2, 2).backward(np.zeros((1, 2), np.float32))


@pytest.mark.parametrize("rows, out", [(1, 1), (1, 8), (3, 1), (4, 5)])
def test_linear_infer_matches_the_forward(rows, out, rng):
    """Evaluation mode (``infer``: the product and the bias, into a new array for a one-value output)."""
    layer = Linear(6, out)
    x = rng.standard_normal((rows, 6)).astype(np.float32)
    want = layer.forward_pass(x)[0]
    got = layer.evaluate()(x)
    assert got.dtype == np.float32 and got.shape == (rows, out)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(got, x @ layer.weight.data.T + layer.bias.data, rtol=1e-6, atol=1e-6)
