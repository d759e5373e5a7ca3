"""Operators defined by an ONNX function: the node is replaced by the function's body, converted node by node.

The onnx package defines many operators as functions of simpler ones (Attention,
RMSNormalization, the Reduce* variants, Mish, ...); runtimes without a dedicated
kernel run the body, and so do we for the operators listed in :data:`EXPANDED`
(operators with a converter of their own are not expanded). The body chosen is
the schema's function for the newest function opset at or below the model's (or
the oldest one of that operator version); context-dependent functions (whose body
depends on the input types) get the input types known at import time. The body's
nodes are converted with the function's own opset, so an old model's node expands
into the ops its version defines.
"""
from __future__ import annotations

from typing import Callable, Sequence

import onnx
from onnx import helper

from ..context import OnnxNode, Sym
from ..reader import value_info
from ..registry import ONNX

#: default-domain operators converted through their function body
EXPANDED = ("Attention", "RMSNormalization", "RotaryEmbedding", "NegativeLogLikelihoodLoss", "SoftmaxCrossEntropyLoss",
            "GroupNormalization", "MeanVarianceNormalization", "Mish", "Swish", "Shrink", "Softsign",
            "ThresholdedRelu", "Celu", "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare",
            "BlackmanWindow", "HammingWindow", "HannWindow", "AffineGrid", "CenterCropPad",
            "SwiGLU", "CausalConvWithState", "LinearAttention")


def _function(node: OnnxNode, schema: onnx.defs.OpSchema) -> onnx.FunctionProto:
    """The function body of ``schema`` for the model's opset (context-dependent ones for the input types)."""
    opset = node.ctx.opset
    plain = sorted(schema.function_opset_versions)
    dependent = sorted(schema.context_dependent_function_opset_versions)
    candidates = [(v, False) for v in plain] + [(v, True) for v in dependent]
    fitting = [c for c in candidates if c[0] <= opset] or sorted(candidates)[:1]
    version, context_dependent = max(fitting)
    proto = onnx.FunctionProto()
    if context_dependent:
        types = [_input_type(node, i).SerializeToString() for i in range(len(node.inputs))]
        proto.ParseFromString(schema.get_context_dependent_function_with_opset_version(
            version, node.proto.SerializeToString(), types))
    else:
        proto.ParseFromString(schema.get_function_with_opset_version(version))
    return proto


def _input_type(node: OnnxNode, i: int) -> onnx.TypeProto:
    value = node.value(i)
    dtype = value.dtype if isinstance(value, Sym) else (None if value is None else value.dtype)
    if dtype is None:
        return onnx.TypeProto()
    shape = node.shape(i) if value is not None else None
    return helper.make_tensor_type_proto(helper.np_dtype_to_tensor_dtype(dtype), shape)


def _bind_node(inner: onnx.NodeProto, rename: Callable[[str], str],
               attrs: dict[str, onnx.AttributeProto]) -> onnx.NodeProto:
    """A copy of a body node with its names renamed and its attribute references bound (subgraphs too)."""
    copy = onnx.NodeProto()
    copy.CopyFrom(inner)
    copy.name = rename(inner.name or inner.output[0])
    del copy.input[:], copy.output[:], copy.attribute[:]
    copy.input.extend(rename(n) for n in inner.input)
    copy.output.extend(rename(n) for n in inner.output)
    for attr in inner.attribute:
        if attr.ref_attr_name:
            if attr.ref_attr_name not in attrs:
                continue  # an optional attribute the call leaves out
            bound = onnx.AttributeProto()
            bound.CopyFrom(attrs[attr.ref_attr_name])
            bound.name = attr.name
            copy.attribute.append(bound)
            continue
        bound = copy.attribute.add()
        bound.CopyFrom(attr)
        for graph in ([bound.g] if bound.HasField("g") else []) + list(bound.graphs):
            nodes = [_bind_node(n, rename, attrs) for n in graph.node]
            del graph.node[:]
            graph.node.extend(nodes)
            for value in [*graph.input, *graph.output, *graph.initializer]:
                value.name = rename(value.name)
    return copy


def _body(node: OnnxNode, schema: onnx.defs.OpSchema, function: onnx.FunctionProto) -> list[onnx.NodeProto]:
    """The function's nodes with the call's inputs, outputs and attributes substituted, internal names made unique."""
    attrs = {a.name: a for a in node.proto.attribute}
    for name, spec in schema.attributes.items():
        if name not in attrs and spec.default_value.name:
            attrs[name] = spec.default_value
    # formal inputs the call leaves out (trailing ones too) are empty names, as ONNX's optional inputs
    names = {formal: node.inputs[i] if i < len(node.inputs) else "" for i, formal in enumerate(function.input)}
    names.update({formal: actual for formal, actual in zip(function.output, node.outputs) if actual})
    prefix = node.ctx.unique(f"{node.name}/{node.op_type}") + "/"

    def rename(name: str) -> str:
        return name if not name else names.get(name, prefix + name)

    return [_bind_node(inner, rename, attrs) for inner in function.node]


def _infer_types(node: OnnxNode, graph: onnx.GraphProto, opset_import: Sequence[onnx.OperatorSetIdProto]) -> None:
    """Record the shapes and dtypes ONNX inference gives the body's values (converters ask for dtypes)."""
    inputs = [helper.make_value_info(name, _input_type(node, i)) for i, name in enumerate(node.inputs) if name]
    typed = helper.make_graph(graph.node, graph.name, inputs, graph.output)
    model = helper.make_model(typed, opset_imports=opset_import)
    try:
        inferred = onnx.shape_inference.infer_shapes(model, strict_mode=False, data_prop=True)
    except Exception:  # inference is a help only; a converter that lacks a dtype says so
        return
    for info in inferred.graph.value_info:
        node.ctx.inferred[info.name] = value_info(info)


def convert_body(node: OnnxNode, body: list[onnx.NodeProto], opset_import: Sequence[onnx.OperatorSetIdProto]):
    """Convert ``body`` (nodes reading ``node``'s inputs and writing its outputs) in ``opset_import``'s versions.

    Returns the values of ``node``'s outputs (None for outputs it does not name).
    """
    ctx = node.ctx
    outputs = [helper.make_empty_tensor_value_info(name) for name in node.outputs if name]
    graph = helper.make_graph(body, f"{node.name}/{node.op_type}", [], outputs)
    _infer_types(node, graph, opset_import)
    saved = ctx.opset, dict(ctx.domains)
    for opset in opset_import:
        ctx.domains["" if opset.domain == "ai.onnx" else opset.domain] = opset.version
    ctx.opset = ctx.domains.get("", ctx.opset)
    try:
        values = ctx.convert_graph(graph, ctx)
    finally:
        ctx.opset, ctx.domains = saved
    by_name = dict(zip([n for n in node.outputs if n], values))
    return [by_name.get(name) for name in node.outputs]


def expand(node: OnnxNode):
    """Convert ``node`` as its function body; returns the values of its outputs."""
    schema = onnx.defs.get_schema(node.op_type, node.ctx.opset, node.domain)
    function = _function(node, schema)
    return convert_body(node, _body(node, schema, function), function.opset_import)


def _register() -> None:
    for op in EXPANDED:
        since = sorted({s.since_version for s in onnx.defs.get_all_schemas_with_history()
                        if s.name == op and s.domain == "" and (s.has_function or s.has_context_dependent_function)})
        for version in since:
            ONNX.register(op, since=version)(expand)


_register()
