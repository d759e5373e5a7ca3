"""conv_transpose2d kernel: finite-difference gradients and the ONNX ConvTranspose reference."""
import numpy as np
import onnx
import pytest
from onnx import helper

from bigdl_runtime.kernels.conv_transpose import conv_transpose2d_backward, conv_transpose2d_forward
from tests.helpers.gradcheck import check_kernel
from tests.helpers.onnx_ref import run_node

CASES = [  # x shape, w shape, stride, padding, output_padding, dilation, groups, bias
    ((2, 3, 4, 3), (3, 2, 3, 2), 1, 0, 0, 1, 1, True),           # non-square kernel
    ((1, 2, 3, 4), (2, 3, 3, 3), 2, 1, 1, 1, 1, False),          # stride 2 with output_padding
    ((2, 4, 3, 3), (4, 3, 3, 3), (2, 3), (1, 2), (1, 0), (1, 2), 2, True),  # groups, per-axis options
    ((1, 3, 4, 4), (3, 1, 3, 3), 1, (1, 0, 0, 2), 0, 1, 3, True),  # depthwise, asymmetric pads
    ((1, 2, 3, 3), (2, 2, 4, 4), 2, 1, 0, 1, 1, True),           # 4x4 / 2 up-sampling
    ((2, 3, 2, 3), (3, 2, 1, 1), 2, 0, 1, 1, 1, False),          # 1x1 stride 2
    ((1, 2, 3, 3), (2, 2, 3, 3), 1, 1, 1, 2, 1, True),           # output_padding below dilation
    ((1, 1, 2, 14), (1, 2, 3, 3), 2, 1, 1, 1, 1, True),          # wide: flat-run layout
    ((2, 3, 3, 4), (3, 2, 2, 2), 2, 0, 0, 1, 1, True),           # 2x2 / 2: no overlapping taps (one GEMM)
    ((1, 2, 3, 2), (2, 3, 3, 2), (3, 2), (1, 0, 2, 1), 0, 1, 1, False),  # the same, non-square, cropped
]


def _arrays(rng, x_shape, w_shape, groups, bias, dtype=np.float64):
    x = rng.standard_normal(x_shape).astype(dtype)
    w = rng.standard_normal(w_shape).astype(dtype)
    b = rng.standard_normal(w_shape[1] * groups).astype(dtype) if bias else None
    return x, w, b


@pytest.mark.parametrize("x_shape,w_shape,stride,padding,output_padding,dilation,groups,bias", CASES)
def test_conv_transpose2d_gradients(x_shape, w_shape, stride, padding, output_padding, dilation, groups,
                                    bias, rng):
    config = dict(stride=stride, padding=padding, output_padding=output_padding, dilation=dilation, groups=groups)
    arrays = list(_arrays(rng, x_shape, w_shape, groups, bias))
    check_kernel(conv_transpose2d_forward, conv_transpose2d_backward, arrays, config)


def _pair(v):
    return [v, v] if isinstance(v, int) else list(v)


def _onnxruntime(op_type, inputs, **attrs):
    """One node on onnxruntime (the reference evaluator mis-handles ConvTranspose with group > 1)."""
    import onnxruntime as ort
    names = [f"in{i}" for i in range(len(inputs))]
    infos = [helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, list(x.shape)) for n, x in zip(names, inputs)]
    node = helper.make_node(op_type, names, ["out"], **attrs)
    out = helper.make_tensor_value_info("out", onnx.TensorProto.FLOAT, None)
    model = helper.make_model(helper.make_graph([node], "one_node", infos, [out]),
                              opset_imports=[helper.make_opsetid("", 18)], ir_version=9)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, dict(zip(names, inputs)))[0]


# ONNX requires output_padding < stride; the PyTorch-only "below dilation" case is checked by torch
ONNX_CASES = [c for c in CASES if all(op < s for op, s in zip(_pair(c[4]), _pair(c[2])))]


@pytest.mark.parametrize("x_shape,w_shape,stride,padding,output_padding,dilation,groups,bias", ONNX_CASES)
def test_conv_transpose2d_matches_onnx(x_shape, w_shape, stride, padding, output_padding, dilation, groups,
                                       bias, rng):
    x, w, b = _arrays(rng, x_shape, w_shape, groups, bias, np.float32)
    y, _ = conv_transpose2d_forward(x, w, b, stride=stride, padding=padding, output_padding=output_padding,
                                    dilation=dilation, groups=groups)
    pads = _pair(padding) * 2 if isinstance(padding, int) or len(padding) == 2 else list(padding)
    attrs = dict(strides=_pair(stride), pads=pads, output_padding=_pair(output_padding),
                 dilations=_pair(dilation), group=groups)
    inputs = [x, w] if b is None else [x, w, b]
    if groups == 1:
        (ref,) = run_node("ConvTranspose", inputs, **attrs)
    else:
        ref = _onnxruntime("ConvTranspose", inputs, **attrs)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)


def test_conv_transpose2d_output_padding_below_dilation_matches_torch(rng):
    import torch
    x, w, b = _arrays(rng, (1, 2, 3, 3), (2, 2, 3, 3), 1, True)
    y, _ = conv_transpose2d_forward(x, w, b, stride=1, padding=1, output_padding=1, dilation=2)
    ref = torch.nn.functional.conv_transpose2d(torch.tensor(x), torch.tensor(w), torch.tensor(b), stride=1,
                                               padding=1, output_padding=1, dilation=2)
    np.testing.assert_allclose(y, ref.numpy(), rtol=1e-12, atol=1e-12)


def test_conv_transpose2d_keeps_float32_and_none_bias_grad(rng):
    x, w, _ = _arrays(rng, (2, 4, 3, 3), (4, 3, 3, 3), 1, False, np.float32)
    y, cache = conv_transpose2d_forward(x, w, stride=2)
    dx, dw, db = conv_transpose2d_backward(np.ones_like(y), cache)
    assert (y.dtype, dx.dtype, dw.dtype, db) == (np.float32, np.float32, np.float32, None)


@pytest.mark.parametrize("x_shape,w_shape,config,message", [
    ((1, 3, 4, 4), (2, 2, 3, 3), {}, "channels"),
    ((1, 3, 4, 4), (3, 2, 3, 3), {"groups": 2}, "divisible by groups"),
    ((1, 2, 4, 4), (2, 2, 3, 3), {"stride": 2, "output_padding": 2}, "output_padding"),
    ((1, 2, 1, 1), (2, 2, 1, 1), {"padding": 1}, "empty"),
    ((2, 4, 4), (2, 2, 3, 3), {}, r"\(N, C_in, H, W\)"),
])
def test_conv_transpose2d_rejects_bad_shapes(x_shape, w_shape, config, message):
    with pytest.raises(ValueError, match=message):
        conv_transpose2d_forward(np.zeros(x_shape), np.zeros(w_shape), **config)
