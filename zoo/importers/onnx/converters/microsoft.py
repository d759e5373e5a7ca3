"""onnxruntime's ``com.microsoft`` operators that exporters emit most (transformer and quantisation fusions).

Each one is rewritten into default-domain ONNX nodes that compute what onnxruntime's
kernel computes, and those are converted as usual (see
:func:`.functions.convert_body`): Gelu, FastGelu, BiasGelu, QuickGelu,
FusedConv, FusedMatMul, SkipLayerNormalization, SkipSimplifiedLayerNormalization,
SimplifiedLayerNormalization (which onnxruntime registers in the default domain),
MatMulIntegerToFloat, DynamicQuantizeMatMul, Attention (BERT-style self-attention),
MultiHeadAttention, EmbedLayerNormalization. The
contrib operators we do not convert are named, with the reason, in
:data:`zoo.importers.onnx.exclusions.UNSUPPORTED`.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import onnx
from onnx import helper

from ..context import OnnxNode
from ..registry import ONNX
from .functions import convert_body

MS = "com.microsoft"
#: the default-domain opset the rewrites are written in
_OPSET = 23


class _Body:
    """Default-domain nodes replacing ``node``: internal values get names unique to it."""

    def __init__(self, node: OnnxNode) -> None:
        self.node = node
        self.nodes: list[onnx.NodeProto] = []
        self.prefix = node.ctx.unique(f"{node.name}/{node.op_type}") + "/"

    def input(self, i: int) -> str:
        """The name of the node's input ``i`` ("" when left out)."""
        return self.node.inputs[i] if self.node.given(i) else ""

    def add(self, op: str, inputs: list[str], output: str | None = None, **attrs: Any) -> str:
        """Append ``op``; its output is ``output`` (a node output's name) or a fresh internal name."""
        name = output or f"{self.prefix}{len(self.nodes)}_{op}"
        self.nodes.append(helper.make_node(op, inputs, [name], name=name, **attrs))
        return name

    def constant(self, value: Any, dtype: Any = np.float32) -> str:
        return self.add("Constant", [], value=onnx.numpy_helper.from_array(np.asarray(value, dtype)))

    def output(self, i: int) -> str | None:
        """The name of the node's output ``i`` if it is used, else None."""
        return self.node.outputs[i] if i < len(self.node.outputs) and self.node.outputs[i] else None

    def convert(self) -> list:
        return convert_body(self.node, self.nodes, [helper.make_opsetid("", _OPSET)])


def _sum(body: _Body, names: list[str], output: str | None = None) -> str:
    """Add the given (non-empty) inputs left to right."""
    names = [n for n in names if n]
    total = names[0]
    for i, name in enumerate(names[1:], start=1):
        total = body.add("Add", [total, name], output if i == len(names) - 1 else None)
    return total if len(names) > 1 or output is None else body.add("Identity", [total], output)


@ONNX.register("Gelu", since=1, domain=MS)
def gelu(node: OnnxNode):
    body = _Body(node)
    body.add("Gelu", [body.input(0)], body.output(0))
    return body.convert()


@ONNX.register("BiasGelu", since=1, domain=MS)
def bias_gelu(node: OnnxNode):
    body = _Body(node)
    body.add("Gelu", [_sum(body, [body.input(0), body.input(1)])], body.output(0))
    return body.convert()


@ONNX.register("FastGelu", since=1, domain=MS)
def fast_gelu(node: OnnxNode):
    """The tanh approximation of GELU, of ``x + bias`` when a bias is given."""
    body = _Body(node)
    body.add("Gelu", [_sum(body, [body.input(0), body.input(1)])], body.output(0), approximate="tanh")
    return body.convert()


@ONNX.register("QuickGelu", since=1, domain=MS)
def quick_gelu(node: OnnxNode):
    """``x * sigmoid(alpha * x)``."""
    body = _Body(node)
    x = body.input(0)
    scaled = body.add("Mul", [x, body.add("CastLike", [body.constant(node.attr("alpha", 1.702)), x])])
    body.add("Mul", [x, body.add("Sigmoid", [scaled])], body.output(0))
    return body.convert()


#: FusedConv activation -> (ONNX op, names of its activation_params)
_ACTIVATIONS = {"Relu": ("Relu", ()), "Tanh": ("Tanh", ()), "Sigmoid": ("Sigmoid", ()),
                "LeakyRelu": ("LeakyRelu", ("alpha",)), "HardSigmoid": ("HardSigmoid", ("alpha", "beta")),
                "Clip": ("Clip", ("min", "max"))}


@ONNX.register("FusedConv", since=1, domain=MS)
def fused_conv(node: OnnxNode):
    """``activation(Conv(X, W, B) + Z)``."""
    body = _Body(node)
    conv_attrs = {a.name: helper.get_attribute_value(a) for a in node.proto.attribute
                  if a.name not in ("activation", "activation_params")}
    y = body.add("Conv", [body.input(0), body.input(1), body.input(2)], **conv_attrs)
    y = _sum(body, [y, body.input(3)])
    activation = node.attr("activation")
    if activation is None:
        body.add("Identity", [y], body.output(0))
        return body.convert()
    if activation not in _ACTIVATIONS:
        raise node.error(f"activation {activation!r} is not supported; supported: {sorted(_ACTIVATIONS)}")
    op, names = _ACTIVATIONS[activation]
    params = [float(p) for p in node.attr("activation_params", [])]
    if op == "Clip":
        bounds = [body.constant(p) for p in params]
        body.add("Clip", [y, *bounds], body.output(0))
    else:
        body.add(op, [y], body.output(0), **dict(zip(names, params)))
    return body.convert()


def _transposed(body: _Body, name: str, rank: int) -> str:
    perm = list(range(rank))
    perm[-2:] = [rank - 1, rank - 2]
    return body.add("Transpose", [name], perm=perm)


@ONNX.register("FusedMatMul", since=1, domain=MS)
def fused_matmul(node: OnnxNode):
    """``alpha * op(A) @ op(B)``, ``op`` transposing the last two axes when transA / transB are set."""
    if int(node.attr("transBatchA", 0)) or int(node.attr("transBatchB", 0)):
        raise node.error("transBatchA / transBatchB are not supported")
    body = _Body(node)
    a, b = body.input(0), body.input(1)
    if int(node.attr("transA", 0)):
        a = _transposed(body, a, node.need_rank(0))
    if int(node.attr("transB", 0)):
        b = _transposed(body, b, node.need_rank(1))
    product = body.add("MatMul", [a, b])
    alpha = float(node.attr("alpha", 1.0))
    if alpha == 1.0:
        body.add("Identity", [product], body.output(0))
    else:
        body.add("Mul", [product, body.add("CastLike", [body.constant(alpha), product])], body.output(0))
    return body.convert()


def _skip_norm(node: OnnxNode, simplified: bool):
    """input + skip (+ bias), then LayerNormalization (or RMSNormalization) over the last axis."""
    body = _Body(node)
    bias = body.input(3 if simplified else 4)
    total = _sum(body, [body.input(0), body.input(1), bias], body.output(3))
    eps = float(node.attr("epsilon", 1e-12))  # onnxruntime's default for both
    if body.output(1) or body.output(2):
        raise node.error("the mean and inv_std_var outputs are not supported")
    if simplified:
        body.add("RMSNormalization", [total, body.input(2)], body.output(0), axis=-1, epsilon=eps)
    else:
        body.add("LayerNormalization", [total, body.input(2), body.input(3)], body.output(0), axis=-1,
                 epsilon=eps)
    return body.convert()


@ONNX.register("SkipLayerNormalization", since=1, domain=MS)
def skip_layer_norm(node: OnnxNode):
    return _skip_norm(node, simplified=False)


@ONNX.register("SkipSimplifiedLayerNormalization", since=1, domain=MS)
def skip_simplified_layer_norm(node: OnnxNode):
    return _skip_norm(node, simplified=True)


@ONNX.register("SimplifiedLayerNormalization", since=1)
def simplified_layer_norm(node: OnnxNode):
    """RMS normalisation (onnxruntime's default-domain contrib operator; the RMSNormalization of opset 23)."""
    body = _Body(node)
    if body.output(1):
        raise node.error("the inv_std_var output is not supported")
    body.add("RMSNormalization", [body.input(0), body.input(1)], body.output(0), axis=int(node.attr("axis", -1)),
             epsilon=float(node.attr("epsilon", 1e-5)))
    return body.convert()


def _integer_product_to_float(body: _Body, a: str, b: str, a_scale: str, b_scale: str, a_zero: str,
                              b_zero: str, bias: str) -> None:
    """``float(MatMulInteger(a, b, a_zero, b_zero)) * (a_scale * b_scale) (+ bias)`` into output 0."""
    product = body.add("MatMulInteger", [a, b, a_zero, b_zero])
    scaled = body.add("Mul", [body.add("Cast", [product], to=onnx.TensorProto.FLOAT),
                              body.add("Mul", [a_scale, b_scale])])
    _sum(body, [scaled, bias], body.output(0))


@ONNX.register("MatMulIntegerToFloat", since=1, domain=MS)
def matmul_integer_to_float(node: OnnxNode):
    body = _Body(node)
    _integer_product_to_float(body, body.input(0), body.input(1), body.input(2), body.input(3), body.input(4),
                              body.input(5), body.input(6))
    return body.convert()


@ONNX.register("DynamicQuantizeMatMul", since=1, domain=MS)
def dynamic_quantize_matmul(node: OnnxNode):
    """A quantised to uint8 as DynamicQuantizeLinear does, then MatMulIntegerToFloat with the int8/uint8 B."""
    body = _Body(node)
    names = [f"{body.prefix}a_{part}" for part in ("q", "scale", "zero")]
    body.nodes.append(helper.make_node("DynamicQuantizeLinear", [body.input(0)], names, name=names[0]))
    _integer_product_to_float(body, names[0], body.input(1), names[1], body.input(2), names[2], body.input(3),
                              body.input(4))
    return body.convert()


def _attend(node: OnnxNode, body: _Body, q: str, k: str, v: str, sizes: list[int], mask: int,
            total_from: int) -> None:
    """Multi-head scaled dot-product attention of (batch, length, size) q, k, v into output 0.

    ``sizes`` are the q/k and v hidden sizes; input ``mask`` (if given) is a raw (batch, total) 0/1 mask or
    (batch,) right-padding lengths, ``total_from`` the input whose axis 1 is the attended length.
    """
    heads = int(node.attr("num_heads"))
    q, k, v = (body.add("Transpose", [body.add("Reshape", [part, body.constant([0, 0, heads, size // heads],
                                                                                 np.int64)])], perm=perm)
               for part, size, perm in zip((q, k, v), sizes, ([0, 2, 1, 3], [0, 2, 3, 1], [0, 2, 1, 3])))
    scale = float(node.attr("scale", 0.0)) or 1.0 / np.sqrt(sizes[0] // heads)
    scores = body.add("Mul", [body.add("MatMul", [q, k]), body.constant(scale)])
    filler = float(node.attr("mask_filter_value", -10000.0))
    if node.given(mask):
        scores = body.add("Add", [scores, _attention_mask(node, body, mask, total_from, filler)])
    if int(node.attr("unidirectional", 0)):
        length = _static_dim(node, 0, 1)
        if _static_dim(node, total_from, 1) != length:
            raise node.error("a causal mask (unidirectional) needs as many queries as keys")
        causal = np.triu(np.full((length, length), filler, np.float32), 1)
        scores = body.add("Add", [scores, body.constant(causal)])
    context = body.add("MatMul", [body.add("Softmax", [scores], axis=-1), v])
    merged = body.add("Transpose", [context], perm=[0, 2, 1, 3])
    body.add("Reshape", [merged, body.constant([0, 0, sizes[2]], np.int64)], body.output(0))


@ONNX.register("Attention", since=1, domain=MS)
def attention(node: OnnxNode):
    """onnxruntime's fused self-attention of BERT-style exports: packed QKV projection, heads, scaled dot
    product with an optional raw (batch, total) 0/1 mask or (batch,) right-padding lengths and an optional
    causal mask (``unidirectional``), softmax, and the heads merged back. Past/present states, relative
    position biases and other mask layouts are refused with a clear error."""
    if any(node.given(i) for i in range(4, len(node.inputs))) or any(node.outputs[1:]):
        raise node.error("past/present states and attention biases are not supported")
    body = _Body(node)
    hidden = _static_dim(node, 2, 0) // 3
    sizes = [int(s) for s in node.attr("qkv_hidden_sizes", [hidden] * 3)]
    qkv = body.add("Add", [body.add("MatMul", [body.input(0), body.input(1)]), body.input(2)])
    parts = [f"{body.prefix}{name}" for name in "qkv"]
    body.nodes.append(helper.make_node("Split", [qkv, body.constant(sizes, np.int64)], parts, axis=-1,
                                       name=parts[0]))
    _attend(node, body, *parts, sizes, mask=3, total_from=0)
    return body.convert()


@ONNX.register("MultiHeadAttention", since=1, domain=MS)
def multi_head_attention(node: OnnxNode):
    """onnxruntime's attention of separate (batch, length, size) query, key and value (optional packed bias,
    key padding mask as raw 0/1 or lengths); packed inputs, past/present states and attention biases are
    refused with a clear error."""
    if not (node.given(1) and node.given(2)) or any(node.given(i) for i in range(5, len(node.inputs))) \
            or any(node.outputs[1:]) or node.rank(1) != 3:
        raise node.error("only separate 3-D query, key and value without past states or attention bias are "
                         "supported")
    body = _Body(node)
    sizes = [_static_dim(node, 0, 2), _static_dim(node, 1, 2), _static_dim(node, 2, 2)]
    q, k, v = body.input(0), body.input(1), body.input(2)
    if node.given(3):
        parts = [f"{body.prefix}bias_{name}" for name in "qkv"]
        body.nodes.append(helper.make_node("Split", [body.input(3), body.constant(sizes, np.int64)], parts,
                                           axis=0, name=parts[0]))
        q, k, v = (body.add("Add", [x, bias]) for x, bias in zip((q, k, v), parts))
    _attend(node, body, q, k, v, [sizes[0], sizes[1], sizes[2]], mask=4, total_from=1)
    return body.convert()


def _static_dim(node: OnnxNode, i: int, axis: int) -> int:
    shape = node.shape(i)
    if shape is None or shape[axis] is None:
        raise node.error(f"needs the static size of axis {axis} of input {i}")
    return int(shape[axis])


def _attention_mask(node: OnnxNode, body: _Body, i: int, total_from: int, filler: float) -> str:
    """The additive (batch, 1, 1, total) mask: ``filler`` where input ``i``, a raw 0/1 mask, is 0, or past
    a sequence's length when it holds lengths."""
    rank = node.rank(i)
    if rank == 1:  # right-padding lengths
        positions = body.constant(np.arange(_static_dim(node, total_from, 1))[None, :], np.int64)
        lengths = body.add("Unsqueeze", [body.add("Cast", [body.input(i)], to=onnx.TensorProto.INT64),
                                         body.constant([1], np.int64)])
        keep = body.add("Cast", [body.add("Less", [positions, lengths])], to=onnx.TensorProto.FLOAT)
    elif rank == 2:  # raw 0/1 mask
        keep = body.add("Cast", [body.input(i)], to=onnx.TensorProto.FLOAT)
    else:
        raise node.error(f"a mask of rank {rank} is not supported (rank 1 lengths or a rank 2 0/1 mask are)")
    blocked = body.add("Mul", [body.add("Sub", [body.constant(1.0), keep]), body.constant(filler)])
    return body.add("Unsqueeze", [blocked, body.constant([1, 2], np.int64)])


@ONNX.register("EmbedLayerNormalization", since=1, domain=MS)
def embed_layer_norm(node: OnnxNode):
    """BERT embeddings: word + position (0.. or position_ids) + segment embeddings, LayerNormalization; the
    mask_index output is each row's count of mask ones (int32; zeros without a mask), the embedding_sum output
    the sum before the normalisation."""
    body = _Body(node)
    if node.given(8):
        positions = body.input(8)
    else:
        positions = body.constant(np.arange(_static_dim(node, 0, 1))[None, :], np.int64)
    parts = [body.add("Gather", [body.input(2), body.input(0)]), body.add("Gather", [body.input(3), positions])]
    if node.given(1) and node.given(4):
        parts.append(body.add("Gather", [body.input(4), body.input(1)]))
    total = _sum(body, parts, body.output(2))
    body.add("LayerNormalization", [total, body.input(5), body.input(6)], body.output(0), axis=-1,
             epsilon=float(node.attr("epsilon", 1e-12)))
    if body.output(1) and node.given(7):
        mask = body.add("Cast", [body.input(7)], to=onnx.TensorProto.INT32)
        body.add("ReduceSum", [mask, body.constant([1], np.int64)], body.output(1), keepdims=0)
    elif body.output(1):  # without a mask, zeros (as onnxruntime)
        body.add("Identity", [body.constant(np.zeros(_static_dim(node, 0, 0)), np.int32)], body.output(1))
    return body.convert()
