"""Conv1d / Conv2d / ConvReLU2d / ConvTranspose2d layers: gradients, init, config rebuild, errors, PyTorch parity."""
import math

import numpy as np
import pytest

from bigdl_runtime.nn import LAYER_REGISTRY, random
from bigdl_runtime.nn.layers.conv import Conv1d, Conv2d, ConvReLU2d, ConvTranspose2d
from tests.helpers.gradcheck import check_module

MODULE_CASES = [  # layer, input shape
    (lambda: Conv2d(2, 3, 3, padding=1), (2, 2, 4, 5)),
    (lambda: Conv2d(4, 4, (2, 3), stride=(2, 1), padding=(0, 1, 1, 2), dilation=(1, 2), groups=2), (1, 4, 5, 6)),
    (lambda: Conv2d(3, 3, 2, padding="same", groups=3, bias=False), (1, 3, 4, 3)),
    (lambda: ConvReLU2d(2, 3, 3, padding=1), (2, 2, 4, 5)),
    (lambda: ConvReLU2d(4, 4, 1, stride=2, groups=2), (1, 4, 5, 6)),  # pointwise path
    (lambda: ConvReLU2d(3, 3, 3, padding=1, groups=3, bias=False), (1, 3, 4, 3)),  # depthwise path
    (lambda: Conv1d(2, 4, 3, stride=2, padding=(1, 0), groups=2), (2, 2, 7)),
    (lambda: Conv1d(3, 2, 4, padding="same", dilation=2), (1, 3, 6)),
    (lambda: ConvTranspose2d(2, 4, 3, stride=2, padding=1, output_padding=1, groups=2), (1, 2, 3, 2)),
    (lambda: ConvTranspose2d(3, 2, (2, 3), padding=(1, 0, 0, 1), bias=False), (2, 3, 2, 3)),
]


@pytest.mark.parametrize("make,shape", MODULE_CASES)
def test_conv_module_gradients(make, shape, rng):
    check_module(make(), [rng.standard_normal(shape)])


@pytest.mark.parametrize("make,shape", MODULE_CASES)
def test_conv_config_rebuilds_same_layer(make, shape, rng):
    layer = make()
    clone = type(layer)(**layer.get_config())
    assert clone.get_config() == layer.get_config()
    clone.load_state_dict(layer.state_dict())
    x = rng.standard_normal(shape).astype(np.float32)
    np.testing.assert_array_equal(clone.forward(x), layer.forward(x))


def test_conv_aliases_are_registered():
    assert LAYER_REGISTRY["SpatialConvolution"] is Conv2d
    assert LAYER_REGISTRY["SpatialDilatedConvolution"] is Conv2d
    assert LAYER_REGISTRY["SpatialFullConvolution"] is ConvTranspose2d
    assert LAYER_REGISTRY["Conv1d"] is Conv1d


@pytest.mark.parametrize("layer,weight_shape,fan_in,out_channels", [
    (lambda: Conv2d(8, 16, 3, groups=2), (16, 4, 3, 3), 36, 16),
    (lambda: Conv1d(6, 4, 5), (4, 6, 5), 30, 4),
    (lambda: ConvTranspose2d(8, 6, 4, groups=2), (8, 3, 4, 4), 48, 6),
])
def test_conv_init_follows_pytorch_bounds(layer, weight_shape, fan_in, out_channels):
    random.manual_seed(0)
    conv = layer()
    bound = 1 / math.sqrt(fan_in)
    w = conv.weight.data
    assert w.dtype == np.float32 and w.shape == weight_shape
    assert 0.9 * bound < np.abs(w).max() <= bound
    assert conv.bias.data.shape == (out_channels,)
    assert np.abs(conv.bias.data).max() <= bound


def test_conv_accumulates_parameter_grads(rng):
    conv = Conv2d(2, 3, 3, padding=1)
    x = rng.standard_normal((2, 2, 5, 5)).astype(np.float32)
    dy = rng.standard_normal((2, 3, 5, 5)).astype(np.float32)
    conv.forward(x)
    conv.backward(dy)
    first = conv.weight.grad.copy()
    conv.backward(dy)
    np.testing.assert_allclose(conv.weight.grad, 2 * first, rtol=1e-5)
    np.testing.assert_allclose(conv.bias.grad, 2 * dy.sum(axis=(0, 2, 3)), rtol=1e-5)


@pytest.mark.parametrize("layer,shape,message", [
    (lambda: Conv2d(3, 4, 3, name="c1"), (2, 4, 8, 8), r"Conv2d\('c1'\).*\(N, 3, H, W\).*\(2, 4, 8, 8\)"),
    (lambda: Conv2d(3, 4, 3), (3, 8, 8), r"\(N, 3, H, W\).*\(3, 8, 8\)"),
    (lambda: Conv1d(2, 4, 3, name="t"), (2, 3, 9), r"Conv1d\('t'\).*\(N, 2, L\).*\(2, 3, 9\)"),
    (lambda: ConvTranspose2d(2, 4, 3), (1, 3, 4, 4), r"ConvTranspose2d.*\(N, 2, H, W\).*\(1, 3, 4, 4\)"),
    (lambda: Conv2d(1, 1, 5, name="big"), (1, 1, 3, 3), r"Conv2d\('big'\).*does not fit"),
])
@pytest.mark.parametrize("evaluate", [False, True])
def test_conv_rejects_bad_input(layer, shape, message, evaluate):
    conv = layer().evaluate() if evaluate else layer()
    for _ in range(2):  # evaluation mode checks a shape when it plans it: a second call fails the same way
        with pytest.raises(ValueError, match=message):
            conv.forward(np.zeros(shape, np.float32))


@pytest.mark.parametrize("make,message", [
    (lambda: Conv2d(3, 4, 3, groups=2), "divisible by groups"),
    (lambda: Conv2d(2, 2, 3, stride=2, padding="same"), "stride 1"),
    (lambda: Conv2d(2, 2, 3, padding="full"), "'same' or 'valid'"),
    (lambda: Conv2d(2, 2, 3, padding=(1, 2, 3)), "padding"),
    (lambda: Conv1d(2, 2, (3, 3)), "kernel_size"),
    (lambda: ConvTranspose2d(2, 2, 3, stride=2, output_padding=2), "output_padding"),
])
def test_conv_rejects_bad_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_conv_backward_before_forward_fails():
    with pytest.raises(RuntimeError, match="before forward"):
        Conv2d(1, 1, 1).backward(np.zeros((1, 1, 2, 2), np.float32))


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("ours,theirs", [
    (lambda: Conv2d(4, 6, (2, 3), padding="same", dilation=(2, 1)),
     lambda t: t.nn.Conv2d(4, 6, (2, 3), padding="same", dilation=(2, 1))),
    (lambda: Conv1d(4, 6, 4, padding="same", groups=2), lambda t: t.nn.Conv1d(4, 6, 4, padding="same", groups=2)),
    (lambda: ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2),
     lambda t: t.nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2)),
])
def test_conv_layers_match_torch(ours, theirs, rng):
    import torch
    layer, ref = ours(), theirs(torch)
    with torch.no_grad():
        ref.weight.copy_(torch.from_numpy(layer.weight.data))
        ref.bias.copy_(torch.from_numpy(layer.bias.data))
    shape = (2, 4, 7) if isinstance(layer, Conv1d) else (2, 4, 5, 6)
    x = rng.standard_normal(shape).astype(np.float32)
    y = layer.forward(x)
    xt = torch.from_numpy(x).requires_grad_(True)
    yt = ref(xt)
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-5, atol=1e-5)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    dx = layer.backward(dy)
    yt.backward(torch.from_numpy(dy))
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(layer.weight.grad, ref.weight.grad.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(layer.bias.grad, ref.bias.grad.numpy(), rtol=1e-4, atol=1e-4)


def test_conv_relu_equals_relu_of_conv(rng):
    conv = ConvReLU2d(3, 4, 3, stride=2, padding=1)
    plain = Conv2d(3, 4, 3, stride=2, padding=1)
    plain.load_state_dict(conv.state_dict())
    x = rng.standard_normal((2, 3, 9, 8)).astype(np.float32)
    np.testing.assert_array_equal(conv.forward(x), np.maximum(plain.forward(x), 0))


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["onednn-or-numpy", "numpy"])
@pytest.mark.parametrize("groups", [1, 4], ids=["dense", "depthwise"])
def test_conv_relu6_equals_clipped_conv_and_masks_its_gradient(rng, dtype, groups):
    conv = ConvReLU2d(4, 4, 3, stride=2, padding=1, groups=groups, max_value=6.0).astype(dtype)
    plain = Conv2d(4, 4, 3, stride=2, padding=1, groups=groups).astype(dtype)
    conv.weight.data[...] *= 8.0  # outputs well beyond 6
    plain.load_state_dict(conv.state_dict())
    x = rng.standard_normal((2, 4, 9, 8)).astype(dtype)
    y = conv.forward(x)
    np.testing.assert_allclose(y, np.clip(plain.forward(x), 0, 6), rtol=1e-6, atol=1e-6)
    assert (y == 6).any() and (y == 0).any()
    dy = rng.standard_normal(y.shape).astype(dtype)
    inside = (y > 0) & (y < 6)
    np.testing.assert_allclose(conv.backward(dy), plain.backward(np.where(inside, dy, 0)), rtol=1e-5, atol=1e-6)
    again = ConvReLU2d.from_config(conv.get_config())
    assert again.max_value == 6.0 and "max_value" not in ConvReLU2d(2, 2, 1).get_config()


@pytest.mark.parametrize("max_value", [None, 6.0], ids=["relu", "relu6"])
def test_fused_activation_of_a_plain_pointwise_conv_equals_the_activation_of_the_conv(rng, max_value):
    """1x1 convolutions on >= 196 pixels run on NCHW; there the activation is a pass after the convolution."""
    conv = ConvReLU2d(8, 16, 1, bias=True, max_value=max_value)
    conv.weight.data[...] *= 10.0
    plain = Conv2d(8, 16, 1)
    plain.load_state_dict(conv.state_dict())
    x = rng.standard_normal((2, 8, 16, 16)).astype(np.float32)
    expected = np.maximum(plain.forward(x), 0) if max_value is None else np.clip(plain.forward(x), 0, 6)
    np.testing.assert_allclose(conv.forward(x), expected, rtol=1e-6, atol=1e-5)
