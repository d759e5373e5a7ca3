"""Single-kernel rows: forward + backward of ours vs torch.nn.functional on the same arrays.

Every conv layer of ResNet-18 at 224x224 (issue target: <= 1.3x PyTorch each), MobileNetV2's
depthwise layers, plus a classifier head, ResNet-18's first batch norm and max pool, and a text LSTM.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from bigdl_runtime.kernels.conv import conv2d_backward, conv2d_forward
from bigdl_runtime.kernels.linear import linear_backward, linear_forward
from bigdl_runtime.kernels.norm import batch_norm_backward, batch_norm_forward
from bigdl_runtime.kernels.pool import max_pool2d_backward, max_pool2d_forward
from bigdl_runtime.kernels.rnn import lstm_backward, lstm_forward

from .common import Case, Runner

CONV_TARGET = 1.3


def conv_case(name: str, batch: int, cin: int, cout: int, k: int, stride: int, size: int, groups: int = 1) -> Case:
    """A bias-free ``k x k`` convolution with padding ``k // 2`` (as in ResNet and MobileNet)."""
    pad = k // 2
    out = (size + 2 * pad - k) // stride + 1
    flops = 3 * 2.0 * batch * cout * out * out * (cin // groups) * k * k

    def setup() -> dict[str, Runner]:
        import torch

        rng = np.random.default_rng(0)
        x = rng.standard_normal((batch, cin, size, size), dtype=np.float32)
        w = rng.standard_normal((cout, cin // groups, k, k), dtype=np.float32) * np.float32(0.05)
        dy = rng.standard_normal((batch, cout, out, out), dtype=np.float32)

        def ours() -> None:
            _, cache = conv2d_forward(x, w, None, stride=stride, padding=pad, groups=groups)
            conv2d_backward(dy, cache)

        xt = torch.from_numpy(x).requires_grad_(True)
        wt = torch.from_numpy(w).requires_grad_(True)
        dyt = torch.from_numpy(dy)

        def theirs() -> None:
            torch.nn.functional.conv2d(xt, wt, None, stride=stride, padding=pad, groups=groups).backward(dyt)
            xt.grad = wt.grad = None

        return {"ours": ours, "torch": theirs}

    return Case("kernel", name, setup, flops, target=CONV_TARGET)


#: (name, cin, cout, k, stride, input size) of every distinct conv layer of ResNet-18 on 224x224
RESNET18_CONVS = [("conv7x7/2 3->64 @224", 3, 64, 7, 2, 224),
                  ("conv3x3 64->64 @56", 64, 64, 3, 1, 56),
                  ("conv3x3/2 64->128 @56", 64, 128, 3, 2, 56),
                  ("conv1x1/2 64->128 @56", 64, 128, 1, 2, 56),
                  ("conv3x3 128->128 @28", 128, 128, 3, 1, 28),
                  ("conv3x3/2 128->256 @28", 128, 256, 3, 2, 28),
                  ("conv1x1/2 128->256 @28", 128, 256, 1, 2, 28),
                  ("conv3x3 256->256 @14", 256, 256, 3, 1, 14),
                  ("conv3x3/2 256->512 @14", 256, 512, 3, 2, 14),
                  ("conv1x1/2 256->512 @14", 256, 512, 1, 2, 14),
                  ("conv3x3 512->512 @7", 512, 512, 3, 1, 7)]


def resnet18_convs(batch: int) -> list[Case]:
    """Every distinct conv layer of ResNet-18 on 224x224 input, at ``batch``."""
    return [conv_case(f"{name} b{batch}", batch, *rest) for name, *rest in RESNET18_CONVS]


#: (name, channels, stride, input size) of MobileNetV2's depthwise 3x3 layers on 224x224 (6 of its 10)
MOBILENETV2_DEPTHWISE = [("dw3x3 32 @112", 32, 1, 112), ("dw3x3/2 96 @112", 96, 2, 112),
                         ("dw3x3 144 @56", 144, 1, 56), ("dw3x3/2 144 @56", 144, 2, 56),
                         ("dw3x3 384 @14", 384, 1, 14), ("dw3x3 960 @7", 960, 1, 7)]


def mobilenetv2_depthwise(batch: int) -> list[Case]:
    """MobileNetV2's depthwise layers (groups == channels) at ``batch``."""
    return [conv_case(f"{name} b{batch}", batch, c, c, 3, stride, size, groups=c)
            for name, c, stride, size in MOBILENETV2_DEPTHWISE]


def _torch_pair(fn: Callable, inputs: list[np.ndarray], dy: np.ndarray) -> Runner:
    """torch forward + backward of ``fn(*tensors)`` with gradients for every input."""
    import torch

    tensors = [torch.from_numpy(a).requires_grad_(True) for a in inputs]
    dyt = torch.from_numpy(dy)

    def theirs() -> None:
        fn(*tensors).backward(dyt)
        for t in tensors:
            t.grad = None

    return theirs


def linear_case(batch: int, n_in: int, n_out: int) -> Case:
    def setup() -> dict[str, Runner]:
        import torch

        rng = np.random.default_rng(0)
        x = rng.standard_normal((batch, n_in), dtype=np.float32)
        w = rng.standard_normal((n_out, n_in), dtype=np.float32) * np.float32(0.02)
        b = np.zeros(n_out, np.float32)
        dy = rng.standard_normal((batch, n_out), dtype=np.float32)

        def ours() -> None:
            linear_backward(dy, linear_forward(x, w, b)[1])

        return {"ours": ours, "torch": _torch_pair(torch.nn.functional.linear, [x, w, b], dy)}

    return Case("kernel", f"linear {n_in}->{n_out} b{batch}", setup, 3 * 2.0 * batch * n_in * n_out)


def batch_norm_case(batch: int, channels: int, size: int) -> Case:
    def setup() -> dict[str, Runner]:
        import torch

        rng = np.random.default_rng(0)
        x = rng.standard_normal((batch, channels, size, size), dtype=np.float32)
        gamma, beta = np.ones(channels, np.float32), np.zeros(channels, np.float32)
        mean, var = np.zeros(channels, np.float32), np.ones(channels, np.float32)
        dy = rng.standard_normal(x.shape, dtype=np.float32)
        tmean, tvar = torch.zeros(channels), torch.ones(channels)

        def ours() -> None:
            batch_norm_backward(dy, batch_norm_forward(x, gamma, beta, mean, var, training=True)[1])

        def bn(xt, g, b):  # noqa: ANN001, ANN202
            return torch.nn.functional.batch_norm(xt, tmean, tvar, g, b, training=True)

        return {"ours": ours, "torch": _torch_pair(bn, [x, gamma, beta], dy)}

    return Case("kernel", f"batchnorm2d {channels} @{size} b{batch}", setup)


def max_pool_case(batch: int, channels: int, size: int) -> Case:
    def setup() -> dict[str, Runner]:
        import torch

        rng = np.random.default_rng(0)
        x = rng.standard_normal((batch, channels, size, size), dtype=np.float32)
        out = (size + 2 - 3) // 2 + 1
        dy = rng.standard_normal((batch, channels, out, out), dtype=np.float32)

        def ours() -> None:
            max_pool2d_backward(dy, max_pool2d_forward(x, 3, 2, 1)[1])

        return {"ours": ours, "torch": _torch_pair(lambda t: torch.nn.functional.max_pool2d(t, 3, 2, 1), [x], dy)}

    return Case("kernel", f"maxpool3x3/2 {channels} @{size} b{batch}", setup)


def lstm_case(batch: int, length: int, n_in: int, hidden: int) -> Case:
    flops = 3 * 2.0 * batch * length * 4 * hidden * (n_in + hidden)

    def setup() -> dict[str, Runner]:
        import torch

        rng = np.random.default_rng(0)
        x = rng.standard_normal((batch, length, n_in), dtype=np.float32)
        w_ih = rng.standard_normal((4 * hidden, n_in), dtype=np.float32) * np.float32(0.1)
        w_hh = rng.standard_normal((4 * hidden, hidden), dtype=np.float32) * np.float32(0.1)
        b_ih, b_hh = np.zeros(4 * hidden, np.float32), np.zeros(4 * hidden, np.float32)
        dy = rng.standard_normal((batch, length, hidden), dtype=np.float32)

        def ours() -> None:
            lstm_backward((dy, None, None), lstm_forward(x, w_ih, w_hh, b_ih, b_hh)[1])

        lstm = torch.nn.LSTM(n_in, hidden, batch_first=True)
        with torch.no_grad():
            for name, value in (("weight_ih_l0", w_ih), ("weight_hh_l0", w_hh), ("bias_ih_l0", b_ih),
                                ("bias_hh_l0", b_hh)):
                getattr(lstm, name).copy_(torch.from_numpy(value))
        return {"ours": ours, "torch": _torch_pair(lambda t: lstm(t)[0], [x], dy)}

    return Case("kernel", f"lstm {n_in}->{hidden} T{length} b{batch}", setup, flops)


def other_kernels(batch: int) -> list[Case]:
    """A classifier head, ResNet-18's first batch norm and max pool, and a text LSTM."""
    return [linear_case(batch, 512, 1000), linear_case(2 * batch, 4096, 4096),
            batch_norm_case(batch, 64, 112), max_pool_case(batch, 64, 112),
            lstm_case(2 * batch, 200, 128, 128)]


def cases(batch: int) -> list[Case]:
    """Every kernel row at ``batch``."""
    return resnet18_convs(batch) + mobilenetv2_depthwise(batch) + other_kernels(batch)
