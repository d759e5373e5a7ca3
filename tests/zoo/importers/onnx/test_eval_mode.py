"""load_onnx returns a model ready for inference, even when no probe reached its BatchNorm layers."""
from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from bigdl_runtime.nn import BatchNorm2d
from zoo.importers.onnx import load_onnx


def _conv_bn_model(input_shape: list, rng: np.random.Generator) -> onnx.ModelProto:
    """Conv -> BatchNormalization (stored statistics far from the batch's) -> Relu."""
    inits = [numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), "W"),
             numpy_helper.from_array(rng.uniform(0.5, 2, 4).astype(np.float32), "scale"),
             numpy_helper.from_array(rng.standard_normal(4).astype(np.float32), "B"),
             numpy_helper.from_array(np.full(4, 3.0, np.float32), "mean"),
             numpy_helper.from_array(np.full(4, 7.0, np.float32), "var")]
    nodes = [helper.make_node("Conv", ["x", "W"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("BatchNormalization", ["c", "scale", "B", "mean", "var"], ["n"]),
             helper.make_node("Relu", ["n"], ["y"])]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, input_shape)
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    graph = helper.make_graph(nodes, "conv_bn", [x], [y], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


@pytest.mark.parametrize("input_shape", [[-1, 3, -1, -1], ["N", 3, "H", "W"], None, [2, 3, 5, 5]],
                         ids=["dim_value-1", "symbolic", "no-shape", "static"])
def test_imported_model_is_in_evaluation_mode(input_shape, rng: np.random.Generator) -> None:
    model = _conv_bn_model(input_shape, rng)
    net = load_onnx(model, fuse=False)  # one layer per node: the batch norm is there to check
    assert not any(m.training for m in net.modules()), "every layer must be in evaluation mode"
    bns = [m for m in net.modules() if isinstance(m, BatchNorm2d)]
    assert len(bns) == 1
    before = bns[0].running_mean.copy(), bns[0].running_var.copy()
    x = rng.standard_normal((2, 3, 5, 5)).astype(np.float32)
    y1, y2 = net(x), net(x)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    expected = session.run(None, {"x": x})[0]
    np.testing.assert_allclose(y1, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(y1, y2)
    np.testing.assert_array_equal(bns[0].running_mean, before[0])
    np.testing.assert_array_equal(bns[0].running_var, before[1])
