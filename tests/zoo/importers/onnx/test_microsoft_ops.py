"""onnxruntime's com.microsoft operators: our import against onnxruntime's own kernels."""
from __future__ import annotations

from typing import Any

import numpy as np
import onnx
import pytest
from onnx import helper

from zoo.importers.onnx import load_onnx

ort = pytest.importorskip("onnxruntime")
RNG = np.random.default_rng(0)


def _compare(op: str, inputs: list[np.ndarray | None], domain: str = "com.microsoft", runtime: int = 1,
             rtol: float = 1e-5, atol: float = 1e-6, outputs: tuple[str, ...] = ("out0",), opset: int = 17,
             **attrs: Any) -> None:
    """One ``op`` node run by onnxruntime and by our imported Graph.

    The first ``runtime`` inputs are graph inputs, the others initializers (as an exported model stores
    weights); an empty output name leaves that output out.
    """
    names = [f"in{i}" if x is not None else "" for i, x in enumerate(inputs)]
    given = [(n, x) for n, x in zip(names, inputs) if x is not None]
    feeds = dict(given[:runtime])
    infos = [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(x.dtype), list(x.shape))
             for n, x in feeds.items()]
    weights = [onnx.numpy_helper.from_array(x, n) for n, x in given[runtime:]]
    node = helper.make_node(op, names, list(outputs), domain=domain, **attrs)
    graph = helper.make_graph([node], op, infos, [helper.make_empty_tensor_value_info(o) for o in outputs if o],
                              initializer=weights)
    opsets = [helper.make_opsetid("", opset)] + ([helper.make_opsetid(domain, 1)] if domain else [])
    model = helper.make_model(graph, opset_imports=opsets, ir_version=8)
    want = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feeds)
    got = load_onnx(model).evaluate()(*feeds.values())
    got = got if isinstance(got, tuple) else (got,)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.dtype == w.dtype and g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol)


def _floats(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("op,inputs", [
    ("Gelu", [_floats(2, 5)]), ("FastGelu", [_floats(2, 5), _floats(5)]), ("FastGelu", [_floats(3, 4)]),
    ("BiasGelu", [_floats(2, 5), _floats(5)]), ("QuickGelu", [_floats(2, 5)]),
])
def test_gelu_variants(op: str, inputs: list[np.ndarray]) -> None:
    _compare(op, inputs, runtime=len(inputs))


@pytest.mark.parametrize("activation,params", [(None, []), ("Relu", []), ("LeakyRelu", [0.1]),
                                               ("Clip", [-0.5, 0.5]), ("HardSigmoid", [0.3, 0.4])])
def test_fused_conv(activation: str | None, params: list[float]) -> None:
    attrs = dict(pads=[1, 0, 1, 1], strides=[2, 1], kernel_shape=[3, 2])
    if activation:
        attrs.update(activation=activation, **({"activation_params": params} if params else {}))
    _compare("FusedConv", [_floats(1, 2, 6, 5), _floats(3, 2, 3, 2), _floats(3)], **attrs)


def test_fused_conv_adds_z_before_the_activation() -> None:
    _compare("FusedConv", [_floats(1, 2, 5, 5), _floats(3, 2, 3, 3), _floats(3), _floats(1, 3, 3, 3)],
             activation="Relu", runtime=1)


@pytest.mark.parametrize("trans_a,trans_b", [(0, 0), (1, 0), (0, 1), (1, 1)])
def test_fused_matmul(trans_a: int, trans_b: int) -> None:
    a = _floats(2, 4, 3) if trans_a else _floats(2, 3, 4)
    b = _floats(5, 4) if trans_b else _floats(4, 5)
    _compare("FusedMatMul", [a, b], runtime=2, alpha=0.5, transA=trans_a, transB=trans_b)


def test_skip_layer_normalizations_and_their_sum_output() -> None:
    x, skip = _floats(2, 3, 8), _floats(2, 3, 8)
    _compare("SkipLayerNormalization", [x, skip, _floats(8), _floats(8), _floats(8)], runtime=2, epsilon=1e-5,
             atol=1e-5)
    _compare("SkipLayerNormalization", [x, skip, _floats(8), None, None], runtime=2, epsilon=1e-5, atol=1e-5)
    _compare("SkipSimplifiedLayerNormalization", [x, skip, _floats(8), _floats(8)], runtime=2, epsilon=1e-6,
             atol=1e-5)
    _compare("SimplifiedLayerNormalization", [x, _floats(8)], domain="", epsilon=1e-6, atol=1e-5)


def test_skip_layer_normalization_sum_output() -> None:
    x, skip, gamma = _floats(2, 8), _floats(2, 8), _floats(8)
    _compare("SkipLayerNormalization", [x, skip, gamma], runtime=2, outputs=("y", "", "", "sum"), atol=1e-5)


def test_quantised_matmuls_to_float() -> None:
    a = RNG.integers(0, 256, (3, 4)).astype(np.uint8)
    b = RNG.integers(-128, 128, (4, 5)).astype(np.int8)
    scales = [np.array(0.02, np.float32), np.array(0.01, np.float32)]
    _compare("MatMulIntegerToFloat", [a, b, *scales, np.array(120, np.uint8), np.array(3, np.int8), _floats(5)],
             runtime=2)
    _compare("DynamicQuantizeMatMul", [_floats(3, 4), b, scales[1], np.array(3, np.int8), _floats(5)],
             rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("op,domain", [("SkipLayerNormalization", "com.microsoft"),
                                       ("SkipSimplifiedLayerNormalization", "com.microsoft"),
                                       ("SimplifiedLayerNormalization", "")])
def test_normalizations_use_onnxruntimes_default_epsilon(op: str, domain: str) -> None:
    """Rows of tiny variance, where the epsilon decides the result."""
    x = (1e-3 * _floats(2, 8)).astype(np.float32)
    inputs = [x, np.zeros_like(x), np.ones(8, np.float32)] if op.startswith("Skip") else [x, np.ones(8, np.float32)]
    _compare(op, inputs, domain=domain, runtime=len(inputs) - 1, atol=1e-5)


def test_contrib_quantize_dequantize_and_default_domain_layer_normalization_before_opset_17() -> None:
    x = _floats(2, 3, 4)
    q = np.arange(12, dtype=np.uint8).reshape(3, 4)
    scale, zero = np.array(0.1, np.float32), np.array(3, np.uint8)
    _compare("QuantizeLinear", [x, scale, zero])
    _compare("DequantizeLinear", [q, scale, zero])
    _compare("LayerNormalization", [x, _floats(4), _floats(4)], domain="", opset=13, axis=-1, epsilon=1e-5,
             atol=1e-5)


@pytest.mark.parametrize("mask,unidirectional", [(None, 0), ("raw", 0), ("lengths", 0), (None, 1), ("raw", 1)])
def test_bert_attention(mask: str | None, unidirectional: int) -> None:
    batch, length, hidden, heads = 2, 5, 8, 2
    x = _floats(batch, length, hidden)
    weights, bias = (0.3 * _floats(hidden, 3 * hidden)).astype(np.float32), _floats(3 * hidden)
    masks = {None: None, "raw": np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], np.int32),
             "lengths": np.array([3, 5], np.int32)}
    inputs = [x, weights, bias] + ([masks[mask]] if mask else [])
    for runtime in (1, len(inputs)):  # weights and mask as initializers, or all fed at run time
        _compare("Attention", inputs, runtime=runtime, num_heads=heads, unidirectional=unidirectional, atol=1e-5)


@pytest.mark.parametrize("segments,mask", [(True, True), (False, False)])
def test_bert_embeddings(segments: bool, mask: bool) -> None:
    rng = np.random.default_rng(3)
    ids = rng.integers(0, 10, (2, 5)).astype(np.int32)
    segment_ids = rng.integers(0, 2, (2, 5)).astype(np.int32) if segments else None
    mask_values = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], np.int32) if mask else None
    inputs = [ids, segment_ids, _floats(10, 8), _floats(6, 8), _floats(2, 8) if segments else None, _floats(8),
              _floats(8), mask_values]
    outputs = ("out", "mask_index", "sum") if mask else ("out", "mask_index")
    _compare("EmbedLayerNormalization", inputs, runtime=2 if segments else 1, outputs=outputs, epsilon=1e-5,
             atol=1e-5)


@pytest.mark.parametrize("bias,mask,unidirectional", [(False, None, 0), (True, "raw", 0), (True, "lengths", 0),
                                                      (False, None, 1)])
def test_multi_head_attention(bias: bool, mask: str | None, unidirectional: int) -> None:
    batch, heads = 2, 2
    length, total = (6, 6) if unidirectional else (4, 6)  # causal masks need as many queries as keys
    query, key, value = _floats(batch, length, 8), _floats(batch, total, 8), _floats(batch, total, 6)
    masks = {None: None, "raw": np.array([[1, 1, 1, 1, 0, 0], [1] * 6], np.int32),
             "lengths": np.array([3, 6], np.int32)}
    inputs = [query, key, value, _floats(22) if bias else None, masks[mask]]
    while inputs[-1] is None:
        inputs.pop()
    given = sum(x is not None for x in inputs)
    _compare("MultiHeadAttention", inputs, runtime=given, num_heads=heads, unidirectional=unidirectional,
             atol=1e-5)
