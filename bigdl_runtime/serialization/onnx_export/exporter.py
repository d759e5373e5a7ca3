"""Export a model built from our layers as an ONNX file.

The model is traced once in evaluation mode on a sample batch (2 rows of zeros
or small random values): every layer runs its own forward, which gives the
static shapes the emitters need, and its emitter writes the equivalent ONNX
nodes. The first axis of every input stays symbolic (``batch``), so the file
accepts any batch size; weights become initializers named as in
``state_dict()`` (``conv1.weight``), nodes carry the layer paths.
"""
from __future__ import annotations

import os
from typing import Any, Sequence

import numpy as np
import onnx
from onnx import helper

from ...nn.graph import Graph
from ...nn.layers.embedding import Embedding
from ...nn.module import Module
from ...nn.sequential import Sequential
from . import emitters  # noqa: F401  (registers every emitter)
from .context import ExportContext, Value
from .dispatch import emit_module

#: default opset of the default domain
OPSET = 18
#: IR version written (the oldest that carries opset 18, readable by older runtimes)
IR_VERSION = 8
_SAMPLE_BATCH = 2
_ONNX_TYPES = {np.dtype(np.float32): onnx.TensorProto.FLOAT, np.dtype(np.int64): onnx.TensorProto.INT64}
#: element types of graph outputs (comparisons give booleans)
_OUTPUT_TYPES = {**_ONNX_TYPES, np.dtype(np.bool_): onnx.TensorProto.BOOL}

Shape = Sequence[int]


def to_onnx_model(model: Module, input_shape: Shape | Sequence[Shape], input_dtype: Any = None,
                  opset: int = OPSET, check: bool = True) -> onnx.ModelProto:
    """The ONNX model of ``model`` (evaluation-mode behaviour), with a dynamic first axis.

    Args:
        model: a Sequential, a Graph or a single layer made of exportable layers.
        input_shape: the shape of one sample (without the batch axis), or a list
            of them for a multi-input graph, e.g. ``(1, 28, 28)``.
        input_dtype: numpy dtype of the input(s) (one, or one per input); default
            int64 for an input read by an ``Embedding`` and float32 otherwise.
        opset: default-domain opset (18 is what the emitters are written for).
        check: run ``onnx.checker.check_model(full_check=True)`` on the result.

    Returns:
        the ``onnx.ModelProto``.

    Raises:
        UnexportableLayerError: a layer has no ONNX equivalent (names the layer and its type).
    """
    shapes = _shapes(input_shape)
    names = model.input_names if isinstance(model, Graph) else (
        ["input"] if len(shapes) == 1 else [f"input_{i + 1}" for i in range(len(shapes))])
    if len(names) != len(shapes):
        raise ValueError(f"ONNX export: {model.describe()} takes {len(names)} input(s) {names}, "
                         f"got {len(shapes)} input shape(s)")
    dtypes = _dtypes(model, input_dtype, len(shapes))
    ctx = ExportContext(opset)
    rng = np.random.default_rng(0)
    inputs = []
    for name, shape, dtype in zip(names, shapes, dtypes):
        ctx.reserve(name)
        full = (_SAMPLE_BATCH, *shape)
        sample = np.zeros(full, dtype) if dtype.kind in "iu" else rng.uniform(-1, 1, full).astype(dtype)
        inputs.append(Value(name, sample))
    flags = {id(m): m.training for m in model.modules()}
    model.evaluate()
    try:
        root = "" if isinstance(model, (Sequential, Graph)) else (model.name or type(model).__name__.lower())
        result = emit_module(ctx, model, inputs, root)
    finally:
        for m in model.modules():
            object.__setattr__(m, "training", flags[id(m)])
    outputs = _outputs(ctx, model, result if isinstance(result, list) else [result])
    graph = helper.make_graph(ctx.nodes, model.name or type(model).__name__.lower(),
                              [_info(v.name, v.sample) for v in inputs], outputs, ctx.initializers)
    proto = helper.make_model(graph, producer_name="bigdl_runtime", opset_imports=[helper.make_opsetid("", opset)])
    proto.ir_version = IR_VERSION
    if check:
        onnx.checker.check_model(proto, full_check=True)
    return proto


def export_onnx(model: Module, path: str | os.PathLike, input_shape: Shape | Sequence[Shape],
                input_dtype: Any = None, opset: int = OPSET) -> onnx.ModelProto:
    """Write ``model`` as an ONNX file at ``path`` (see :func:`to_onnx_model`); returns the ModelProto.

    Examples:
        >>> export_onnx(lenet5(), "lenet.onnx", (1, 28, 28))
        >>> import onnxruntime as ort
        >>> ort.InferenceSession("lenet.onnx").run(None, {"input": images})[0].shape
        (64, 10)
    """
    proto = to_onnx_model(model, input_shape, input_dtype, opset)
    tmp = f"{os.fspath(path)}.tmp"
    with open(tmp, "wb") as f:
        f.write(proto.SerializeToString())
    os.replace(tmp, path)
    return proto


def _shapes(input_shape: Shape | Sequence[Shape]) -> list[tuple[int, ...]]:
    items = list(input_shape)
    if items and all(isinstance(s, (int, np.integer)) for s in items):
        return [tuple(int(s) for s in items)]
    if not items or not all(isinstance(s, (list, tuple)) for s in items):
        raise ValueError(f"ONNX export: input_shape must be one sample shape (ints, no batch axis) or a list of "
                         f"them, got {input_shape!r}")
    return [tuple(int(d) for d in s) for s in items]


def _dtypes(model: Module, input_dtype: Any, n: int) -> list[np.dtype]:
    if input_dtype is None:
        return [np.dtype(np.int64) if _reads_indices(model, k) else np.dtype(np.float32) for k in range(n)]
    given = list(input_dtype) if isinstance(input_dtype, (list, tuple)) else [input_dtype] * n
    found = [np.dtype(d) for d in given]
    for d in found:
        if d not in _ONNX_TYPES:
            raise ValueError(f"ONNX export: input dtype must be float32 or int64, got {d}")
    return found


def _reads_indices(model: Module, k: int) -> bool:
    """Whether input ``k`` of ``model`` goes straight into an Embedding (so it holds int64 indices)."""
    if isinstance(model, Embedding):
        return True
    if isinstance(model, Sequential):
        return len(model) > 0 and _reads_indices(model[0], k)
    if isinstance(model, Graph):
        source = model.nodes[k]
        return any(src is source and _reads_indices(node.module, j)
                   for node in model.nodes[len(model.input_names):]
                   for j, (src, _) in enumerate(node.inputs))
    return False


def _outputs(ctx: ExportContext, model: Module, results: list[Value]) -> list[onnx.ValueInfoProto]:
    """Graph outputs: a Sequential's is ``output``; a Graph's keep their node names."""
    if isinstance(model, Graph):
        wanted = [n.replace("[", "_").rstrip("]") for n in model.output_names]
    else:
        wanted = ["output"] if len(results) == 1 else [f"output_{i + 1}" for i in range(len(results))]
    infos, used = [], set()
    for value, name in zip(results, wanted):
        if value.name != name or value.name in used or value.name in {i.name for i in ctx.initializers}:
            value = Value(ctx.one("Identity", [value.name], name), value.sample)
        used.add(value.name)
        infos.append(_info(value.name, value.sample))
    return infos


def _info(name: str, sample: np.ndarray) -> onnx.ValueInfoProto:
    sample = np.asarray(sample)
    elem = _OUTPUT_TYPES.get(sample.dtype, onnx.TensorProto.FLOAT)
    return helper.make_tensor_value_info(name, elem, ["batch", *sample.shape[1:]])
