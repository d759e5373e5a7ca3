"""Run one ONNX node with the onnx package's reference evaluator (an independent forward reference)."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import onnx
from onnx import helper
from onnx.reference import ReferenceEvaluator


def one_node_model(op_type: str, inputs: Sequence[np.ndarray | None], n_outputs: int = 1,
                   opset: int = 18, domain: str = "", **attrs: Any) -> tuple[onnx.ModelProto, dict]:
    """A model holding one ``op_type`` node, and the feeds for its inputs (``None`` = omitted)."""
    in_names, feeds, value_infos = [], {}, []
    for i, x in enumerate(inputs):
        if x is None:
            in_names.append("")
            continue
        name = f"in{i}"
        x = np.asarray(x)
        in_names.append(name)
        feeds[name] = x
        value_infos.append(helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(x.dtype), list(x.shape)))
    out_names = [f"out{i}" for i in range(n_outputs)]
    node = helper.make_node(op_type, in_names, out_names, domain=domain, **attrs)
    outputs = [helper.make_empty_tensor_value_info(n) for n in out_names]
    graph = helper.make_graph([node], "one_node", value_infos, outputs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid(domain, opset)])
    return model, feeds


def run_node(op_type: str, inputs: Sequence[np.ndarray | None], n_outputs: int = 1,
             opset: int = 18, domain: str = "", **attrs: Any) -> list[np.ndarray]:
    """Evaluate ``op_type`` on ``inputs`` with the onnx reference evaluator and return its outputs."""
    model, feeds = one_node_model(op_type, inputs, n_outputs, opset, domain, **attrs)
    return list(ReferenceEvaluator(model).run(None, feeds))


def run_node_ort(op_type: str, inputs: Sequence[np.ndarray | None], n_outputs: int = 1,
                 opset: int = 18, domain: str = "", **attrs: Any) -> list[np.ndarray]:
    """The same one-node model run by onnxruntime (skips the test when it is not installed).

    Used where the reference evaluator is known to be wrong (onnx 1.23 MaxPool with
    uneven padding or ceil mode, AveragePool ceil-mode padding).
    """
    import pytest

    ort = pytest.importorskip("onnxruntime")
    model, feeds = one_node_model(op_type, inputs, n_outputs, opset, domain, **attrs)
    model.ir_version = min(model.ir_version, 9)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return list(session.run(None, feeds))
