"""Pooling layers: gradients, config rebuild, aliases, errors, agreement with PyTorch."""
import numpy as np
import pytest

from bigdl_runtime.nn import LAYER_REGISTRY
from bigdl_runtime.nn.layers.pool import AdaptiveAvgPool2d, AvgPool2d, GlobalAvgPool2d, GlobalMaxPool2d, MaxPool2d
from tests.helpers.gradcheck import check_module

LAYERS = [
    MaxPool2d(2),
    MaxPool2d((3, 2), stride=(2, 1), padding=(1, 0, 0, 1), dilation=(1, 2), ceil_mode=True),
    AvgPool2d(3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
    AvgPool2d((2, 3)),
    GlobalAvgPool2d(),
    GlobalMaxPool2d(),
    AdaptiveAvgPool2d((2, 3)),
]


@pytest.mark.parametrize("layer", LAYERS, ids=lambda m: repr(m))
def test_pool_layer_gradients(layer, rng):
    check_module(layer, [rng.standard_normal((2, 2, 5, 6))])


@pytest.mark.parametrize("layer", LAYERS, ids=lambda m: repr(m))
def test_pool_layer_config_rebuilds(layer, rng):
    clone = type(layer)(**layer.get_config())
    assert clone.get_config() == layer.get_config()
    x = rng.standard_normal((1, 2, 6, 7)).astype(np.float32)
    np.testing.assert_array_equal(clone.forward(x), layer.forward(x))


def test_pool_config_is_plain_values():
    cfg = MaxPool2d((3, 2), stride=np.int64(2), padding=(1, 0)).get_config()
    assert cfg == {"kernel_size": [3, 2], "stride": 2, "padding": [1, 0], "dilation": 1, "ceil_mode": False}
    assert type(cfg["stride"]) is int


def test_pool_bigdl_aliases():
    assert LAYER_REGISTRY["SpatialMaxPooling"] is MaxPool2d
    assert LAYER_REGISTRY["SpatialAveragePooling"] is AvgPool2d


@pytest.mark.parametrize("layer", LAYERS, ids=lambda m: repr(m))
def test_pool_layer_rejects_wrong_rank(layer):
    with pytest.raises(ValueError, match=rf"{type(layer).__name__}.*\(N, C, H, W\).*\(2, 5, 6\)"):
        layer.forward(np.zeros((2, 5, 6), np.float32))


def test_pool_layer_names_itself_when_window_does_not_fit():
    with pytest.raises(ValueError, match=r"MaxPool2d\('pool1'\).*does not fit.*\(1, 1, 2, 2\)"):
        MaxPool2d(3, name="pool1").forward(np.zeros((1, 1, 2, 2), np.float32))


def test_pool_backward_before_forward_fails():
    with pytest.raises(RuntimeError, match="before forward"):
        MaxPool2d(2).backward(np.zeros((1, 1, 1, 1), np.float32))


@pytest.mark.parametrize("ours,theirs", [
    (MaxPool2d(3, stride=2, padding=1, ceil_mode=True), lambda nn: nn.MaxPool2d(3, 2, 1, ceil_mode=True)),
    (AvgPool2d(3, stride=2, padding=1, ceil_mode=True), lambda nn: nn.AvgPool2d(3, 2, 1, ceil_mode=True)),
    (AdaptiveAvgPool2d((3, 2)), lambda nn: nn.AdaptiveAvgPool2d((3, 2))),
])
def test_pool_layers_match_torch_forward_and_backward(ours, theirs, rng):
    import torch
    x = rng.standard_normal((2, 3, 8, 7)).astype(np.float32)
    tx = torch.from_numpy(x.copy()).requires_grad_()
    ty = theirs(torch.nn)(tx)
    y = ours.forward(x)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    ty.backward(torch.from_numpy(dy))
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours.backward(dy), tx.grad.numpy(), rtol=1e-5, atol=1e-6)
