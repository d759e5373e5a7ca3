"""Gemm, MatMul and Einsum: a constant right-hand matrix becomes a Linear layer (trainable weight)."""
from __future__ import annotations

import numpy as np

from bigdl_runtime import nn

from ..context import OnnxNode, Sym
from ..registry import ONNX


def _linear(weight_out_in: np.ndarray, bias: np.ndarray | None) -> nn.Linear:
    out_f, in_f = weight_out_in.shape
    layer = nn.Linear(in_f, out_f, bias=bias is not None)
    layer.weight.data[...] = weight_out_in
    if bias is not None:
        layer.bias.data[...] = bias
    return layer


@ONNX.register("Gemm", since=7)
def gemm(node: OnnxNode):
    """Y = alpha * A' @ B' + beta * C; a constant B (and C of shape (N,), (1, N) or scalar) gives Linear."""
    a, b, c = node.value(0), node.value(1), node.value(2)
    alpha, beta = float(node.attr("alpha", 1.0)), float(node.attr("beta", 1.0))
    trans_a, trans_b = int(node.attr("transA", 0)), int(node.attr("transB", 0))
    if not any(isinstance(v, Sym) for v in (a, b, c)):
        a2 = np.asarray(a).T if trans_a else np.asarray(a)
        b2 = np.asarray(b).T if trans_b else np.asarray(b)
        y = alpha * (a2 @ b2)
        return (y if c is None else y + beta * np.asarray(c)).astype(np.asarray(a).dtype)
    if isinstance(b, Sym):
        raise node.error("B must be a constant (a weight matrix); a computed B is not supported")
    if trans_a:
        a = node.apply(nn.Transpose([1, 0]), [a], suffix="/transpose_a")
    w = (np.asarray(b) if trans_b else np.asarray(b).T) * alpha  # (N, K) = (out, in)
    n_out = w.shape[0]
    bias = None
    if c is not None and not isinstance(c, Sym) and np.size(c) in (1, n_out) and np.ndim(c) <= 2 \
            and (np.ndim(c) < 2 or np.shape(c)[0] == 1):
        bias = np.broadcast_to(np.asarray(c).reshape(-1) * beta, (n_out,)).astype(w.dtype)
        c = None
    y = node.apply(_linear(w.astype(np.asarray(b).dtype), bias), [a])
    if c is not None:
        scaled = c if beta == 1.0 else (np.asarray(c) * beta if not isinstance(c, Sym) else
                                         node.apply(nn.Mul(), [c, np.asarray(beta, np.float32)], suffix="/beta"))
        y = node.apply(nn.Add(), [y, scaled], suffix="/add_c")
    return y


@ONNX.register("MatMul", since=1)
def matmul(node: OnnxNode):
    a, b = node.value(0), node.value(1)
    if not isinstance(a, Sym) and not isinstance(b, Sym):
        return np.matmul(a, b)
    if not isinstance(b, Sym) and np.ndim(b) == 2 and (a.rank is None or a.rank >= 2):
        return node.apply(_linear(np.ascontiguousarray(np.asarray(b).T), None), [a])
    return node.apply(nn.MatMul(), [a, b])


@ONNX.register("Einsum", since=12)
def einsum(node: OnnxNode):
    values = [node.value(i) for i in range(node.n_inputs())]
    equation = node.attr("equation")
    if not any(isinstance(v, Sym) for v in values):
        return np.einsum(equation, *[np.asarray(v) for v in values])
    return node.apply(nn.Einsum(equation), values)
