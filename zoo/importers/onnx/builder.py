"""ONNX ModelProto -> our Graph: inputs, initializers, node by node through the converters, outputs."""
from __future__ import annotations

import os
from typing import Any

import numpy as np
import onnx
import onnx.inliner

from bigdl_runtime.nn import Graph, Input
from bigdl_runtime.nn.fuse import fuse_for_inference

from .context import Context, OnnxNode, Sym
from .reader import DEFAULT_MAX_TENSOR_BYTES, OnnxImportError, read_model, tensor_to_array, value_info
from .registry import ONNX, load_converters

#: the oldest default-domain opset we import
MIN_OPSET = 7
#: name of the placeholder input of a graph that has no run-time input (all outputs constant)
NO_INPUT = "__no_input__"


def load_onnx(source: "str | os.PathLike | bytes | onnx.ModelProto", *,
              max_tensor_bytes: int = DEFAULT_MAX_TENSOR_BYTES, fuse: bool = True) -> Graph:
    """Import an ONNX model as one of our :class:`~bigdl_runtime.nn.Graph` modules.

    The graph's inputs and outputs follow the ONNX graph's order and names; each
    node becomes a layer named after the ONNX node; initializers become the
    layers' (trainable) parameters, so the result can be fine-tuned and saved with
    ``model.save``; everything computable from constants alone (Shape of a static
    shape, Constant, Cast, Range, If with a constant condition, ...) is evaluated at
    import time.

    By default the graph is then made ready for fast inference by
    :func:`~bigdl_runtime.nn.fuse.fuse_for_inference`: exported elementwise patterns become
    single layers (a bias ``Add`` folds into its convolution, ``x * ReLU6(x + 3) / 6`` is a
    ``Hardswish``, ``x + c`` a ``Power``), batch norms fold into the convolutions before them,
    and the runs of convolutions, poolings, activations and per-channel gates run as oneDNN
    plans with their activations in blocked layouts (:class:`~bigdl_runtime.nn.blocked_segment.BlockedSegment`).
    Fused nodes keep the names of the ONNX nodes whose values they compute (the graph's inputs
    and outputs keep theirs); ``fuse=False`` keeps one layer per ONNX node, with the batch
    norms' statistics, which is what to fine-tune.

    Args:
        source: a file path, the file's bytes, or an ``onnx.ModelProto``.
        max_tensor_bytes: refuse any tensor (initializer or folded constant) larger
            than this, before allocating it. Default: 4 GiB.
        fuse: fuse the graph for inference (see above). Default: True.

    Returns:
        The Graph in evaluation mode (BatchNorm uses the stored statistics and leaves them
        alone); call it on numpy arrays, one per graph input. Call ``train()`` to fine-tune
        (import with ``fuse=False`` to fine-tune the batch norms too).

    Raises:
        OnnxImportError: an unreadable file, an unsupported opset, a missing initializer, an
            external data path outside the model's folder, a tensor over the size limit, or a
            node that cannot be converted (the message names it).
        UnsupportedOperatorError: a node whose operator has no converter (the message lists the
            supported ones).

    Examples:
        >>> model = load_onnx("resnet18.onnx")
        >>> logits = model(images.astype(np.float32))
        >>> model.save("resnet18.bigdl")
    """
    load_converters()
    model, base_dir, label = read_model(source)
    opset = model_opset(model, label)
    if model.functions:  # model-local functions (as some exporters emit): inline their bodies
        model = onnx.inliner.inline_local_functions(model)
    graph = model.graph
    init_names = {t.name for t in graph.initializer}
    runtime = [vi for vi in graph.input if vi.name not in init_names]
    in_nodes = [Input(vi.name) for vi in runtime] or [Input(NO_INPUT)]
    ctx = Context(opset, base_dir, max_tensor_bytes, in_nodes[0], convert_graph)
    ctx.domains = {("" if o.domain == "ai.onnx" else o.domain): o.version for o in model.opset_import}
    ctx.inferred = _inferred_shapes(model)
    for vi, node in zip(runtime, in_nodes):
        shape, dtype = value_info(vi)
        ctx.values[vi.name] = Sym(node, shape, dtype)
        ctx.input_specs[vi.name] = (shape, dtype)
        ctx.unique(vi.name)
    # a probe's shapes are exact only when every input's shape is static and no input is an integer or boolean
    # tensor (whose values, the probe's zeros, may set shapes: sizes, lengths, a sample rate)
    ctx.static_inputs = all(s is not None and None not in s and (d is None or d.kind == "f")
                            for s, d in ctx.input_specs.values())
    outputs = convert_graph(graph, ctx)
    ctx.release_probes()
    out_nodes = [ctx.node_of(v, f"{vi.name}/value") for v, vi in zip(outputs, graph.output)]
    try:
        net = Graph(in_nodes, out_nodes, name=graph.name or None)
    except ValueError as err:
        raise OnnxImportError(f"{label}: {err}") from None
    net.evaluate()  # ready for inference: stored BatchNorm statistics, no dropout
    return fuse_for_inference(net) if fuse else net


def model_opset(model: onnx.ModelProto, label: str) -> int:
    """The default-domain opset of ``model``, checked against what we import."""
    versions = [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")]
    if not versions:
        raise OnnxImportError(f"{label}: the model imports no default-domain (ai.onnx) opset")
    opset = int(versions[0])
    newest = onnx.defs.onnx_opset_version()
    if not MIN_OPSET <= opset <= newest:
        raise OnnxImportError(f"{label}: opset {opset} is not supported; opsets {MIN_OPSET} to {newest} are "
                              "(convert older models with onnx.version_converter)")
    return opset


def convert_graph(graph: onnx.GraphProto, ctx: Context) -> list[Any]:
    """Convert the nodes of ``graph`` (the main graph or a branch of a folded If) in ``ctx``.

    Returns the values of the graph's outputs.
    """
    for t in graph.initializer:
        array = tensor_to_array(t, ctx.base_dir, ctx.max_tensor_bytes, f"initializer {t.name!r}")
        ctx.values[t.name] = array
        if np.issubdtype(array.dtype, np.floating):
            ctx.weight_ids.add(id(array))
    if graph.sparse_initializer:
        raise OnnxImportError(f"graph {graph.name!r}: sparse initializers are not supported")
    for proto in graph.node:
        node = OnnxNode(proto, ctx)
        version = ctx.domains.get(node.domain, 1 if node.domain else ctx.opset)
        converter = ONNX.lookup(node.op_type, node.domain, version, node=node.name)
        out = converter(node)
        outs = list(out) if isinstance(out, (list, tuple)) else [out]
        named = [n for n in node.outputs if n]
        if len(outs) < len(named):
            raise node.error(f"produces {len(outs)} outputs, the node names {len(node.outputs)}")
        for name, value in zip(node.outputs, outs):
            if not name:
                continue
            if isinstance(value, Sym):
                shape, dtype = ctx.inferred.get(name, (None, None))
                value.shape = shape if value.shape is None else value.shape
                value.dtype = dtype if value.dtype is None else value.dtype
            ctx.values[name] = value
    return [ctx.lookup(vi.name) for vi in graph.output]


def _inferred_shapes(model: onnx.ModelProto) -> dict[str, tuple]:
    """(shape, dtype) by value name from ONNX shape inference (best effort: empty if inference fails).

    Inference runs on a copy without the data of large initializers (they become typed graph
    inputs), so a model with hundreds of megabytes of weights is not serialised for it.
    """
    try:
        inferred = onnx.shape_inference.infer_shapes(_without_large_tensors(model), strict_mode=False)
    except Exception:  # inference is an optional help; converters ask for what they need
        return {}
    table = {}
    for vi in [*inferred.graph.value_info, *inferred.graph.output]:
        table[vi.name] = value_info(vi)
    return table


def _without_large_tensors(model: onnx.ModelProto, limit: int = 1 << 16) -> onnx.ModelProto:
    """A copy for shape inference: large initializers as typed inputs, negative dims made symbolic."""
    light = onnx.ModelProto(ir_version=max(model.ir_version, 4), opset_import=model.opset_import)
    graph = light.graph
    graph.name = model.graph.name
    graph.node.extend(model.graph.node)
    graph.input.extend(model.graph.input)
    graph.output.extend(model.graph.output)
    for k, dim in enumerate(d for vi in [*graph.input, *graph.output] for d in vi.type.tensor_type.shape.dim):
        if dim.HasField("dim_value") and dim.dim_value < 0:  # -1 for "dynamic": symbolic, so inference goes on
            dim.dim_param = f"__unknown_{k}"
    declared = {vi.name for vi in model.graph.input}
    for t in model.graph.initializer:
        if len(t.raw_data) + 4 * len(t.float_data) <= limit:
            graph.initializer.append(t)
        elif t.name not in declared:
            graph.input.append(onnx.helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)))
    return light
