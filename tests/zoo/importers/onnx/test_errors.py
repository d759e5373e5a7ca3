"""Bad input: each gives a clear error naming what is at fault, before any large allocation."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from zoo.importers.onnx import OnnxImportError, UnsupportedOperatorError, load_onnx


def _model(nodes, inputs, outputs, initializers=(), opset: int = 17) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(initializers))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def _relu_model() -> onnx.ModelProto:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    w = numpy_helper.from_array(np.arange(16, dtype=np.float32).reshape(4, 4), "w")
    return _model([helper.make_node("MatMul", ["x", "w"], ["h"], name="mm"),
                   helper.make_node("Relu", ["h"], ["y"], name="act")], [x], [y], [w])


def test_truncated_file_is_refused(tmp_path: Path) -> None:
    data = _relu_model().SerializeToString()
    path = tmp_path / "cut.onnx"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(OnnxImportError, match="cut.onnx.*(not a valid ONNX model|not an ONNX model)"):
        load_onnx(str(path))


def test_other_formats_and_missing_files_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "image.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(200)))
    with pytest.raises(OnnxImportError, match="image.png"):
        load_onnx(path)
    with pytest.raises(OnnxImportError, match="not an ONNX model"):
        load_onnx(b"")
    with pytest.raises(OnnxImportError, match="does not exist"):
        load_onnx(tmp_path / "nope.onnx")


def test_unsupported_operator_names_op_domain_version_node_and_supported_list() -> None:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    model = _model([helper.make_node("TfIdfVectorizer", ["x"], ["y"], name="hm")], [x], [y])
    with pytest.raises(UnsupportedOperatorError) as err:
        load_onnx(model)
    text = str(err.value)
    for part in ("ai.onnx::TfIdfVectorizer", "version 17", "'hm'", "Supported:", "Conv", "LSTM"):
        assert part in text
    custom = _model([helper.make_node("MatMulNBits", ["x"], ["y"], name="fc", domain="com.microsoft")], [x], [y])
    custom.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    with pytest.raises(UnsupportedOperatorError, match="com.microsoft::MatMulNBits version 1 \\(node 'fc'\\)"):
        load_onnx(custom)


def test_missing_initializer_names_the_node_and_input() -> None:
    model = _relu_model()
    del model.graph.initializer[:]
    with pytest.raises(OnnxImportError, match="node 'mm'.*'w'.*missing initializer"):
        load_onnx(model)


def _external_model(location: str) -> onnx.ModelProto:
    model = _relu_model()
    w = model.graph.initializer[0]
    w.ClearField("raw_data")
    w.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", "0"), ("length", "64")):
        w.external_data.add(key=key, value=value)
    return model


def test_external_data_is_read_from_the_model_folder_only(tmp_path: Path) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    weights = np.arange(16, dtype=np.float32).reshape(4, 4)
    (folder / "weights.bin").write_bytes(weights.tobytes())
    (tmp_path / "secret.bin").write_bytes(weights.tobytes())
    good = folder / "good.onnx"
    good.write_bytes(_external_model("weights.bin").SerializeToString())
    x = np.ones((1, 4), np.float32)
    np.testing.assert_allclose(load_onnx(good)(x), np.maximum(x @ weights, 0))
    for location, message in (("../secret.bin", "leaves the model's folder"),
                              (str(tmp_path / "secret.bin"), "must be a path relative"),
                              ("missing.bin", "does not exist")):
        bad = folder / "bad.onnx"
        bad.write_bytes(_external_model(location).SerializeToString())
        with pytest.raises(OnnxImportError, match=message):
            load_onnx(bad)
    with pytest.raises(OnnxImportError, match="load the model from its path"):
        load_onnx(_external_model("weights.bin").SerializeToString())


def test_absurd_shapes_are_refused_before_allocating() -> None:
    huge = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[1 << 20, 1 << 20])
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    model = _model([helper.make_node("Add", ["x", "w"], ["y"])], [x], [y], [huge])
    with pytest.raises(OnnxImportError, match="initializer 'w'.*4096.0 GiB"):
        load_onnx(model)
    shape = numpy_helper.from_array(np.array([1 << 30, 1 << 30], np.int64), "s")
    fill = helper.make_node("ConstantOfShape", ["s"], ["c"], name="fill")
    model = _model([fill, helper.make_node("Add", ["x", "c"], ["y"])], [x], [y], [shape])
    with pytest.raises(OnnxImportError, match="node 'fill'.*over the limit"):
        load_onnx(model)


def test_old_opsets_and_non_constant_weights_are_explained() -> None:
    with pytest.raises(OnnxImportError, match="opset 6 is not supported; opsets 7 to"):
        load_onnx(_model(list(_relu_model().graph.node), list(_relu_model().graph.input),
                         list(_relu_model().graph.output), list(_relu_model().graph.initializer), opset=6))
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 5, 5])
    w = helper.make_tensor_value_info("w", TensorProto.FLOAT, [3, 2, 3, 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    model = _model([helper.make_node("Conv", ["x", "w"], ["y"], name="conv")], [x, w], [y])
    expected = r"node 'conv' \(Conv\): input 1 \(W \(the weights\), 'w'\) must be a constant"
    with pytest.raises(OnnxImportError, match=expected):
        load_onnx(model)
